/**
 * `@dep/driver-amdxdna/conformance`: the amdxdna adapter of the conformance kit
 * (@dep/conformance).
 *
 * A device on an AIE NPU of 32 columns with a 500 ms job timeout (so a hang is recovered
 * quickly in virtual time). A client gets its device heap on first use; a queue is a
 * hardware context of one column with one configured CU; a job is an EXEC_CMD of a new
 * command BO holding one ERT_START_CU of `units`, its out-fence the context's timeline
 * syncobj point at the job's sequence number (`aie2_cmd_get_out_fence`); a failing job's
 * command has an opcode run_job refuses (-EINVAL on the fence); a hanging job arms a hang
 * on the context (the timeout destroys and re-creates it). Kill is DESTROY_HWCTX. No
 * dependencies (EXEC_CMD takes no in-syncs); queues tear down synchronously.
 */
import type { ConformanceAdapter, ConformanceClient, ConformanceDevice, ConformanceQueue, IoctlCase, JobSpec } from '@dep/conformance';
import type { Fence } from '@dep/dma-fence';
import { DepError } from '@dep/kernel';
import { AmdxdnaDevice } from './device.js';
import type { AmdxdnaFile } from './file.js';
import { writeCommand } from './hwctx.js';
import { AMDXDNA_IOCTLS, AmdxdnaBoType, AmdxdnaGetParam, ErtOpcode } from './uapi.js';

const TIMEOUT_MS = 500;
/** An ERT opcode run_job does not execute (neither START_CU nor CMD_CHAIN). */
const BAD_OPCODE = 5;

type Name = keyof typeof AMDXDNA_IOCTLS;

class Client implements ConformanceClient {
  readonly file: AmdxdnaFile;
  #heap = false;

  constructor(file: AmdxdnaFile) {
    this.file = file;
  }

  async #ctx(): Promise<{ ctx: number; cu: number }> {
    const f = this.file;
    if (!this.#heap) {
      await f.createBo({ size: 65536n, type: AmdxdnaBoType.DEV_HEAP });
      this.#heap = true;
    }
    const { handle: ctx } = await f.createHwctx({ numTiles: 4 });
    const { handle: cu } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.DEV });
    await f.configHwctx({ handle: ctx, cuConfigs: [{ cuBo: cu, cuFunc: 0, pad: 0 }] });
    return { ctx, cu };
  }

  async #cmdBo(units: number, opcode: number): Promise<number> {
    const f = this.file;
    const { handle } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.CMD });
    writeCommand(f.gem.lookup(handle)!, { units, opcode });
    return handle;
  }

  async createQueue(): Promise<ConformanceQueue> {
    const f = this.file;
    const { ctx } = await this.#ctx();
    const hw = f.hwctxs.lookup(ctx)!;
    const npu = f.dev.npu;
    return {
      label: `${f.label}/hwctx${ctx}`,
      submit: async (job: JobSpec): Promise<Fence> => {
        const kind = job.kind ?? 'ok';
        if ((job.deps ?? []).length > 0) throw new DepError('EINVAL', 'amdxdna EXEC_CMD takes no in-fences (the adapter declares no dependencies)');
        const cmd = await this.#cmdBo(job.units, kind === 'fail' ? BAD_OPCODE : ErtOpcode.START_CU);
        try {
          if (kind === 'hang') npu.faults.hang({ site: hw.name, nth: 1 });
          const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: cmd, cmdCount: 1 });
          // As the wait ioctl does: through the file's table (a context destroyed since —
          // killed, or the file closed — is gone from it), then aie2_cmd_get_out_fence.
          const live = f.hwctxs.lookup(ctx);
          if (live === undefined) throw new DepError('EINVAL', `hwctx ${ctx} was destroyed right after the submit`);
          const fence = live.outFence(seq);
          if (fence === null) throw new Error(`amdxdna conformance adapter: the out-fence of ${live.name} seq ${seq} was already collected`);
          return fence;
        } finally {
          // The job keeps the command BO alive; the handle goes.
          await f.gemClose({ handle: cmd });
        }
      },
      kill: async (): Promise<void> => {
        await f.destroyHwctx({ handle: ctx });
      },
    };
  }

  async ioctls(): Promise<readonly IoctlCase[]> {
    const f = this.file;
    const { ctx, cu } = await this.#ctx();
    const { ctx: ctx2 } = await this.#ctx();
    const cmd = await this.#cmdBo(1, ErtOpcode.START_CU);
    const { handle: arg } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.SHMEM });
    const cases: Record<Name, { valid: Record<string, unknown>; call: (a: never) => Promise<unknown> }> = {
      CREATE_HWCTX: { valid: { numTiles: 4 }, call: (a) => f.createHwctx(a) },
      DESTROY_HWCTX: { valid: { handle: ctx }, call: (a) => f.destroyHwctx(a) },
      CONFIG_HWCTX: { valid: { handle: ctx2, cuConfigs: [{ cuBo: cu, cuFunc: 0, pad: 0 }] }, call: (a) => f.configHwctx(a) },
      CREATE_BO: { valid: { size: 4096n, type: AmdxdnaBoType.SHMEM }, call: (a) => f.createBo(a) },
      GET_BO_INFO: { valid: { handle: cu }, call: (a) => f.getBoInfo(a) },
      EXEC_CMD: { valid: { hwctx: ctx, cmdHandles: cmd, cmdCount: 1, args: [arg] }, call: (a) => f.execCmd(a) },
      WAIT_CMD: { valid: { hwctx: ctx, seq: 1n, timeout: 1 }, call: (a) => f.waitCmd(a) },
      GET_INFO: { valid: { param: AmdxdnaGetParam.QUERY_AIE_VERSION }, call: (a) => f.getInfo(a) },
    };
    return (Object.keys(cases) as Name[]).map((name) => ({
      schema: AMDXDNA_IOCTLS[name],
      valid: cases[name].valid,
      call: (args: unknown) => cases[name].call(args as never),
    }));
  }

  async close(): Promise<void> {
    if (!this.file.closed) await this.file.close();
  }
}

/**
 * The amdxdna conformance adapter. Public types reference @dep/conformance (an optional
 * peer dependency: install it to use this subpath).
 */
export const amdxdnaConformanceAdapter: ConformanceAdapter = {
  name: 'amdxdna',
  features: { failingJobs: true, hangingJobs: true, dependencies: false, teardown: ['sync'] },
  recoveryMs: TIMEOUT_MS * 4,
  createDevice({ runtime }): ConformanceDevice {
    const dev = new AmdxdnaDevice({ runtime, npuConfig: { columns: 32 }, timeoutMs: TIMEOUT_MS });
    return {
      drm: dev,
      open: async () => new Client(dev.open()),
      fini: () => dev.fini(),
    };
  },
};
