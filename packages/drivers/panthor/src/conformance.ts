/**
 * `@dep/driver-panthor/conformance`: the panthor adapter of the conformance kit
 * (@dep/conformance).
 *
 * A device on a CSF GPU (1 ms per instruction of 8 bytes) with a 200 ms progress timeout.
 * A client gets a VM and a 64 KiB BO mapped at {@link PANTHOR_CONFORMANCE_STREAM_VA} (the
 * command streams live there) on first use. A queue is a group of one queue (so killing
 * it, GROUP_DESTROY, touches nothing else); a job is a GROUP_SUBMIT of `units`
 * instructions with a binary signal sync op; a failing job's stream is not mapped (the
 * queue faults: the group is FATAL); a hanging job arms a hang on the queue (the progress
 * timeout ends it). Groups tear down asynchronously (`teardown: 'async'`).
 */
import type { ConformanceAdapter, ConformanceClient, ConformanceDevice, ConformanceQueue, IoctlCase, JobSpec } from '@dep/conformance';
import { submitWithSyncobjs } from '@dep/conformance';
import type { Fence } from '@dep/dma-fence';
import { PanthorDevice, type PanthorFile } from './device.js';
import type { PanthorGroup } from './sched.js';
import {
  PANTHOR_IOCTLS,
  PanthorSyncOpFlags,
  PanthorVmBindFlags,
  PanthorVmBindOpFlags,
} from './uapi.js';

/** GPU VA of each conformance client's command-stream BO. */
export const PANTHOR_CONFORMANCE_STREAM_VA = 0x10_0000n;
/** A GPU VA no conformance client maps: a stream there faults. */
const UNMAPPED_VA = 0x4000_0000n;
const PROGRESS_TIMEOUT_MS = 200;
const BYTES_PER_UNIT = 8;

type Name = keyof typeof PANTHOR_IOCTLS;

const signalOp = (handle: number) => ({ flags: (PanthorSyncOpFlags.SIGNAL | PanthorSyncOpFlags.HANDLE_TYPE_SYNCOBJ) >>> 0, handle, timelineValue: 0n });
const waitOp = (handle: number) => ({ flags: PanthorSyncOpFlags.WAIT | PanthorSyncOpFlags.HANDLE_TYPE_SYNCOBJ, handle, timelineValue: 0n });
const queueSpec = () => ({ priority: 0, pad: 0, ringbufSize: 4096 });
const mapOp = (boHandle: number, va: bigint, size: bigint) => ({ flags: PanthorVmBindOpFlags.TYPE_MAP, boHandle, boOffset: 0n, va, size, syncs: [] });

class Client implements ConformanceClient {
  readonly file: PanthorFile;
  readonly #groups: PanthorGroup[];
  #vm: { vmId: number; bo: number } | null = null;

  constructor(file: PanthorFile, groups: PanthorGroup[]) {
    this.file = file;
    this.#groups = groups;
  }

  async #vmOf(): Promise<{ vmId: number; bo: number }> {
    if (this.#vm !== null) return this.#vm;
    const f = this.file;
    const { id: vmId } = await f.vmCreate({});
    const { handle: bo } = await f.boCreate({ size: 65536n, exclusiveVmId: vmId });
    await f.vmBind({ vmId, ops: [mapOp(bo, PANTHOR_CONFORMANCE_STREAM_VA, 65536n)] });
    this.#vm = { vmId, bo };
    return this.#vm;
  }

