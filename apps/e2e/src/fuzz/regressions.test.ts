// Shrunk counterexamples of the uAPI fuzzer, replayed as fixed command lists (no
// randomness): each names what it caught and whose bug it was.
import { describe, it } from 'vitest';
import { GemClose } from './commands-core.js';
import { PtBoCreate, PtGroupCreate, PtVmBind } from './commands-panthor.js';
import { XeBoCreate, XeVmBind } from './commands-xe.js';
import { runSequence } from './run.js';
import { PANTHOR, XE } from './world.js';

describe('uAPI fuzz regressions', () => {
  // Model bug (first run of the fuzzer): panthor's device grants CAP_SYS_NICE unless told
  // otherwise, so HIGH priority was accepted and the VM lookup failed (EINVAL). The world
  // now makes an unprivileged panthor device, and the permission check comes before the
  // VM lookup, as in panthor_group_create().
  it('panthor GROUP_CREATE at HIGH priority without CAP_SYS_NICE is EACCES, even naming no VM', async () => {
    await runSequence([new PtGroupCreate(0, 0, 'priority')], { bootstrap: false });
  });

  // Real bug (@dep/dma-resv DrmExec): drm_exec holds a reference on every object it locks;
  // the model's did not, so unmapping the last mapping of a BO whose handle was closed
  // put its last reference inside the bind's drm_exec and freed it with its resv still
  // locked ("dma_resv_fini: the resv is still locked" WARN). Fixed in DrmExec (get on
  // lock, put after unlock); found by the fuzzer on panthor (seed -836292722).
  it('panthor VM_BIND UNMAP of the last mapping of a BO whose handle is closed frees it after the exec unlocks', async () => {
    await runSequence([
      new PtBoCreate(0, 1, 'plain', 0),
      new PtBoCreate(0, 1, 'plain', 0),
      new PtVmBind(0, 0, true, 3, 2, 'ok'),
      new GemClose({ d: PANTHOR, f: 0 }, 2, false),
      new PtVmBind(0, 0, false, 3, 0, 'ok'),
    ]);
  });

  // The same sequence on xe (its VM_BIND locks external objects with drm_exec too).
  it('xe VM_BIND UNMAP of the last mapping of a BO whose handle is closed frees it after the exec unlocks', async () => {
    await runSequence([
      new XeBoCreate(0, 1, 'plain', 0),
      new XeBoCreate(0, 1, 'plain', 0),
      new XeVmBind(0, 0, true, 3, 2, 'ok'),
      new GemClose({ d: XE, f: 0 }, 2, false),
      new XeVmBind(0, 0, false, 3, 0, 'ok'),
    ]);
  });
});
