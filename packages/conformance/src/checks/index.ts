/** Every check of the kit, in the order a run reports them. */
import type { ConformanceCheck } from '../check.js';
import { crossClient } from './cross-client.js';
import { errorsPropagate } from './errors-propagate.js';
import { faultInjection } from './fault-injection.js';
import { fencesSignal } from './fences-signal.js';
import { ioctlMutations } from './ioctl-mutations.js';
import { killUnderLoad } from './kill-under-load.js';
import { noLeaks } from './no-leaks.js';
import { noLockdep } from './no-lockdep.js';
import { perQueueOrder } from './per-queue-order.js';
import { teardownUnderLoad } from './teardown-under-load.js';

export const CHECKS: readonly ConformanceCheck[] = [
  fencesSignal,
  errorsPropagate,
  perQueueOrder,
  noLeaks,
  noLockdep,
  killUnderLoad,
  teardownUnderLoad,
  faultInjection,
  ioctlMutations,
  crossClient,
];
