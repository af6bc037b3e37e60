/**
 * A hardware context (`struct amdxdna_hwctx` + aie2's `amdxdna_hwctx_priv`): a firmware
 * context on a column partition with its mailbox channel, one drm_dep queue (one credit per
 * job, limit {@link HWCTX_MAX_CMDS}; 60 s timeout), the `job_sem` counting semaphore of the
 * same size, the `io_lock` that serialises arm → resv → seq → push → syncobj point, and the
 * per-context timeline syncobj whose point `seq` is command `seq`'s out-fence
 * (drivers/accel/amdxdna/aie2_ctx.c, rfc-designs D.3).
 */
import { DmaFence, DmaFenceChain, Syncobj, contextAlloc, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import type { GemObject } from '@dep/drm';
import type { AieHwContext, MailboxResponse } from '@dep/hw-sim';
import { DepError, ERRNO, Mutex, Work, isDepError, type Runtime } from '@dep/kernel';
import { DepJob, DepQueue, type DepQueueOps, type DepTimeoutStatus, type PushedDepJob } from '@dep/queue';
import type { AmdxdnaDevice } from './device.js';
import { Semaphore } from './semaphore.js';
import './trace-events.js';
import type { AmdxdnaHwctxTraceOp, AmdxdnaJobTraceWhat } from './trace-events.js';
import { ChainLayout, CmdLayout, ErtCmdState, ErtOpcode, HWCTX_MAX_CMDS, MAX_CHAIN_CMDS, type ErtCmdStateValue } from './uapi.js';

/** The hardware fence of one command (aie2's job fence): signalled by the receive worker. */
export class AmdxdnaHwFence extends DmaFence {
  /** The hardware context's name (the timeline name). */
  timeline = '';
}

const hwFenceOps: DmaFenceOps<AmdxdnaHwFence> = {
  getDriverName: () => 'amdxdna',
  getTimelineName: (f) => f.timeline,
};

/**
 * Where a hardware context is: `init` (created; CONFIG_HWCTX has not configured its CUs:
 * submits are EINVAL), `ready` (firmware context alive and configured, submits accepted),
 * `recovering` (the timeout handler destroyed it and is re-creating it: submits queue up),
 * `suspended` (device suspend destroyed the firmware context; submits queue up until resume),
 * `dead` (re-creation failed: submits are EINVAL, queued jobs fail with ENODEV),
 * `destroyed` (DESTROY_HWCTX or file close).
 */
export type AmdxdnaHwctxStatus = 'init' | 'ready' | 'recovering' | 'suspended' | 'dead' | 'destroyed';

/** One CU configuration (`struct amdxdna_cu_config`), with its DEV BO (a reference). */
export interface AmdxdnaCuConfig {
  readonly cuBo: GemObject;
  readonly cuFunc: number;
}

/** How long suspend waits for a context's last command (rfc-designs D.3), ms. */
const SUSPEND_IDLE_WAIT_MS = 2000;

/** How long a config-cu message may take to be answered (`TX_TIMEOUT`-like), ms. */
const CONFIG_CU_TIMEOUT_MS = 2000;

/** Write the ERT state into a command BO's header (`amdxdna_cmd_set_state`). */
export function setCmdState(cmd: GemObject, state: ErtCmdStateValue): void {
  const buf = cmd.buffer;
  if (buf === null || buf.freed) return;
  const h = buf.read32(CmdLayout.HEADER_OFFSET);
  buf.write32(CmdLayout.HEADER_OFFSET, ((h & ~CmdLayout.STATE_MASK) | state) >>> 0);
}

/** The ERT state in a command BO's header (`amdxdna_cmd_get_state`). */
export function getCmdState(cmd: GemObject): ErtCmdStateValue {
  const buf = cmd.buffer;
  if (buf === null || buf.freed) return ErtCmdState.INVALID;
  return (buf.read32(CmdLayout.HEADER_OFFSET) & CmdLayout.STATE_MASK) as ErtCmdStateValue;
}

/**
 * Fill a command BO the way userspace (XRT) does for one `ERT_START_CU` command: header
 * with state NEW, a payload count and the opcode; CU mask; then the work units the
 * simulated firmware charges for it (the model's stand-in for the real payload).
 */
export function writeCommand(cmd: GemObject, command: { readonly units: number; readonly cuMask?: number; readonly opcode?: number }): void {
  const buf = cmd.buffer;
  if (buf === null || buf.freed) throw new DepError('EINVAL', 'writeCommand: the command BO has no backing store');
  const { units, cuMask = 1, opcode = ErtOpcode.START_CU } = command;
  if (!Number.isSafeInteger(units) || units < 0 || units > 0xffff_ffff) throw new DepError('EINVAL', `writeCommand: units must be a u32, got ${String(units)}`);
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > CmdLayout.OPCODE_MASK) throw new DepError('EINVAL', `writeCommand: opcode must be 0…31, got ${String(opcode)}`);
  const header = (ErtCmdState.NEW | (2 << CmdLayout.COUNT_SHIFT) | (opcode << CmdLayout.OPCODE_SHIFT)) >>> 0;
  buf.write32(CmdLayout.HEADER_OFFSET, header);
  buf.write32(CmdLayout.CU_MASK_OFFSET, cuMask >>> 0);
  buf.write32(CmdLayout.UNITS_OFFSET, units >>> 0);
}

