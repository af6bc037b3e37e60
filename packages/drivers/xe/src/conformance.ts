/**
 * `@dep/driver-xe/conformance`: the xe adapter of the conformance kit (@dep/conformance).
 *
 * A device on a GuC GPU with one engine of each class, a 100 ms job timeout (so a hang is
 * recovered quickly in virtual time); a client gets a VM and a 64 KiB BO bound at
 * {@link XE_CONFORMANCE_BO_VA} (the batches live there) on first use. A job is an EXEC of
 * `units` with a binary out-syncobj; a failing job's batch address is not bound (a GuC
 * page fault: the queue is banned and the fence errors); a hanging job arms a hang on the
 * queue's GuC context (the TDR ends it). Kill is EXEC_QUEUE_DESTROY. Queues tear down
 * asynchronously (GuC disable + deregister), so only `'async'` teardown exists.
 */
import type { ConformanceAdapter, ConformanceClient, ConformanceDevice, ConformanceQueue, IoctlCase, JobSpec } from '@dep/conformance';
import { submitWithSyncobjs } from '@dep/conformance';
import type { Fence } from '@dep/dma-fence';
import type { Fields, IoctlSchema } from '@dep/drm';
import { XeDevice } from './device.js';
import type { XeExecQueue } from './exec-queue.js';
import type { XeFile } from './file.js';
import {
  XE_EXEC,
  XE_EXEC_QUEUE_CREATE,
  XE_EXEC_QUEUE_DESTROY,
  XE_SYNC_FLAG_SIGNAL,
  XE_VM_BIND,
  XE_VM_CONVERT_FENCE,
  XE_VM_CREATE,
  XE_VM_DESTROY,
  XeEngineClass,
  XeSyncType,
} from './uapi.js';

/** GPU VA of each conformance client's command BO. */
export const XE_CONFORMANCE_BO_VA = 0x10_0000n;
const JOB_TIMEOUT_MS = 100;

function ioctlCase<F extends Fields>(schema: IoctlSchema<F>, valid: Record<string, unknown>, call: (args: never) => Promise<unknown>): IoctlCase {
  return { schema: schema, valid, call: (args) => call(args as never) };
}

class Client implements ConformanceClient {
  readonly file: XeFile;
  readonly #queues: XeExecQueue[];
  #vm: { vmId: number; bo: number } | null = null;

  constructor(file: XeFile, queues: XeExecQueue[]) {
    this.file = file;
    this.#queues = queues;
  }

  async #vmOf(): Promise<{ vmId: number; bo: number }> {
    if (this.#vm !== null) return this.#vm;
    const f = this.file;
    const { vmId } = await f.vmCreate();
    const { handle: bo } = await f.gemCreate({ size: 65536n, vmId });
    await f.vmBind({ vmId, binds: [{ obj: bo, range: 65536n, addr: XE_CONFORMANCE_BO_VA, op: 0 }] });
    this.#vm = { vmId, bo };
    return this.#vm;
  }

  async createQueue(): Promise<ConformanceQueue> {
    const f = this.file;
    const { vmId } = await this.#vmOf();
    const { execQueueId } = await f.execQueueCreate({ vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] });
    const q = f.execQueues.lookup(execQueueId)!;
    this.#queues.push(q);
    const xe = f.xe;
    return {
      label: `${f.label}/exec_queue${execQueueId}`,
      async submit(job: JobSpec): Promise<Fence> {
        return submitWithSyncobjs(f, job.deps ?? [], async (ins, out) => {
          if (job.kind === 'hang') xe.gpu.faults.hang({ site: `guc${q.gucId}`, nth: 1 });
          await f.exec({
            execQueueId,
            numBatchBuffer: 1,
            address: XE_CONFORMANCE_BO_VA,
            units: job.units,
            syncs: [...ins.map((handle) => ({ type: XeSyncType.SYNCOBJ, flags: 0, handle })), { type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: out }],
          });
        });
      },
      async kill(): Promise<void> {
        await f.execQueueDestroy({ execQueueId });
      },
    };
  }

  async ioctls(): Promise<readonly IoctlCase[]> {
    const f = this.file;
    const { vmId, bo } = await this.#vmOf();
    const { handle: sync } = await f.syncobjCreate();
    const { execQueueId } = await f.execQueueCreate({ vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] });
    this.#queues.push(f.execQueues.lookup(execQueueId)!);
    return [
      ioctlCase(XE_VM_CREATE, { flags: 0 }, (x) => f.vmCreate(x)),
      ioctlCase(XE_VM_DESTROY, { vmId }, (x) => f.vmDestroy(x)),
      ioctlCase(XE_VM_BIND, { vmId, binds: [{ obj: bo, range: 4096n, addr: 0x40_0000n }], syncs: [] }, (x) => f.vmBind(x)),
      ioctlCase(XE_EXEC_QUEUE_CREATE, { vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] }, (x) => f.execQueueCreate(x)),
      ioctlCase(XE_EXEC_QUEUE_DESTROY, { execQueueId }, (x) => f.execQueueDestroy(x)),
      ioctlCase(
        XE_EXEC,
        { execQueueId, numBatchBuffer: 1, address: XE_CONFORMANCE_BO_VA, units: 1, syncs: [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: sync }] },
        (x) => f.exec(x),
      ),
      ioctlCase(XE_VM_CONVERT_FENCE, { vmId, syncs: [{ handle: sync, flags: 1, bo, offset: 0n, value: 1n }] }, (x) => f.vmConvertFence(x)),
    ];
  }

  async close(): Promise<void> {
    if (!this.file.closed) await this.file.close();
  }
}

/**
 * The xe conformance adapter. Public types reference @dep/conformance (an optional peer
 * dependency: install it to use this subpath).
 */
export const xeConformanceAdapter: ConformanceAdapter = {
  name: 'xe',
  // xe models no batch contents (the batch address is never fetched), so a job cannot fail
  // on the hardware except by hanging: no 'fail' jobs.
  features: { failingJobs: false, hangingJobs: true, dependencies: true, teardown: ['async'] },
  recoveryMs: JOB_TIMEOUT_MS * 10,
  createDevice({ runtime }): ConformanceDevice {
    const xe = new XeDevice({ runtime, gpuConfig: { engines: { render: 1, compute: 1, copy: 1 } }, jobTimeoutMs: JOB_TIMEOUT_MS });
    const queues: XeExecQueue[] = [];
    return {
      drm: xe,
      open: async () => new Client(xe.open(), queues),
      async fini(): Promise<void> {
        // The files are closed; each queue's GuC teardown finishes asynchronously.
        for (const q of queues) await q.dep.waitReleased();
        await runtime.sleep(1);
        await xe.fini();
      },
    };
  },
};
