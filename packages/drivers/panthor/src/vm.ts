/**
 * `struct panthor_vm` (panthor_mmu.c) reduced to the dependency side: a `GpuVm` (the VA
 * tree, the VM resv shared by VM-private BOs, the external BOs) and the VM bind queue, a
 * `DepQueue` whose jobs are the asynchronous VM_BIND operations.
 */
import { GpuVm, type GpuVaOp, type GpuVmOptions } from '@dep/drm';
import type { Fence } from '@dep/dma-fence';
import { DepJob, DepQueue } from '@dep/queue';
import type { PanthorDevice } from './device.js';

/** Maximum VM_BIND jobs in flight on a VM's bind queue. */
export const VM_BIND_QUEUE_CREDITS = 64;

/** A VM_BIND job (`struct panthor_vm_bind_job`). */
export class PanthorBindJob extends DepJob {}

/**
 * A panthor VM. Its page-table updates need no GPU work here: a bind job's `runJob`
 * returns "done" (null) once its dependencies signalled, so its finished fence says "the
 * mapping is in place". The VA tree itself is updated in the ioctl (decision 0662).
 */
export class PanthorVm extends GpuVm {
  readonly bindQueue: DepQueue<PanthorBindJob>;
  #queueDown = false;

  constructor(dev: PanthorDevice, options: GpuVmOptions = {}) {
    super(dev, options);
    try {
      this.bindQueue = new DepQueue<PanthorBindJob>({
        runtime: dev.runtime,
        name: `${this.name}:bind`,
        ops: { runJob: (): Fence | null => null },
        creditLimit: VM_BIND_QUEUE_CREDITS,
        teardown: 'async',
        inactiveFences: dev.inactiveFences,
      });
    } catch (e) {
      // ENOMEM making the queue: undo drm_gpuvm_init (the resv object goes with the last put).
      this.#queueDown = true;
      super.close();
      this.put();
      throw e;
    }
  }

  /** VM_DESTROY / file close: unmap everything and tear the bind queue down (async). */
  override close(): GpuVaOp[] {
    const ops = super.close();
    if (!this.#queueDown) {
      this.#queueDown = true;
      void this.bindQueue.fini();
    }
    return ops;
  }
}