/**
 * Fill a command BO with an `ERT_CMD_CHAIN` command list naming the command BOs `handles`
 * (of the submitting file), as XRT does for a command list.
 */
export function writeChain(cmd: GemObject, handles: readonly number[]): void {
  const buf = cmd.buffer;
  if (buf === null || buf.freed) throw new DepError('EINVAL', 'writeChain: the command BO has no backing store');
  if (handles.length === 0 || handles.length > MAX_CHAIN_CMDS) throw new DepError('EINVAL', `writeChain: 1…${MAX_CHAIN_CMDS} commands`);
  const header = (ErtCmdState.NEW | ((6 + 2 * handles.length) << CmdLayout.COUNT_SHIFT) | (ErtOpcode.CMD_CHAIN << CmdLayout.OPCODE_SHIFT)) >>> 0;
  buf.write32(CmdLayout.HEADER_OFFSET, header);
  buf.write32(ChainLayout.COUNT_OFFSET, handles.length);
  buf.write32(ChainLayout.SUBMIT_INDEX_OFFSET, 0);
  buf.write32(ChainLayout.ERROR_INDEX_OFFSET, 0);
  handles.forEach((h, i) => {
    buf.write32(ChainLayout.DATA_OFFSET + 8 * i, h >>> 0);
    buf.write32(ChainLayout.DATA_OFFSET + 8 * i + 4, 0);
  });
}

/** The opcode in a command BO's header. */
export function getCmdOpcode(cmd: GemObject): number {
  const buf = cmd.buffer;
  if (buf === null || buf.freed) return -1;
  return (buf.read32(CmdLayout.HEADER_OFFSET) >>> CmdLayout.OPCODE_SHIFT) & CmdLayout.OPCODE_MASK;
}

/**
 * One command (`struct amdxdna_sched_job`): a `DepJob` with its command BO, the argument
 * BOs whose resvs get its out-fence, its sequence number and its hardware fence.
 */
export class AmdxdnaJob extends DepJob {
  readonly hwctx: AmdxdnaHwctx;
  /** The command BO (a reference, dropped when the job is freed). */
  readonly cmdBo: GemObject;
  /** The argument BOs (references, dropped when the job is freed). */
  readonly bos: readonly GemObject[];
  /** For an `ERT_CMD_CHAIN` command: the chained command BOs (references), else empty. */
  readonly chain: readonly GemObject[];
  /** The sequence number (the syncobj timeline point), set under the io lock. */
  seq = 0n;
  /** The mailbox message id while the firmware has it. */
  msgId = -1;
  /** `job->job_timeout`: the timeout handler picked this job; its abort reads as TIMEOUT. */
  timedOut = false;
  /** `job->job_done`: the receive worker completed it. */
  done = false;
  /** A `job_sem` count is held (returned on completion, or when the job is freed). */
  semHeld = true;
  /** @internal The hardware fence (initialised by runJob; the driver's reference). */
  hwFence: AmdxdnaHwFence;

  /** Takes over the caller's references on `cmdBo` and `bos` once constructed (ENOMEM/ESRCH leave them to the caller). */
  constructor(hwctx: AmdxdnaHwctx, cmdBo: GemObject, bos: readonly GemObject[], chain: readonly GemObject[] = []) {
    super(hwctx.queue);
    this.hwctx = hwctx;
    this.cmdBo = cmdBo;
    this.bos = bos;
    this.chain = chain;
    this.hwFence = new AmdxdnaHwFence();
  }
}

