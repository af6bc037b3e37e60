// Shrunk counterexamples of the uAPI fuzzer, replayed as fixed command lists (no
// randomness): each names what it caught and whose bug it was.
import { describe, expect, it } from 'vitest';
import type { Cmd } from './harness.js';
import { GemClose, TimelineSignal } from './commands-core.js';
import { AxExecCmd } from './commands-amdxdna.js';
import { PtBoCreate, PtGroupCreate, PtVmBind } from './commands-panthor.js';
import { XeBoCreate, XeVmBind } from './commands-xe.js';
import { runSequence } from './run.js';
import { AMDXDNA, PANTHOR, XE } from './world.js';

describe('uAPI fuzz regressions', () => {
  // Model bug (first run of the fuzzer): panthor's device grants CAP_SYS_NICE unless told
  // otherwise, so HIGH priority was accepted and the VM lookup failed (EINVAL). The world
  // now makes an unprivileged panthor device, and the permission check comes before the
  // VM lookup, as in panthor_group_create().
  it('panthor GROUP_CREATE at HIGH priority without CAP_SYS_NICE is EACCES, even naming no VM', async () => {
    await runSequence([new PtGroupCreate(0, 0, 'priority')], { bootstrap: false });
  });

  // Model bug: a timeline point added below the syncobj's chain (amdxdna's command point 1
  // after the client signalled point 2 on the context's syncobj) does not lower what
  // SYNCOBJ_QUERY reports — dma_fence_chain_init takes the max of the two. The model now
  // does too (chainPoint).
  it('amdxdna: a command point below the client\'s timeline point leaves SYNCOBJ_QUERY at the higher one', async () => {
    await runSequence([new TimelineSignal({ d: AMDXDNA, f: 1 }, 0, 2, false), new AxExecCmd(1, 0, 0, 1, 'ok')]);
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

  // Bugs in @dep/driver-xe found by the fuzzer and fixed by xe's owner (commit 7337879,
  // decision 0647); until then these were `it.fails`.

  // DRM_IOCTL_XE_EXEC with num_batch_buffer 0 and an in-sync makes a dma_fence_array of the
  // in-fences and the queue's last fence, and makes it the last fence
  // (xe_sync_in_fence_get); a second such exec nests that array inside a new one, which
  // dma_fence_array_create refuses (WARN: arrays must be flat). Fix: flatten the last fence
  // into its leaves (dma_fence_unwrap) first. Found with seed -706638061.
  it('xe EXEC without a batch, twice with an in-sync, builds flat composite fences', async () => {
    const twice: Cmd = {
      check: () => true,
      run: async (m, w) => {
        // Client xe/1 after the bootstrap: its exec queue and its signalled syncobj.
        const f = w.files[0][1]!;
        const q = [...m.devs[0].files[1]!.ctxs.keys()][0]!;
        const s = [...m.devs[0].files[1]!.sync.keys()][0]!;
        for (let i = 0; i < 2; i++) await w.rt.run(() => f.exec({ execQueueId: q, numBatchBuffer: 0, syncs: [{ type: 0, flags: 0, handle: s }] }));
      },
      toString: () => 'XeExec(1, q #0, out -, in 0, no-batch) ×2',
    };
    await runSequence([twice]);
  });

  // DRM_IOCTL_XE_EXEC_QUEUE_CREATE whose exec_queue handle allocation fails (ENOMEM) gives
  // the GuC id back twice: _unallocGucId, and again when q.dep.fini()'s teardown finds the
  // queue never registered (_queueGone(q, true)). Two later queues then share the id and
  // the GuC refuses the second (EEXIST). Same on the REGISTER failure path. Fix: let the
  // teardown alone return the id there. Found with seed 1637943420 (FailAlloc(3) before a
  // queue create).
  it('xe EXEC_QUEUE_CREATE failing its handle allocation returns its GuC id once', async () => {
    const createAfterFailure: Cmd = {
      check: () => true,
      run: async (_m, w) => {
        const f = w.files[0][0]!;
        const { vmId } = await w.rt.run(() => f.vmCreate({}));
        const create = () => f.execQueueCreate({ vmId, width: 1, numPlacements: 1, instances: [{ engineClass: 0 }] });
        await w.rt.run(async () => {
          const rule = w.rt.faults.failAlloc({ site: 'idr_alloc:exec_queue' });
          await expect(create()).rejects.toThrow(/ENOMEM/);
          rule.remove();
        });
        expect(w.xe.freeGucIds, 'GuC ids free').toBeLessThanOrEqual(w.xe.gucIds);
        await w.rt.run(async () => {
          for (let i = 0; i < 3; i++) await create();
        });
      },
      toString: () => 'FailAlloc(idr_alloc:exec_queue) XeQueueCreate, then XeQueueCreate ×3',
    };
    await runSequence([createAfterFailure], { bootstrap: false });
  });
});
