import { DepError } from '@dep/kernel';
import { asFence, type Fence } from './fence.js';
import { F_INACTIVE } from './flags.js';
import { fenceLabel } from './locking.js';

/**
 * The check every container (array, chain, sync_file, syncobj, dma-resv) runs on a fence
 * it is given, as Boris Brezillon's INACTIVE proposal has it (rfc-designs E.2): an
 * INACTIVE fence (armed, not yet pushed) must not be published, so it is rejected with
 * `DepError` EINVAL, naming `who`. Also rejects anything that is not a fence. Changes
 * nothing.
 */
export function assertActive(fence: Fence, who: string): void {
  const f = asFence(fence, who);
  if ((f._flags & F_INACTIVE) !== 0) {
    throw new DepError('EINVAL', `${who}: fence ${fenceLabel(f)} is INACTIVE (armed, not pushed); a container may only hold pushed fences: push the job (setActive) before publishing its fence`);
  }
}

/** True unless the fence is INACTIVE. */
export function isActive(fence: Fence): boolean {
  return (asFence(fence, 'isActive')._flags & F_INACTIVE) === 0;
}