/** Per-context counters (`amdxdna_drm_query_hwctx`). */
export interface AmdxdnaHwctxStats {
  submitted: number;
  completed: number;
  errors: number;
  /** Firmware context re-creations by the timeout handler. */
  resets: number;
  /** `config-cu` messages the firmware accepted (CONFIG_HWCTX, and again after each re-creation). */
  cuConfigs: number;
}

/** Options of {@link AmdxdnaHwctx.create} (from CREATE_HWCTX). */
export interface AmdxdnaHwctxInit {
  readonly numCol: number;
  readonly maxOpc: number;
  readonly numTiles: number;
  readonly memSize: number;
  /** The client's device heap (a reference the context takes). */
  readonly heap: GemObject;
}

/** A hardware context. Made by `AmdxdnaFile.createHwctx`. */
export class AmdxdnaHwctx {
  readonly dev: AmdxdnaDevice;
  readonly runtime: Runtime;
  /** Device-wide context id (`hwctx->id`). */
  readonly id: number;
  /** `hwctx.<file>.<id>`: names the queue, the fence timeline and the firmware context (the hang fault site). */
  readonly name: string;
  readonly numCol: number;
  readonly numTiles: number;
  readonly maxOpc: number;
  readonly memSize: number;
  /** The drm_dep queue (`priv->sched` + `priv->entity`). */
  readonly queue: DepQueue<AmdxdnaJob>;
  /** `priv->io_lock`. */
  readonly ioLock: Mutex;
  /** `priv->job_sem`. */
  readonly sem: Semaphore;
  /** `priv->syncobj`: the context's timeline (the context's own reference). */
  readonly syncobj: Syncobj;
  /** Fence context of the hardware fences. */
  readonly fenceContext: bigint;
  readonly stats: AmdxdnaHwctxStats = { submitted: 0, completed: 0, errors: 0, resets: 0, cuConfigs: 0 };
  /** The firmware context, null while recovering or once dead/destroyed. */
  fw: AieHwContext | null = null;
  status: AmdxdnaHwctxStatus = 'init';
  /** The next sequence number (`priv->seq`); the first command is 1 (point 0 is a binary syncobj's). */
  nextSeq = 1n;
  /** The handle of the syncobj in the creating file (owned by userspace). */
  syncobjHandle = 0;
  #heap: GemObject | null;
  readonly #rx: Array<{ readonly job: AmdxdnaJob; readonly resp: MailboxResponse }> = [];
  readonly #rxWork: Work;
  /** The status to go back to at resume (`hwctx->old_status`). */
  #resumeTo: AmdxdnaHwctxStatus = 'ready';
  /** The configured CUs (`hwctx->cus`), null until CONFIG_HWCTX. */
  #cus: readonly AmdxdnaCuConfig[] | null = null;
  /** Jobs whose message the firmware has (sent, not yet completed). */
  readonly #inflight = new Set<AmdxdnaJob>();

  private constructor(dev: AmdxdnaDevice, label: string, init: AmdxdnaHwctxInit) {
    const rt = dev.runtime;
    this.dev = dev;
    this.runtime = rt;
    this.id = dev._nextCtxId();
    this.name = `hwctx.${label}.${this.id}`;
    this.numCol = init.numCol;
    this.numTiles = init.numTiles;
    this.maxOpc = init.maxOpc;
    this.memSize = init.memSize;
    this.ioLock = new Mutex(rt, 'amdxdna_hwctx_io_lock');
    this.sem = new Semaphore(rt, `${this.name}.job_sem`, HWCTX_MAX_CMDS);
    this.fenceContext = contextAlloc(1, rt);
    this.#rxWork = new Work(() => this.#rxWorkFn(), `amdxdna_rx(${this.name})`);
    const ops: DepQueueOps<AmdxdnaJob> = {
      runJob: (job) => this.#runJob(job),
      timedoutJob: (job) => this.#timedoutJob(job),
      cancelJob: (job) => this.#cancelJob(job),
      freeJob: (job) => this.#freeJob(job),
    };
    const syncobj = Syncobj.create({ runtime: rt });
    let queue: DepQueue<AmdxdnaJob>;
    try {
      queue = new DepQueue<AmdxdnaJob>({
        runtime: rt,
        name: this.name,
        ops,
        creditLimit: HWCTX_MAX_CMDS,
        timeout: dev.timeoutMs,
        timeoutWq: dev.tdrWq,
        submitLock: this.ioLock,
      });
    } catch (e) {
      syncobj.put();
      throw e;
    }
    this.syncobj = syncobj;
    this.queue = queue;
    this.#heap = init.heap.get();
  }

