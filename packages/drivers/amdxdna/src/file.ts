/**
 * `struct amdxdna_client`: one client of the device — its hardware contexts, its device
 * heap, and the amdxdna ioctls (drivers/accel/amdxdna/amdxdna_ctx.c, amdxdna_gem.c,
 * aie2_ctx.c) as validated async methods.
 */
import { DmaFenceChain } from '@dep/dma-fence';
import { DmaResvUsage, type DrmExec } from '@dep/dma-resv';
import { DrmFile, PAGE_SIZE, lockObjects, type GemObject, type IoctlArgs, type IoctlWaitOptions } from '@dep/drm';
import { DepError } from '@dep/kernel';
import type { AmdxdnaDevice } from './device.js';
import { AmdxdnaHwctx, AmdxdnaJob, getCmdOpcode, type AmdxdnaCuConfig } from './hwctx.js';
import {
  AIE_CORE_ROWS,
  AmdxdnaBoType,
  AmdxdnaConfigHwctxParam,
  AmdxdnaGetParam,
  CONFIG_HWCTX,
  ChainLayout,
  ErtOpcode,
  MAX_CHAIN_CMDS,
  CREATE_BO,
  CREATE_HWCTX,
  DESTROY_HWCTX,
  EXEC_CMD,
  GET_BO_INFO,
  GET_INFO,
  WAIT_CMD,
  type AmdxdnaBoTypeValue,
} from './uapi.js';

/** One entry of `DRM_AMDXDNA_QUERY_HW_CONTEXTS` (`struct amdxdna_drm_query_hwctx`). */
export interface AmdxdnaHwctxInfo {
  readonly contextId: number;
  readonly startCol: number;
  readonly numCol: number;
  readonly pid: number;
  readonly commandSubmissions: bigint;
  readonly commandCompletions: bigint;
  readonly migrations: bigint;
  readonly preemptions: bigint;
  readonly errors: bigint;
}

/** What `getInfo` answers, by parameter. */
export type AmdxdnaInfo =
  | { readonly param: 'aie-version'; readonly major: number; readonly minor: number }
  | { readonly param: 'aie-metadata'; readonly cols: number; readonly rows: number; readonly coreRows: number }
  | { readonly param: 'firmware-version'; readonly major: number; readonly minor: number; readonly patch: number; readonly build: number }
  | { readonly param: 'hw-contexts'; readonly contexts: readonly AmdxdnaHwctxInfo[] };

const ERESTARTSYS = -512;

/**
 * A client file of an {@link AmdxdnaDevice}. Handles of its `hwctx` table name hardware
 * contexts; closing the file destroys them (every fence they published signals).
 */
export class AmdxdnaFile extends DrmFile {
  declare readonly dev: AmdxdnaDevice;
  /** `client->hwctx_xa`. */
  readonly hwctxs = this.createTable<AmdxdnaHwctx>('hwctx', { release: (c) => c.destroy() });
  #heap: GemObject | null = null;

  /** `client->dev_heap`: the device heap BO, once created. */
  get heap(): GemObject | null {
    return this.#heap;
  }

  // --- contexts ------------------------------------------------------------------------

  /**
   * `DRM_IOCTL_AMDXDNA_CREATE_HWCTX`: a hardware context on `numTiles / AIE_CORE_ROWS`
   * columns, its queue and its timeline syncobj (a new handle in this file). ENOENT
   * without a device heap; EINVAL for a tile count giving no column or more columns than
   * the device has; ENOSPC when no such partition is free; EBUSY with too many contexts;
   * EIO when the firmware refuses. Nothing is left behind on error. Sleeps.
   */
  async createHwctx(args: IoctlArgs<typeof CREATE_HWCTX>): Promise<{ readonly handle: number; readonly syncobjHandle: number }> {
    return this.ioctl(CREATE_HWCTX, args, async (a) => {
      const heap = this.#heap;
      if (heap === null) throw new DepError('ENOENT', `${CREATE_HWCTX.name}: ${this.label} has no device heap (create a DEV_HEAP BO first)`);
      const numCol = Math.floor(a.numTiles / AIE_CORE_ROWS);
      const total = this.dev.npu.fw.columns.columns;
      if (numCol === 0 || numCol > total) {
        throw new DepError('EINVAL', `${CREATE_HWCTX.name}: num_tiles ${a.numTiles} gives ${numCol} column(s) of ${AIE_CORE_ROWS} core tiles; the device has 1…${total}`);
      }
      const ctx = await AmdxdnaHwctx.create(this.dev, String(this.id), { numCol, maxOpc: a.maxOpc, numTiles: a.numTiles, memSize: a.memSize, heap });
      let syncobjHandle = 0;
      try {
        syncobjHandle = this.syncobjGetHandle(ctx.syncobj);
        ctx.syncobjHandle = syncobjHandle;
        const handle = this.hwctxs.alloc(ctx);
        return { handle, syncobjHandle };
      } catch (e) {
        if (syncobjHandle !== 0) this.syncobjs.remove(syncobjHandle)?.put();
        await ctx.destroy();
        throw e;
      }
    });
  }

