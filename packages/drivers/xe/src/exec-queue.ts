/**
 * `struct xe_exec_queue` over the GuC-like firmware (xe_exec_queue.c, xe_guc_submit.c):
 * a GuC context with an id from the device's pool, an LRC ring, a DepQueue (drm_dep) that
 * runs jobs, per-LRC seqno hardware fences signalled from the user interrupt, the TDR
 * with the running-time check, and asynchronous teardown (disable + deregister, each
 * answered by a G2H reply).
 */
import { DmaFence, contextAlloc, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import { createCommandRing, type Command, type CommandRing, type EngineClass, type G2hMessage } from '@dep/hw-sim';
import { DepError, INTERRUPTED, TIMED_OUT, type Waker } from '@dep/kernel';
import { PreemptFence, type PreemptFenceOps } from '@dep/fence-preempt';
import { DepJob, DepQueue, type DepJobOptions, type DepTimeoutStatus, type PushedDepJob } from '@dep/queue';
import type { XeDevice } from './device.js';
import type { XeVm } from './vm.js';

const ENOENT = -2;
const ETIME = -62;
const ECANCELED = -125;

/** How long the host waits for a G2H reply before declaring the GuC stuck (xe: 5 s, then GT reset). */
export const XE_G2H_TIMEOUT = 5000;
/** The GuC answers scheduling requests late: a job that ran less than `timeout × (1 + slack)` is a false positive (xe_guc_submit.c check_timeout). */
export const XE_TIMEOUT_SLACK = 0.05;
/** LRC ring size in dwords. */
export const XE_RING_DWORDS = 1024;
/** Largest job on the ring: batch (4) + seqno write (6) + interrupt (1), padded. */
export const XE_MAX_JOB_DWORDS = 16;

/** A per-LRC seqno fence (`xe_hw_fence`): signalled from the user interrupt once the ring wrote its seqno. */
export class XeHwFence extends DmaFence {
  /** The queue whose ring carries it (a name for the timeline; no reference). */
  queueName = '';
}

const hwFenceOps: DmaFenceOps<XeHwFence> = {
  getDriverName: () => 'xe',
  getTimelineName: (f) => f.queueName,
};

/** `struct xe_sched_job`: one batch on an exec queue. */
export class XeJob extends DepJob {
  readonly xq: XeExecQueue;
  /** Model cost units of the batch. */
  readonly units: number;
  /** The hardware fence runJob made (not a reference). */
  hwFence: XeHwFence | null = null;
  /** The LRC seqno (0 until it ran). */
  lrcSeqno = 0n;

  constructor(xq: XeExecQueue, units: number, options?: DepJobOptions) {
    super(xq.dep, options);
    this.xq = xq;
    this.units = units;
  }
}

type G2hKind = 'enable' | 'disable' | 'deregister';

interface G2hWaiter {
  readonly kind: G2hKind;
  readonly w: Waker<number>;
}

/** What the queue's state bits say (xe_guc_submit.c `EXEC_QUEUE_STATE_*`). */
export interface XeExecQueueState {
  readonly registered: boolean;
  readonly enabled: boolean;
  readonly pendingEnable: boolean;
  readonly pendingDisable: boolean;
  readonly destroyed: boolean;
  readonly banned: boolean;
  readonly killed: boolean;
  readonly reset: boolean;
  /** Long-running queue suspended by its preempt fence, not yet resumed by the rebind worker. */
  readonly suspended: boolean;
}

/** Options of {@link XeExecQueue}. */
export interface XeExecQueueOptions {
  readonly engineClass: EngineClass;
  readonly priority: 0 | 1 | 2 | 3;
}

/**
 * An exec queue. Made by `XeFile.execQueueCreate` (which registers the GuC context);
 * destroyed by `execQueueDestroy` or the file's close (kill, then the DepQueue's async
 * teardown calls {@link XeExecQueue.deregister}).
 */
export class XeExecQueue {
  readonly xe: XeDevice;
  readonly vm: XeVm;
  readonly gucId: number;
  readonly engineClass: EngineClass;
  readonly priority: 0 | 1 | 2 | 3;
  readonly ring: CommandRing;
  readonly dep: DepQueue<XeJob>;
  /** Fence context of the hardware fences. */
  readonly fenceContext: bigint;
  /** Device address of the per-LRC seqno slot. */
  readonly seqnoAddr: number;
  /** Hardware fences emitted and not yet signalled, ascending seqno (each holds a reference). */
  readonly #pending: XeHwFence[] = [];
  #seqno = 0n;
  #registered = false;
  #enabled = false;
  #pendingEnable = false;
  #pendingDisable = false;
  #destroyed = false;
  #banned = false;
  #killed = false;
  #reset = false;
  #inTdr = false;
  /** A GT reset made the GuC forget this context while it was being deregistered. */
  #forgotten = false;
  /** Running-time counter when the last job completed (the head job started running then). */
  #runtimeAtCompletion = 0;
  /** Number of times the TDR decided "false positive". */
  falsePositives = 0;
  readonly #waiters: G2hWaiter[] = [];
  #released = false;
  /** Long-running: on an LR VM (no job timeout, a preempt fence in the VM's resvs). */
  readonly lr: boolean;
  #suspended = false;
  #pfence: PreemptFence | null = null;
  #pfSeqno = 0n;
  readonly #pfContext: bigint;
  readonly #pfOps: PreemptFenceOps;
  /** The finished fence of the last exec (a reference), for the engine group's switch to LR mode. */
  #lastFence: Fence | null = null;
  /** Suspends done (preempt fence or engine group; schedule disable answered). */
  preempts = 0;
  /** Resumes by the rebind worker. */
  resumes = 0;

  /** @internal Made by XeFile.execQueueCreate with a GuC id taken from the pool. */
  constructor(xe: XeDevice, vm: XeVm, gucId: number, options: XeExecQueueOptions) {
    const rt = xe.runtime;
    this.xe = xe;
    this.vm = vm;
    this.gucId = gucId;
    this.engineClass = options.engineClass;
    this.priority = options.priority;
    this.ring = createCommandRing(XE_RING_DWORDS, `lrc${gucId}`);
    this.fenceContext = contextAlloc(1, rt);
    this.seqnoAddr = xe.seqnoSlotAddr(gucId);
    const name = `xe_q${gucId}`;
    this.lr = vm.lr;
    this.#pfContext = vm.lr ? contextAlloc(1, rt) : 0n;
    this.#pfOps = {
      getDriverName: () => 'xe',
      getTimelineName: () => `${name}:preempt`,
      // The gate (RFC v2, only consulted with ordering 'gate'): the VM's last exported fence.
      preemptDelay: () => this.vm.lastExported?.get() ?? null,
      preempt: () => this.#suspend(),
      preemptWait: () => this.#suspendWait(),
      preemptFinished: () => {
        this.vm._queueRebind();
      },
    };
    this.dep = new DepQueue<XeJob>({
      runtime: rt,
      name,
      creditLimit: Math.floor((XE_RING_DWORDS - XE_MAX_JOB_DWORDS) / XE_MAX_JOB_DWORDS),
      timeout: vm.lr ? Infinity : xe.jobTimeoutMs,
      teardown: 'async',
      ops: {
        runJob: (job) => this.#runJob(job),
        timedoutJob: (job) => this.#timedoutJob(job),
        cancelJob: (job) => this.#cancelJob(job),
        freeJob: (job) => {
          job.hwFence = null;
        },
        deregister: () => this.deregister(),
        release: () => this.#release(),
      },
    });
  }

  /** The queue's state bits. */
  get state(): XeExecQueueState {
    return {
      registered: this.#registered,
      enabled: this.#enabled,
      pendingEnable: this.#pendingEnable,
      pendingDisable: this.#pendingDisable,
      destroyed: this.#destroyed,
      banned: this.#banned,
      killed: this.#killed,
      reset: this.#reset,
      suspended: this.#suspended,
    };
  }

  /** Banned (by the TDR or a GuC reset) or killed: exec refuses it with ECANCELED. */
  get bannedOrKilled(): boolean {
    return this.#banned || this.#killed;
  }

  /** True once the teardown finished (GuC id back in the pool, queue released). */
  get released(): boolean {
    return this.#released;
  }

  /** Hardware fences on the ring not yet signalled. */
  get pendingHwFences(): number {
    return this.#pending.length;
  }

  /** `register_exec_queue`: the REGISTER H2G (no reply). Throws the firmware's errno (EBUSY, ENODEV). */
  register(): void {
    if (this.#seqno === 0n) this.xe.gpu.memory.write64(this.seqnoAddr, 0n);
    this.xe.gpu.fw.registerContext({ id: this.gucId, engineClass: this.engineClass, ring: this.ring, priority: this.priority, name: `guc${this.gucId}` });
    this.#registered = true;
  }

  /** `xe_exec_queue_kill`: mark killed; queued jobs complete with -ESRCH, the TDR cleans up what runs. */
  kill(): void {
    if (this.#killed || this.#released) return;
    this.#killed = true;
    this.#dropPreemptFence();
    this.dep.kill();
  }

  /** Destroy (the ioctl or the file's close): kill and start the async teardown. Process context. */
  async destroy(): Promise<void> {
    this.#killed = true;
    this.#dropPreemptFence();
    const group = this.xe.engineGroup(this.engineClass);
    if (group.queues.has(this)) await group.del(this);
    await this.dep.fini();
  }

  /** On a fault-mode VM: a member of its engine group's LR mode. */
  get faulting(): boolean {
    return this.vm.faultMode;
  }

  /** The finished fence of the last exec, or null (no reference for the caller). */
  get lastFence(): Fence | null {
    return this.#lastFence;
  }

  /** @internal The exec ioctl's new last fence (takes a reference). */
  _setLastFence(f: Fence): void {
    const old = this.#lastFence;
    this.#lastFence = f.get();
    old?.put();
  }

  /** @internal `q->ops->suspend` for the engine group. */
  _suspend(): void {
    this.#suspend();
  }

  /** @internal `q->ops->suspend_wait` for the engine group: 0 or -errno. */
  async _suspendWait(): Promise<number> {
    return this.#suspendWait();
  }

  /** @internal `q->ops->resume` for the engine group's resume worker. */
  _resumeFaulting(): void {
    if (!this.#suspended || this.#killed || this.#banned || this.#released) return;
    this.#suspended = false;
    this.resumes++;
    if (this.#seqno === 0n || this.#enabled) return;
    try {
      this.xe.gpu.fw.enableScheduling(this.gucId);
      this.#enabled = true;
      this.#pendingEnable = true;
    } catch {
      this.#banned = true;
      this.#errorPending(ECANCELED, ECANCELED);
    }
  }

  // --- long-running mode: preempt fence, suspend, resume --------------------------------------

  /** The queue's current preempt fence (long-running queues), or null. */
  get preemptFence(): PreemptFence | null {
    return this.#pfence;
  }

  /** @internal A new preempt fence on the queue's preempt context (allocates: not in a signalling path). */
  _newPreemptFence(): PreemptFence {
    return new PreemptFence(this.#pfOps, this.#pfContext, ++this.#pfSeqno, { wq: this.xe.preemptWq, ordering: this.xe.preemptOrdering });
  }

  /** @internal The first preempt fence, installed in the VM's resvs by the create ioctl. */
  _setPreemptFence(pf: PreemptFence): void {
    this.#pfence = pf;
  }

  /** @internal Suspended by its preempt fence and still alive: the rebind worker resumes it. */
  _needsResume(): boolean {
    return this.#suspended && !this.#killed && !this.#banned && !this.#released;
  }

  /** @internal The rebind worker installed `pf` in the VM's resvs: keep it, enable scheduling again. */
  _resume(pf: PreemptFence): void {
    this.#pfence?.put();
    this.#pfence = pf;
    this.#suspended = false;
    this.resumes++;
    if (this.#seqno === 0n || this.#enabled) return;
    try {
      this.xe.gpu.fw.enableScheduling(this.gucId);
      this.#enabled = true;
      this.#pendingEnable = true;
    } catch {
      this.#banned = true;
      this.#errorPending(ECANCELED, ECANCELED);
    }
  }

  /** `xe_vm_remove_compute_exec_queue`: the preempt fence must still signal (-ENOENT: the queue is gone); drop the queue's reference. */
  #dropPreemptFence(): void {
    const pf = this.#pfence;
    if (pf === null) return;
    this.#pfence = null;
    pf.enableSwSignaling();
    pf.put();
  }

  /** The preempt fence's `preempt` (xe `guc_exec_queue_suspend`): disable scheduling; -ENOENT for a dead queue. */
  #suspend(): number {
    if (this.#killed || this.#banned || this.#released) return ENOENT;
    this.#suspended = true;
    if (!this.#enabled) return 0;
    try {
      this.xe.gpu.fw.disableScheduling(this.gucId);
    } catch (e) {
      return e instanceof DepError ? e.errno : -5;
    }
    this.#enabled = false;
    this.#pendingDisable = true;
    return 0;
  }

  /** The preempt fence's `preempt_wait` (`guc_exec_queue_suspend_wait`): the sched-done G2H, at most 5 s. */
  async #suspendWait(): Promise<number> {
    if (!this.#pendingDisable) {
      this.preempts++;
      return 0;
    }
    const r = await this.#waitG2h('disable');
    // xe: "Suspend fence failed to respond" and -ETIME, no GT reset ("XXX: Trigger GT reset?").
    if (r === 'timeout') return ETIME;
    if (r < 0) return r;
    this.preempts++;
    return 0;
  }

  // --- runJob -----------------------------------------------------------------------------

  #runJob(job: PushedDepJob<XeJob>): Fence | null {
    if (this.#banned || this.#killed) throw new DepError('ECANCELED', `xe exec queue ${this.gucId} is banned or killed`);
    const rt = this.xe.runtime;
    const seqno = ++this.#seqno;
    const f = new XeHwFence(hwFenceOps, this.fenceContext, seqno, { runtime: rt });
    f.queueName = this.dep.name;
    const cmds: Command[] = [
      { op: 'batch', units: job.units, label: `${this.dep.name}#${seqno}` },
      { op: 'seqnoWrite', addr: this.seqnoAddr, value: seqno },
      { op: 'interrupt' },
    ];
    this.ring.write(cmds);
    job.hwFence = f;
    job.lrcSeqno = seqno;
    this.#pending.push(f.get());
    try {
      const fw = this.xe.gpu.fw;
      if (this.#suspended) {
        // Preempted (long-running): the ring holds it; the resume enables scheduling.
      } else if (!this.#enabled) {
        fw.enableScheduling(this.gucId);
        this.#enabled = true;
        this.#pendingEnable = true;
      } else {
        fw.submit(this.gucId);
      }
    } catch (e) {
      // The GuC refused (H2G buffer full, device lost, context banned): the job fails.
      this.#errorPending(e instanceof DepError ? e.errno : -5, -5);
    }
    return f;
  }

  // --- interrupts ---------------------------------------------------------------------------

  /** @internal The user interrupt of this context (irq context): signal every fence whose seqno passed. */
  _userInterrupt(): void {
    const done = this.xe.gpu.memory.read64(this.seqnoAddr);
    let progressed = false;
    while (this.#pending.length > 0 && this.#pending[0]!.seqno <= done) {
      const f = this.#pending.shift()!;
      f.signal();
      f.put();
      progressed = true;
    }
    if (progressed) this.#runtimeAtCompletion = this.#runtimeNow();
  }

  /** @internal A G2H for this context (irq context). */
  _g2h(msg: G2hMessage): void {
    switch (msg.type) {
      case 'sched-done':
        if (msg.enabled) {
          this.#pendingEnable = false;
          this.#wake('enable', msg.runtimeMs);
        } else {
          this.#pendingDisable = false;
          this.#wake('disable', msg.runtimeMs);
        }
        return;
      case 'deregister-done':
        this.#wake('deregister', 0);
        return;
      case 'context-reset':
        // xe_guc_exec_queue_reset_handler: mark reset and trigger the cleanup (the TDR).
        this.#reset = true;
        if (!this.#inTdr && !this.#released && this.dep.refcount > 0) this.dep.triggerTimeout();
        return;
      case 'error': {
        const kind: G2hKind | null = msg.action === 'enable-scheduling' ? 'enable' : msg.action === 'disable-scheduling' ? 'disable' : msg.action === 'deregister' ? 'deregister' : null;
        if (msg.action === 'enable-scheduling') {
          this.#enabled = false;
          this.#pendingEnable = false;
        }
        if (msg.action === 'disable-scheduling') {
          this.#enabled = true;
          this.#pendingDisable = false;
        }
        const woken = kind !== null && this.#wake(kind, msg.status);
        if (!woken && (msg.action === 'submit' || msg.action === 'register' || msg.action === 'enable-scheduling')) {
          // Nothing it asked for happened and nobody waits to handle it (the first job's
          // enable, a submit, the register): the work on the ring never runs. Ban.
          this.#banned = true;
          this.#errorPending(msg.status, ECANCELED);
        }
        return;
      }
    }
  }

  #wake(kind: G2hKind, value: number): boolean {
    for (let i = 0; i < this.#waiters.length; i++) {
      const x = this.#waiters[i]!;
      if (x.kind !== kind) continue;
      this.#waiters.splice(i, 1);
      x.w.wake(value);
      return true;
    }
    return false;
  }

  /**
   * Wait for the G2H reply `kind` (sched-done / deregister-done). Resolves its value (running
   * time, or a negative status; -EIO when a GT reset lost it), or `'timeout'` after
   * {@link XE_G2H_TIMEOUT} (the GuC did not respond: counted on the device).
   */
  async #waitG2h(kind: G2hKind): Promise<number | 'timeout'> {
    const r = await this.xe.runtime.sleepOn<number>(`xe guc${this.gucId} ${kind} G2H`, (w) => {
      const entry = { kind, w };
      this.#waiters.push(entry);
      return () => {
        const i = this.#waiters.indexOf(entry);
        if (i >= 0) this.#waiters.splice(i, 1);
      };
    }, { timeout: XE_G2H_TIMEOUT, object: this });
    if (r === TIMED_OUT || r === INTERRUPTED) {
      this.xe._g2hTimedOut();
      return 'timeout';
    }
    return r;
  }

  /**
   * `disable_scheduling` and wait for its sched-done: the running time, a negative status,
   * null when scheduling was not enabled or the GuC refused the request, `'timeout'` when
   * no reply came in {@link XE_G2H_TIMEOUT}.
   */
  async #disable(): Promise<number | null | 'timeout'> {
    if (!this.#enabled) return null;
    try {
      this.xe.gpu.fw.disableScheduling(this.gucId);
    } catch {
      return null;
    }
    this.#enabled = false;
    this.#pendingDisable = true;
    return this.#waitG2h('disable');
  }

  #runtimeNow(): number {
    try {
      return this.xe.gpu.fw.runtimeMs(this.gucId);
    } catch {
      return 0;
    }
  }

  /** Signal every pending hardware fence with an error: the oldest with `head`, the rest with `rest`. */
  #errorPending(head: number, rest: number): void {
    const fences = this.#pending.splice(0);
    fences.forEach((f, i) => {
      f.setError(i === 0 ? head : rest);
      f.signal();
      f.put();
    });
  }

  /** @internal The device was lost (irq context): ban, error every hardware fence with -ENODEV, wake G2H waiters. */
  _deviceLost(): void {
    this.#banned = true;
    this.#errorPending(-19, -19);
    for (const w of this.#waiters.splice(0)) w.w.wake(-19);
  }

  // --- GT reset ------------------------------------------------------------------------------

  /**
   * @internal `guc_exec_queue_stop` before a GT reset: stop the DepQueue; decide guilt — a
   * queue whose head job had started (its context ran since the last completion) and not
   * completed is banned, as is a long-running queue with work on its ring. Returns whether
   * it was banned.
   */
  async _gtStop(): Promise<boolean> {
    // Being deregistered (the DepQueue is in its teardown): nothing to stop; the start below
    // marks it forgotten.
    if (this.#released || !this.#registered || this.#destroyed) return false;
    await this.dep.stop();
    if (this.#banned || this.#killed) return true;
    const head = this.#pending[0];
    const started = head !== undefined && this.#runtimeNow() > this.#runtimeAtCompletion;
    if (started || (this.lr && this.#pending.length > 0 && !this.#suspended)) this.#banned = true;
    return this.#banned;
  }

  /**
   * @internal `guc_exec_queue_start` after the GT reset: the GuC forgot every context. A
   * banned queue errors its jobs out (-ECANCELED, the head -EIO); the others are registered
   * again and, if they had work, scheduling is enabled — the ring replays from its read
   * pointer. Waiters of lost G2H replies are woken with -EIO. Then the DepQueue restarts.
   */
  _gtStart(): void {
    if (this.#released) return;
    this.#enabled = false;
    this.#pendingEnable = false;
    this.#pendingDisable = false;
    if (this.#destroyed) {
      // Lost G2H of a deregistration: the GuC no longer knows the context; the teardown
      // frees the id ("Clean up lost G2H": __guc_exec_queue_destroy).
      this.#forgotten = this.#registered;
      this.#registered = false;
      for (const w of this.#waiters.splice(0)) w.w.wake(-5);
      return;
    }
    for (const w of this.#waiters.splice(0)) w.w.wake(-5);
    if (!this.#registered) {
      this.dep.start();
      return;
    }
    if (this.#banned || this.#killed) {
      this.#registered = false;
      this.#errorPending(-5, ECANCELED);
      this.dep.start();
      return;
    }
    this.#runtimeAtCompletion = 0;
    try {
      this.register();
      this.xe.gpu.memory.write64(this.seqnoAddr, this.#pending.length > 0 ? this.#pending[0]!.seqno - 1n : this.#seqno);
      if (this.#pending.length > 0 && !this.#suspended) {
        this.xe.gpu.fw.enableScheduling(this.gucId);
        this.#enabled = true;
        this.#pendingEnable = true;
      }
    } catch {
      this.#banned = true;
      this.#registered = false;
      this.#errorPending(-5, ECANCELED);
    }
    this.dep.start();
  }

  // --- TDR ----------------------------------------------------------------------------------

  /**
   * `guc_exec_queue_timedout_job`: a job that has not started (the context's running-time
   * counter has not moved since the last completion) cannot have timed out — re-arm.
   * Otherwise disable scheduling to sample the running-time counter; a
   * job that ran less than the timeout (+5 % slack) is a false positive — re-enable and
   * re-arm. Otherwise (or after a GuC engine reset, or a kill) ban the queue: the job's
   * fence gets -ETIME (-ECANCELED when killed), every other job on the ring -ECANCELED;
   * queued jobs are refused by runJob (-ECANCELED).
   */
  async #timedoutJob(job: PushedDepJob<XeJob>): Promise<DepTimeoutStatus> {
    this.#inTdr = true;
    try {
      if (this.xe.gpu.lost) {
        this.#banned = true;
        this.#errorPending(-19, -19);
        return 'enodev';
      }
      if (!this.#banned && !this.#killed && !this.#reset && !this.#pendingEnable && this.#runtimeNow() <= this.#runtimeAtCompletion) {
        // "Job hasn't started, can't be timed out": re-arm without touching the GuC (only
        // once the GuC acknowledged the enable).
        this.falsePositives++;
        return 'noHang';
      }
      if (!this.#banned && !this.#killed && !this.#reset) {
        // "Wait for any pending G2H to flush out before modifying state": an enable the GuC
        // never answers is a stuck GuC.
        if (this.#pendingEnable && (await this.#waitG2h('enable')) === 'timeout') return this.#escalate();
        const ranBefore = this.#runtimeAtCompletion;
        const runtime = await this.#disable();
        if (runtime === 'timeout') return this.#escalate();
        if (runtime !== null && runtime >= 0 && !this.#reset) {
          const ran = runtime - ranBefore;
          if (ran < this.xe.jobTimeoutMs * (1 + XE_TIMEOUT_SLACK) && !job.hwFence?.isSignaled()) {
            // False positive: it waited for the engine, it did not hang.
            this.falsePositives++;
            try {
              this.xe.gpu.fw.enableScheduling(this.gucId);
              this.#enabled = true;
              this.#pendingEnable = true;
              const r = await this.#waitG2h('enable');
              if (r === 'timeout') return this.#escalate();
              if (r >= 0) return 'noHang';
            } catch {
              // fall through: ban
            }
          }
        }
      }
      this.#banned = true;
      if (this.#enabled && (await this.#disable()) === 'timeout') return this.#escalate();
      this.#errorPending(this.#killed ? ECANCELED : ETIME, ECANCELED);
      return 'reset';
    } finally {
      this.#inTdr = false;
    }
  }

  /**
   * The TDR's `trigger_reset` (and `enable_scheduling`'s): the GuC did not answer a
   * schedule enable/disable within {@link XE_G2H_TIMEOUT}. Ban the queue, queue a GT reset
   * (`xe_gt_reset_async`) and re-arm: the reset's stop/start errors the banned queue's jobs
   * out (the head -EIO, the rest -ECANCELED), which ends this job.
   */
  #escalate(): DepTimeoutStatus {
    this.#banned = true;
    this.xe.gtResetAsync();
    return 'noHang';
  }

  #cancelJob(job: PushedDepJob<XeJob>): void {
    const f = job.hwFence;
    if (f === null) return;
    const i = this.#pending.indexOf(f);
    if (i < 0) return;
    this.#pending.splice(i, 1);
    f.setError(ECANCELED);
    f.signal();
    f.put();
  }

  // --- teardown -------------------------------------------------------------------------------

  /**
   * The DepQueue's `deregister` op (async teardown): disable scheduling (wait for
   * sched-done), deregister (wait for deregister-done), then give the GuC id back. A reply
   * that does not come within {@link XE_G2H_TIMEOUT} escalates to a GT reset (awaited): the
   * GuC forgets every context, so the id is free again (xe's `guc_exec_queue_stop` destroys
   * a queue whose deregistration was lost). An error reply leaks the id with a WARN.
   */
  async deregister(): Promise<void> {
    const gpu = this.xe.gpu;
    this.#destroyed = true;
    if (!this.#registered || gpu.lost) {
      this.#finishDeregister(true);
      return;
    }
    let lost = false;
    let ok = false;
    if (this.#enabled && (await this.#disable()) === 'timeout') lost = true;
    if (!lost && !this.#forgotten) {
      try {
        gpu.fw.deregisterContext(this.gucId);
        const r = await this.#waitG2h('deregister');
        if (r === 'timeout') lost = true;
        else ok = r >= 0;
      } catch {
        ok = false;
      }
    }
    if (lost && !this.#forgotten) {
      this.xe.gtResetAsync();
      await this.xe.flushGtReset();
    }
    if (this.#forgotten) ok = true;
    this.xe.runtime.reports.warnOn(!ok && !gpu.lost, `xe: guc${this.gucId} deregistration got an error reply; its GuC id is not reused`);
    this.#finishDeregister(ok || gpu.lost);
  }

  #finishDeregister(freeId: boolean): void {
    this.#registered = false;
    this.#errorPending(ECANCELED, ECANCELED);
    this.xe._queueGone(this, freeId);
  }

  #release(): void {
    this.#released = true;
    this.#lastFence?.put();
    this.#lastFence = null;
    this.vm._queueReleased(this);
  }

  toString(): string {
    return `xe_exec_queue guc${this.gucId}`;
  }
}