  /**
   * `aie2_hwctx_init`: the queue, the semaphore, the syncobj, then the firmware context on
   * `numCol` columns (under the device lock; sleeps for the management round trip). Throws
   * with nothing left behind: ENOMEM, ENOSPC (no free columns), EBUSY (too many
   * contexts), EIO (firmware refused), ENODEV (device lost).
   */
  static async create(dev: AmdxdnaDevice, label: string, init: AmdxdnaHwctxInit): Promise<AmdxdnaHwctx> {
    const ctx = new AmdxdnaHwctx(dev, label, init);
    try {
      await dev.devLock.lock();
      try {
        ctx.fw = await dev.npu.fw.createContext({ columns: ctx.numCol, name: ctx.name });
      } finally {
        dev.devLock.unlock();
      }
    } catch (e) {
      ctx.status = 'destroyed';
      await ctx.queue.fini();
      ctx.syncobj.put();
      ctx.#putHeap();
      throw e;
    }
    dev._contextMade(ctx);
    ctx.#traceCtx('create');
    if (dev.npu.lost) ctx._deviceLost();
    return ctx;
  }

  /** The firmware context's columns, or null while it has none. */
  get columns(): { readonly start: number; readonly count: number } | null {
    return this.fw?.columns ?? null;
  }

  /** Commands pushed and not completed. */
  get outstanding(): number {
    return this.stats.submitted - this.stats.completed;
  }

  /**
   * `aie2_cmd_get_out_fence`: the out-fence of command `seq` through the syncobj timeline
   * (a reference: put it), or null when that point signalled and was garbage-collected.
   */
  outFence(seq: bigint): Fence | null {
    const head = this.syncobj.fenceGet();
    if (head === null) return null;
    const r = DmaFenceChain.findSeqno(head, seq);
    if (r.ret !== 0) {
      head.put();
      return null;
    }
    const node = r.fence;
    if (node === null) return null;
    const out = DmaFenceChain.contained(node).get();
    node.put();
    return out;
  }

  // --- the queue's ops -------------------------------------------------------------------