  /**
   * `DRM_IOCTL_AMDXDNA_DESTROY_HWCTX`: EINVAL if the handle names no context of this file.
   * Pending commands are aborted (their fences signal with an error), queued ones complete
   * with -ESRCH without running; resolves when every job is freed. The syncobj handle stays
   * (userspace owns it). Sleeps.
   */
  async destroyHwctx(args: IoctlArgs<typeof DESTROY_HWCTX>): Promise<void> {
    return this.ioctl(DESTROY_HWCTX, args, async (a) => {
      const ctx = this.hwctxs.remove(a.handle);
      if (ctx === undefined) throw new DepError('EINVAL', `${DESTROY_HWCTX.name}: hwctx ${a.handle} does not exist in ${this.label}`);
      await ctx.destroy();
    });
  }

  /**
   * `DRM_IOCTL_AMDXDNA_CONFIG_HWCTX`: configure the context's compute units
   * (`CONFIG_CU`; each `cuBo` a DEV BO of this file), which makes it READY. EINVAL for an
   * unknown parameter type, a handle naming no context, a context already configured,
   * zero CUs or a CU BO that is no DEV BO of this file; EOPNOTSUPP for the debug-buffer
   * types; EIO when the firmware fails the `config-cu` message. Sleeps (under the device
   * lock, for the firmware's answer).
   */
  async configHwctx(args: IoctlArgs<typeof CONFIG_HWCTX>): Promise<void> {
    return this.ioctl(CONFIG_HWCTX, args, async (a) => {
      const who = CONFIG_HWCTX.name;
      const t = a.paramType;
      if (t !== AmdxdnaConfigHwctxParam.CONFIG_CU && t !== AmdxdnaConfigHwctxParam.ASSIGN_DBG_BUF && t !== AmdxdnaConfigHwctxParam.REMOVE_DBG_BUF) {
        throw new DepError('EINVAL', `${who}: unknown hardware context config type ${t}`);
      }
      const dev = this.dev;
      await dev.devLock.lock();
      try {
        const ctx = this.hwctxs.lookup(a.handle);
        if (ctx === undefined) throw new DepError('EINVAL', `${who}: hwctx ${a.handle} does not exist in ${this.label}`);
        if (t !== AmdxdnaConfigHwctxParam.CONFIG_CU) throw new DepError('EOPNOTSUPP', `${who}: debug buffers are not supported`);
        if (ctx.status !== 'init') throw new DepError('EINVAL', `${who}: ${ctx.name} is ${ctx.status}; CUs are configured once`);
        if (a.numCus === 0) throw new DepError('EINVAL', `${who}: number of CUs is zero`);
        const cus: AmdxdnaCuConfig[] = [];
        const putCus = (): void => {
          for (const c of cus) c.cuBo.put();
        };
        for (const c of a.cuConfigs) {
          const obj = this.gem.lookup(c.cuBo);
          if (obj === undefined || dev.boType(obj) !== AmdxdnaBoType.DEV) {
            putCus();
            throw new DepError('EINVAL', `${who}: CU BO handle ${c.cuBo} names no DEV BO of ${this.label}`);
          }
          cus.push({ cuBo: obj.get(), cuFunc: c.cuFunc });
        }
        try {
          await ctx._configCu(cus);
        } catch (e) {
          putCus();
          throw e;
        }
      } finally {
        dev.devLock.unlock();
      }
    });
  }