  async #group(): Promise<number> {
    const { vmId } = await this.#vmOf();
    const { groupHandle } = await this.file.groupCreate({ vmId, queues: [queueSpec()] });
    this.#groups.push(this.file.groups.lookup(groupHandle)!);
    return groupHandle;
  }

  async createQueue(): Promise<ConformanceQueue> {
    const f = this.file;
    const groupHandle = await this.#group();
    const group = f.groups.lookup(groupHandle)!;
    const gpu = f.dev.gpu;
    return {
      label: `${f.label}/group${groupHandle}`,
      async submit(job: JobSpec): Promise<Fence> {
        const kind = job.kind ?? 'ok';
        return submitWithSyncobjs(f, job.deps ?? [], async (ins, out) => {
          if (kind === 'hang') gpu.faults.hang({ site: `${group.hwName}.q0`, nth: 1 });
          await f.groupSubmit({
            groupHandle,
            queueSubmits: [
              {
                queueIndex: 0,
                streamSize: job.units * BYTES_PER_UNIT,
                streamAddr: kind === 'fail' ? UNMAPPED_VA : PANTHOR_CONFORMANCE_STREAM_VA,
                latestFlush: 0,
                pad: 0,
                syncs: [...ins.map(waitOp), signalOp(out)],
              },
            ],
          });
        });
      },
      async kill(): Promise<void> {
        await f.groupDestroy({ groupHandle });
      },
    };
  }

  async ioctls(): Promise<readonly IoctlCase[]> {
    const f = this.file;
    const { vmId } = await this.#vmOf();
    const { id: vm2 } = await f.vmCreate({});
    const { handle: shared } = await f.boCreate({ size: 8192n });
    const { handle: signalled } = await f.syncobjCreate({ flags: 1 });
    const { handle: empty } = await f.syncobjCreate();
    const groupHandle = await this.#group();
    const cases: Record<Name, { valid: Record<string, unknown>; call: (a: never) => Promise<unknown> }> = {
      VM_CREATE: { valid: { userVaRange: 1n << 32n }, call: (a) => f.vmCreate(a) },
      VM_DESTROY: { valid: { id: vm2 }, call: (a) => f.vmDestroy(a) },
      BO_CREATE: { valid: { size: 4096n, exclusiveVmId: vmId }, call: (a) => f.boCreate(a) },
      VM_BIND: { valid: { vmId, flags: PanthorVmBindFlags.ASYNC, ops: [{ ...mapOp(shared, 0x20_0000n, 4096n), syncs: [signalOp(empty)] }] }, call: (a) => f.vmBind(a) },
      GROUP_CREATE: { valid: { vmId, priority: 1, queues: [{ ...queueSpec(), ringbufSize: 8192 }] }, call: (a) => f.groupCreate(a) },
      GROUP_DESTROY: { valid: { groupHandle }, call: (a) => f.groupDestroy(a) },
      GROUP_SUBMIT: {
        valid: { groupHandle, queueSubmits: [{ queueIndex: 0, streamSize: 8, streamAddr: PANTHOR_CONFORMANCE_STREAM_VA, latestFlush: 0, pad: 0, syncs: [waitOp(signalled), signalOp(empty)] }] },
        call: (a) => f.groupSubmit(a),
      },
      GROUP_GET_STATE: { valid: { groupHandle }, call: (a) => f.groupGetState(a) },
    };
    return (Object.keys(cases) as Name[]).map((name) => ({
      schema: PANTHOR_IOCTLS[name],
      valid: cases[name].valid,
      call: (args: unknown) => cases[name].call(args as never),
    }));
  }

  async close(): Promise<void> {
    if (!this.file.closed) await this.file.close();
  }
}

/**
 * The panthor conformance adapter. Public types reference @dep/conformance (an optional
 * peer dependency: install it to use this subpath).
 */
export const panthorConformanceAdapter: ConformanceAdapter = {
  name: 'panthor',
  features: { failingJobs: true, hangingJobs: true, dependencies: true, teardown: ['async'] },
  recoveryMs: PROGRESS_TIMEOUT_MS * 10,
  createDevice({ runtime }): ConformanceDevice {
    const dev = new PanthorDevice({ runtime, csf: { cost: { compute: { fixedMs: 0, perUnitMs: 1 } } }, progressTimeoutMs: PROGRESS_TIMEOUT_MS });
    const groups: PanthorGroup[] = [];
    return {
      drm: dev,
      open: async () => new Client(dev.open(), groups),
      async fini(): Promise<void> {
        // The files are closed; each group's queues tear down asynchronously.
        for (const g of groups) for (const q of g.queues) await q.dq.waitReleased();
        await runtime.sleep(1);
        await dev.fini();
      },
    };
  },
};