  /**
   * `aie2_sched_job_run`: one mailbox message (`execbuf`) for the command BO; the response
   * handler completes it. ENOSPC/EBUSY from a full mailbox become the job's error (credits
   * keep the mailbox from ever filling in normal operation); ENODEV without a firmware
   * context; EINVAL for an opcode other than `ERT_START_CU`.
   */
  #runJob(job: PushedDepJob<AmdxdnaJob>): Fence | null {
    const fw = this.fw;
    if (fw === null) throw new DepError('ENODEV', `${this.name}: no firmware context (${this.status})`);
    const cmd = job.cmdBo;
    const buf = cmd.buffer;
    if (buf === null || buf.freed) throw new DepError('EINVAL', `${this.name}: command BO has no backing store`);
    const opcode = (buf.read32(CmdLayout.HEADER_OFFSET) >>> CmdLayout.OPCODE_SHIFT) & CmdLayout.OPCODE_MASK;
    const j = job as unknown as AmdxdnaJob;
    const isChain = opcode === ErtOpcode.CMD_CHAIN && j.chain.length > 0;
    if (opcode !== ErtOpcode.START_CU && !isChain) {
      setCmdState(cmd, ErtCmdState.ABORT);
      throw new DepError('EINVAL', `${this.name}: command opcode ${opcode} is not supported (ERT_START_CU, ERT_CMD_CHAIN)`);
    }
    setCmdState(cmd, ErtCmdState.NEW);
    const hctx = this;
    const handler = (resp: MailboxResponse): void => {
      hctx.#onResponse(j, resp);
    };
    if (isChain) {
      // aie2_cmdlist_multi_execbuf: one `chain` message for every command of the list.
      const units = j.chain.map((c) => (c.buffer === null || c.buffer.freed ? 0 : c.buffer.read32(CmdLayout.UNITS_OFFSET)));
      j.msgId = fw.mailbox.send({ opcode: 'chain', units }, handler);
    } else {
      j.msgId = fw.mailbox.send({ opcode: 'execbuf', units: buf.read32(CmdLayout.UNITS_OFFSET), label: `${this.name}:${job.seq}` }, handler);
    }
    this.#inflight.add(j);
    const fence = j.hwFence;
    fence.timeline = this.name;
    fence.init(hwFenceOps, this.fenceContext, job.seq, { runtime: this.runtime });
    job.get(); // the response handler's reference (kref_get in run_job)
    this._traceJob(j, 'sent to device');
    return fence.get(); // the queue's reference; the driver keeps the one init gave
  }

  /**
   * `aie2_sched_job_timedout`: under the device lock, stop the queue, destroy the firmware
   * context (every pending message is answered "aborted, no data": the receive worker
   * signals those jobs with an error — `-ETIMEDOUT` for this one, `-ECANCELED` for the
   * others), re-create it on as many columns and restart the queue. Queued jobs then run
   * on the new context.
   */
  async #timedoutJob(job: PushedDepJob<AmdxdnaJob>): Promise<DepTimeoutStatus> {
    (job as unknown as AmdxdnaJob).timedOut = true;
    this._traceJob(job as unknown as AmdxdnaJob, 'job timedout');
    await this.#recover();
    return 'reset';
  }

  /**
   * `cancel_job` at teardown: the destroy path has already destroyed the firmware context,
   * so this job's aborted response is on its way to the receive worker, which signals it.
   */
  #cancelJob(_job: PushedDepJob<AmdxdnaJob>): void {
    // Nothing to do: destroy() destroyed the firmware context before fini(), and every
    // message it still had is answered "aborted" to the receive worker.
  }

  /** `aie2_sched_job_free`: return the semaphore count if the job never completed, drop the BO references. */
  #freeJob(job: PushedDepJob<AmdxdnaJob> | AmdxdnaJob): void {
    const j = job as AmdxdnaJob;
    this._traceJob(j, 'job free');
    if (j.semHeld) {
      j.semHeld = false;
      this.sem.up();
    }
    j.cmdBo.put();
    for (const bo of j.bos) bo.put();
    for (const c of j.chain) c.put();
  }

  // --- completion: irq → receive worker --------------------------------------------------

  /** The mailbox response handler (irq context): hand the response to the receive worker. */
  #onResponse(job: AmdxdnaJob, resp: MailboxResponse): void {
    this.#rx.push({ job, resp });
    this.dev.rxWq.queueWork(this.#rxWork);
  }

  /** The receive worker (`mailbox rx_work`): complete every response, in order. */
  #rxWorkFn(): void {
    for (let e = this.#rx.shift(); e !== undefined; e = this.#rx.shift()) this.#complete(e.job, e.resp);
  }

  /**
   * `aie2_sched_resp_handler` + `aie2_sched_notify`: the command's state into its BO
   * (COMPLETED, ERROR, ABORT — TIMEOUT for the job the timeout handler picked), the error
   * on the hardware fence (firmware errno, `-ETIMEDOUT`, `-ECANCELED`), signal, return the
   * semaphore count, drop the run reference.
   */
  #complete(job: AmdxdnaJob, resp: MailboxResponse): void {
    if (job.done || !this.#inflight.delete(job)) return; // completed already (device lost, then a late answer)
    let state: ErtCmdStateValue;
    let err = 0;
    switch (resp.status) {
      case 'ok':
        state = ErtCmdState.COMPLETED;
        break;
      case 'error':
        state = ErtCmdState.ERROR;
        err = resp.errno < 0 ? resp.errno : -ERRNO.EIO;
        break;
      case 'aborted':
        state = job.timedOut ? ErtCmdState.TIMEOUT : ErtCmdState.ABORT;
        err = job.timedOut ? -ERRNO.ETIMEDOUT : resp.errno < 0 ? resp.errno : -ERRNO.ECANCELED;
        break;
    }
    setCmdState(job.cmdBo, state);
    if (resp.status === 'error' && job.chain.length > 0) {
      // aie2_sched_cmdlist_resp_handler: the failing command's index into cc->error_index.
      const buf = job.cmdBo.buffer;
      const idx = resp.failedIndex >= 0 && resp.failedIndex < job.chain.length ? resp.failedIndex : 0;
      if (buf !== null && !buf.freed) buf.write32(ChainLayout.ERROR_INDEX_OFFSET, idx);
    }
    const fence = job.hwFence;
    if (err !== 0) {
      fence.setError(err);
      this.stats.errors++;
    }
    this.stats.completed++;
    job.msgId = -1;
    fence.signal();
    this._traceJob(job, 'signaled fence', fence.getStatus());
    if (job.semHeld) {
      job.semHeld = false;
      this.sem.up();
    }
    job.done = true;
    fence.put();
    job.put();
  }

  // --- CU configuration ------------------------------------------------------------------

  /** The configured CUs, or null. */
  get cus(): readonly AmdxdnaCuConfig[] | null {
    return this.#cus;
  }

  /**
   * `aie2_hwctx_cu_config` (under the device lock, which the caller holds): only in
   * `init` (EINVAL: no re-configuration); send `config-cu` and wait for the answer
   * (EIO when the firmware fails it, ETIME without an answer in 2 s); then `ready`.
   * Takes over the references of `cus` on success only.
   */
  async _configCu(cus: readonly AmdxdnaCuConfig[]): Promise<void> {
    if (this.status !== 'init') throw new DepError('EINVAL', `${this.name}: CUs can be configured once, in the init state (it is ${this.status})`);
    if (cus.length === 0) throw new DepError('EINVAL', `${this.name}: number of CUs is zero`);
    const r = await this.#sendConfigCu(cus.length);
    if (r !== 0) throw DepError.fromErrno(r, `${this.name}: the firmware did not take the CU configuration`);
    this.#cus = cus;
    if ((this.status as AmdxdnaHwctxStatus) === 'init') this.status = 'ready';
  }

  /** One `config-cu` message, waited for: 0 or a negative errno. */
  async #sendConfigCu(n: number): Promise<number> {
    const fw = this.fw;
    if (fw === null) return -ERRNO.ENODEV;
    let sendErr = 0;
    const r = await this.runtime.sleepOn<MailboxResponse>(
      `${this.name}: config-cu`,
      (w) => {
        try {
          fw.mailbox.send({ opcode: 'config-cu', cus: Math.min(n, 64) }, (resp) => {
            w.wake(resp);
          });
        } catch (e) {
          if (!isDepError(e)) throw e;
          sendErr = e.errno;
          w.wake({ id: 0, opcode: 'config-cu', status: 'error', errno: e.errno, failedIndex: 0, data: null });
        }
      },
      { timeout: CONFIG_CU_TIMEOUT_MS },
    );
    if (sendErr !== 0) return sendErr;
    if (typeof r === 'symbol') return -ERRNO.ETIME;
    if (r.status !== 'ok') return -ERRNO.EIO;
    this.stats.cuConfigs++;
    this.#traceCtx('config-cu');
    return 0;
  }

  // --- power management --------------------------------------------------------------------

  /**
   * `aie2_hwctx_suspend` (the device lock held by the caller): wait up to 2 s for the last
   * command (`aie2_hwctx_wait_for_idle`), stop the queue, destroy the firmware context
   * (what is still pending is aborted: `-ECANCELED`). Submits queue up meanwhile.
   */
  async _suspend(): Promise<void> {
    if (this.status !== 'ready' && this.status !== 'init') return;
    const last = this.nextSeq - 1n;
    if (last > 0n) {
      const f = this.outFence(last);
      if (f !== null) {
        await f.waitTimeout(SUSPEND_IDLE_WAIT_MS);
        f.put();
      }
    }
    await this.queue.stop();
    this.#resumeTo = this.status;
    this.status = 'suspended';
    this.#traceCtx('stop');
    const fw = this.fw;
    this.fw = null;
    if (fw !== null) await destroyFw(fw);
  }

  /** `aie2_hwctx_resume` (the device lock held): re-create the firmware context, re-send the CU configuration, start the queue. */
  async _resume(): Promise<void> {
    if (this.status !== 'suspended') return;
    try {
      this.fw = await this.dev.npu.fw.createContext({ columns: this.numCol, name: this.name });
      const r = this.#cus === null ? 0 : await this.#sendConfigCu(this.#cus.length);
      this.status = r === 0 ? this.#resumeTo : 'dead';
    } catch (e) {
      if (!isDepError(e)) throw e;
      this.status = 'dead';
    }
    this.#traceCtx(this.status === 'dead' ? 'dead' : 'restart');
    this.queue.start();
  }

  // --- recovery and teardown -------------------------------------------------------------

  /**
   * The device was lost (irq context): the firmware will answer nothing more, so every
   * message it had is completed here as aborted with `-ENODEV` (through the receive
   * worker, as a real abort); the context is dead: queued jobs fail with ENODEV, submits
   * are EINVAL.
   */
  _deviceLost(): void {
    const wasSuspended = this.status === 'suspended';
    if (this.status !== 'destroyed') this.status = 'dead';
    this.#traceCtx('dead');
    // A suspended queue would hold its queued jobs until teardown: let them fail (ENODEV) now.
    if (wasSuspended) this.queue.start();
    this.fw = null;
    for (const job of this.#inflight) {
      this.#rx.push({ job, resp: { id: job.msgId, opcode: 'execbuf', status: 'aborted', errno: -ERRNO.ENODEV, failedIndex: -1, data: null } });
    }
    if (this.#rx.length > 0) this.dev.rxWq.queueWork(this.#rxWork);
  }

  async #recover(): Promise<void> {
    const dev = this.dev;
    await dev.devLock.lock();
    try {
      if (this.status === 'destroyed') return; // the destroy path aborts everything itself
      if (this.status === 'suspended') return; // suspend destroyed the firmware context; resume re-creates it
      this.stats.resets++;
      this.status = 'recovering';
      this.#traceCtx('stop');
      await this.queue.stop();
      const old = this.fw;
      this.fw = null;
      if (old !== null) await destroyFw(old);
      try {
        this.fw = await dev.npu.fw.createContext({ columns: this.numCol, name: this.name });
        // aie2_hwctx_restart: remap the heap (nothing to do here), reconfigure the CUs.
        const r = this.#cus === null ? 0 : await this.#sendConfigCu(this.#cus.length);
        this.status = r !== 0 ? 'dead' : this.#cus === null ? 'init' : 'ready';
      } catch (e) {
        if (!isDepError(e)) throw e;
        this.status = 'dead';
      }
      if (dev.npu.lost) this.status = 'dead';
      this.#traceCtx(this.status === 'dead' ? 'dead' : 'restart');
      this.queue.start();
    } finally {
      dev.devLock.unlock();
    }
  }

  /**
   * `amdxdna_hwctx_destroy` / `aie2_hwctx_fini`: no new submits; under the device lock stop
   * the queue and destroy the firmware context (pending messages are answered "aborted":
   * their jobs signal `-ECANCELED`); then tear the queue down (queued jobs complete with
   * `-ESRCH` without running) and wait until every job was freed; drop the syncobj and the
   * heap. Every fence this context published has signalled when it resolves. Sleeps.
   */
  async destroy(): Promise<void> {
    if (this.status === 'destroyed') return;
    await this.ioLock.lock();
    this.status = 'destroyed';
    this.ioLock.unlock();
    this.#traceCtx('destroy');
    const dev = this.dev;
    await dev.devLock.lock();
    try {
      await this.queue.stop();
      const fw = this.fw;
      this.fw = null;
      if (fw !== null) await destroyFw(fw);
    } finally {
      dev.devLock.unlock();
    }
    await this.queue.fini();
    await dev.rxWq.flush();
    this.syncobj.put();
    this.#putHeap();
    const cus = this.#cus;
    this.#cus = null;
    if (cus !== null) for (const c of cus) c.cuBo.put();
    dev._contextGone(this);
  }

  #putHeap(): void {
    const h = this.#heap;
    this.#heap = null;
    h?.put();
  }

  /** @internal `trace_xdna_job`. */
  _traceJob(job: AmdxdnaJob, what: AmdxdnaJobTraceWhat, status?: number): void {
    const rt = this.runtime;
    if (rt.trace.enabled) rt.trace.emit('amdxdna:job', { hwctx: this.name, seq: job.seq, what, status }, { lane: `amdxdna:${this.name}` });
  }

  #traceCtx(op: AmdxdnaHwctxTraceOp): void {
    const rt = this.runtime;
    if (!rt.trace.enabled) return;
    const c = this.fw?.columns;
    rt.trace.emit('amdxdna:hwctx', { hwctx: this.name, op, columns: c === undefined ? undefined : `${c.start}+${c.count}` }, { lane: `amdxdna:${this.name}` });
  }

  toString(): string {
    return `amdxdna ${this.name} (${this.status})`;
  }
}

/** Destroy a firmware context unless it is gone already; a device lost meanwhile is not an error here. */
async function destroyFw(fw: AieHwContext): Promise<void> {
  if (fw.state === 'destroyed' || fw.state === 'destroying') return;
  try {
    await fw.destroy();
  } catch (e) {
    if (!isDepError(e, 'ENODEV')) throw e;
  }
}