  // --- buffer objects ----------------------------------------------------------------------

  /**
   * `DRM_IOCTL_AMDXDNA_CREATE_BO`: a BO of `size` bytes (rounded up to pages) and a handle.
   * EINVAL for non-zero `flags`/`vaddr` or an unknown type, or a DEV BO without a heap;
   * EBUSY for a second DEV_HEAP; ENOMEM when memory is short. Sleeps.
   */
  async createBo(args: IoctlArgs<typeof CREATE_BO>): Promise<{ readonly handle: number }> {
    return this.ioctl(CREATE_BO, args, async (a) => {
      const type = a.type;
      if (type === AmdxdnaBoType.DEV_HEAP && this.#heap !== null) throw new DepError('EBUSY', `${CREATE_BO.name}: ${this.label} already has a device heap`);
      if (type === AmdxdnaBoType.DEV && this.#heap === null) throw new DepError('EINVAL', `${CREATE_BO.name}: a DEV BO is carved from the device heap; create the DEV_HEAP BO first`);
      const page = BigInt(PAGE_SIZE);
      const size = ((a.size + page - 1n) / page) * page;
      const obj = await this.dev.gemObjectCreate({ size, name: `amdxdna-bo-${typeName(type)}` });
      try {
        const handle = this.gemHandleCreate(obj);
        this.dev._setBoType(obj, type);
        if (type === AmdxdnaBoType.DEV_HEAP) this.#heap = obj.get();
        return { handle };
      } finally {
        obj.put();
      }
    });
  }

  /** `DRM_IOCTL_AMDXDNA_GET_BO_INFO`: ENOENT for a handle naming nothing. */
  async getBoInfo(args: IoctlArgs<typeof GET_BO_INFO>): Promise<{ readonly mapOffset: bigint; readonly vaddr: bigint; readonly xdnaAddr: bigint; readonly type: number }> {
    return this.ioctl(GET_BO_INFO, args, (a) => {
      const obj = this.gem.lookup(a.handle);
      if (obj === undefined) throw new DepError('ENOENT', `${GET_BO_INFO.name}: BO handle ${a.handle} names nothing in ${this.label}`);
      const addr = obj.buffer === null ? 0n : BigInt(obj.buffer.addr);
      return { mapOffset: BigInt(obj.id) << 12n, vaddr: 0n, xdnaAddr: addr, type: this.dev.boType(obj) ?? AmdxdnaBoType.SHMEM };
    });
  }

  // --- submit and wait ---------------------------------------------------------------------

  /**
   * `DRM_IOCTL_AMDXDNA_EXEC_CMD` (`amdxdna_cmd_submit` + `aie2_cmd_submit`): look up the
   * command BO (EINVAL), the argument BOs (ENOENT) and the context (EINVAL, also when it is
   * dead or destroyed); take a `job_sem` count (sleeps while {@link HWCTX_MAX_CMDS} commands
   * are outstanding; EINTR when `signal` aborts); allocate the job and the timeline chain
   * node; lock every argument BO's resv with a fence slot (drm_exec); then under the
   * context's io lock: arm, add the out-fence to every argument BO's resv (WRITE), take
   * the sequence number, push, add the syncobj timeline point at it. Returns `seq`.
   */
  async execCmd(args: IoctlArgs<typeof EXEC_CMD>, options: IoctlWaitOptions = {}): Promise<{ readonly seq: bigint }> {
    return this.ioctl(EXEC_CMD, args, async (a) => {
      const who = EXEC_CMD.name;
      const cmd = this.gem.lookup(a.cmdHandles);
      if (cmd === undefined || this.dev.boType(cmd) !== AmdxdnaBoType.CMD) {
        throw new DepError('EINVAL', `${who}: handle ${a.cmdHandles} names no command BO of ${this.label}`);
      }
      const bos = this.gemLookupArray(a.args); // ENOENT, nothing held
      const hwctx = this.hwctxs.lookup(a.hwctx);
      if (hwctx === undefined || (hwctx.status !== 'ready' && hwctx.status !== 'recovering' && hwctx.status !== 'suspended')) {
        for (const bo of bos) bo.put();
        throw new DepError('EINVAL', `${who}: hwctx ${a.hwctx} ${hwctx === undefined ? 'does not exist in ' + this.label : 'is ' + hwctx.status}`);
      }
      const chain = this.#chainOf(cmd);
      if (chain === null) {
        for (const bo of bos) bo.put();
        throw new DepError('EINVAL', `${who}: the command list in BO ${a.cmdHandles} is malformed (count 1…${MAX_CHAIN_CMDS}, each a command BO of ${this.label} holding an ERT_START_CU command)`);
      }
      cmd.get();
      return submit(hwctx, cmd, bos, chain, options);
    });
  }

  /**
   * `DRM_IOCTL_AMDXDNA_WAIT_CMD` (`aie2_cmd_wait`): wait for command `seq` of `hwctx`
   * through the context's syncobj timeline point, up to `timeout` ms (0: forever).
   * EINVAL for a context naming nothing or a `seq` not submitted; ETIME when the time runs
   * out; ERESTARTSYS when `signal` aborts. Resolves once the command is done, failed or
   * not, as the kernel's 0 does: how it ended is in its command BO's state (and in the
   * error of its out-fence, for whoever holds it). Sleeps.
   */
  async waitCmd(args: IoctlArgs<typeof WAIT_CMD>, options: IoctlWaitOptions = {}): Promise<void> {
    return this.ioctl(WAIT_CMD, args, async (a) => {
      const who = WAIT_CMD.name;
      const hwctx = this.hwctxs.lookup(a.hwctx);
      if (hwctx === undefined) throw new DepError('EINVAL', `${who}: hwctx ${a.hwctx} does not exist in ${this.label}`);
      if (a.seq === 0n || a.seq >= hwctx.nextSeq) throw new DepError('EINVAL', `${who}: command ${a.seq} of ${hwctx.name} was not submitted (next is ${hwctx.nextSeq})`);
      const fence = hwctx.outFence(a.seq);
      if (fence === null) return; // signalled and garbage-collected from the timeline
      try {
        const ms = a.timeout === 0 ? Infinity : a.timeout;
        const r = await fence.waitTimeout(ms, options.signal === undefined ? {} : { signal: options.signal });
        if (r === ERESTARTSYS) throw new DepError('ERESTARTSYS', `${who}: interrupted`);
        if (r === 0) throw new DepError('ETIME', `${who}: command ${a.seq} of ${hwctx.name} did not complete within ${a.timeout} ms`);

      } finally {
        fence.put();
      }
    });
  }

  /**
   * For an `ERT_CMD_CHAIN` command BO: references on the command BOs it names ([] for any
   * other opcode); null (nothing held) when the list is malformed.
   */
  #chainOf(cmd: GemObject): GemObject[] | null {
    if (getCmdOpcode(cmd) !== ErtOpcode.CMD_CHAIN) return [];
    const buf = cmd.buffer!;
    const n = buf.read32(ChainLayout.COUNT_OFFSET);
    if (n === 0 || n > MAX_CHAIN_CMDS || ChainLayout.DATA_OFFSET + 8 * n > Number(cmd.size)) return null;
    const out: GemObject[] = [];
    for (let i = 0; i < n; i++) {
      const obj = this.gem.lookup(buf.read32(ChainLayout.DATA_OFFSET + 8 * i));
      if (obj === undefined || obj === cmd || this.dev.boType(obj) !== AmdxdnaBoType.CMD || getCmdOpcode(obj) !== ErtOpcode.START_CU) {
        for (const o of out) o.put();
        return null;
      }
      out.push(obj.get());
    }
    return out;
  }

  // --- info ----------------------------------------------------------------------------------

  /** `DRM_IOCTL_AMDXDNA_GET_INFO` for the parameters the model answers; EOPNOTSUPP for the others. */
  async getInfo(args: IoctlArgs<typeof GET_INFO>): Promise<AmdxdnaInfo> {
    return this.ioctl(GET_INFO, args, (a): AmdxdnaInfo => {
      switch (a.param) {
        case AmdxdnaGetParam.QUERY_AIE_VERSION:
          return { param: 'aie-version', major: 2, minor: 0 };
        case AmdxdnaGetParam.QUERY_AIE_METADATA:
          return { param: 'aie-metadata', cols: this.dev.npu.fw.columns.columns, rows: AIE_CORE_ROWS + 2, coreRows: AIE_CORE_ROWS };
        case AmdxdnaGetParam.QUERY_FIRMWARE_VERSION:
          return { param: 'firmware-version', major: 1, minor: 0, patch: 0, build: 0 };
        case AmdxdnaGetParam.QUERY_HW_CONTEXTS: {
          const contexts: AmdxdnaHwctxInfo[] = [];
          for (const f of this.dev.files) {
            for (const [, c] of f.hwctxs.entries()) {
              contexts.push({
                contextId: c.id,
                startCol: c.columns?.start ?? 0,
                numCol: c.numCol,
                pid: f.id,
                commandSubmissions: BigInt(c.stats.submitted),
                commandCompletions: BigInt(c.stats.completed),
                migrations: 0n,
                preemptions: 0n,
                errors: BigInt(c.stats.errors),
              });
            }
          }
          return { param: 'hw-contexts', contexts };
        }
        default:
          throw new DepError('EOPNOTSUPP', `${GET_INFO.name}: parameter ${a.param} is not supported`);
      }
    });
  }

  protected override async postclose(): Promise<void> {
    const h = this.#heap;
    this.#heap = null;
    h?.put();
  }
}

function typeName(type: AmdxdnaBoTypeValue): string {
  switch (type) {
    case AmdxdnaBoType.SHMEM:
      return 'shmem';
    case AmdxdnaBoType.DEV_HEAP:
      return 'heap';
    case AmdxdnaBoType.DEV:
      return 'dev';
    case AmdxdnaBoType.CMD:
      return 'cmd';
  }
}

/** The context takes no more commands (a fresh read: it may change while a submitter sleeps). */
function gone(hwctx: AmdxdnaHwctx): boolean {
  const s: AmdxdnaHwctx['status'] = hwctx.status;
  return s === 'dead' || s === 'destroyed';
}

/** `aie2_cmd_submit`, with the references on `cmd` and `bos` owned (and released on failure). */
async function submit(hwctx: AmdxdnaHwctx, cmd: GemObject, bos: GemObject[], list: GemObject[], options: IoctlWaitOptions): Promise<{ readonly seq: bigint }> {
  const who = EXEC_CMD.name;
  const putAll = (): void => {
    cmd.put();
    for (const bo of bos) bo.put();
    for (const c of list) c.put();
  };
  const r = await hwctx.sem.downInterruptible(options.signal === undefined ? {} : { signal: options.signal });
  if (r !== 0) {
    putAll();
    throw new DepError('EINTR', `${who}: interrupted while ${hwctx.name} had ${hwctx.sem.limit} commands outstanding`);
  }
  if (gone(hwctx)) {
    // Destroyed (or dead) while we slept on job_sem: its queue may be gone already.
    hwctx.sem.up();
    putAll();
    throw new DepError('EINVAL', `${who}: ${hwctx.name} is ${hwctx.status}`);
  }
  let job: AmdxdnaJob;
  try {
    job = new AmdxdnaJob(hwctx, cmd, bos, list); // owns cmd, bos and list from here; its free returns the count
  } catch (e) {
    hwctx.sem.up();
    putAll();
    throw e;
  }
  let chain: DmaFenceChain | null = null;
  let exec: DrmExec<GemObject> | null = null;
  try {
    chain = DmaFenceChain.alloc(hwctx.runtime);
    if (bos.length > 0) exec = await lockObjects(bos, { numFences: 1 });
    await hwctx.ioLock.lock();
    try {
      if (gone(hwctx)) throw new DepError('EINVAL', `${who}: ${hwctx.name} is ${hwctx.status}`);
      const armed = job.arm();
      const out = armed.finishedFence();
      for (const bo of bos) bo.resv.addFence(out, DmaResvUsage.WRITE);
      const seq = hwctx.nextSeq++;
      job.seq = seq;
      hwctx.stats.submitted++;
      armed.push();
      hwctx.syncobj.addPoint(out, seq, chain);
      chain = null;
      hwctx._traceJob(job, 'submitted');
      return { seq };
    } finally {
      hwctx.ioLock.unlock();
    }
  } finally {
    exec?.fini();
    chain?.free();
    job.put(); // the submitter's reference; before arm (a failure above) this frees the job
  }
}
