/**
 * `@dep/queue/testing`: a mock hardware timeline and a mock driver, after the kernel's
 * drm_mock_scheduler (drivers/gpu/drm/scheduler/tests/mock_scheduler.c): jobs complete in
 * submission order, either after a per-job duration in virtual time (the completion is an
 * interrupt: the hardware fence signals in irq context) or when the test advances the
 * timeline by hand ({@link MockHw.advance}).
 */
import { DepError, getDefaultRuntime, type Runtime } from '@dep/kernel';
import { DmaFence, contextAlloc, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import { DepJob, type DepJobOptions } from './job.js';
import type { DepQueue } from './queue.js';
import type { DepQueueOps, DepTimeoutStatus, PushedDepJob } from './types.js';

const ECANCELED = -125;
const ETIMEDOUT = -110;

/** A hardware fence of the mock timeline. */
class MockHwFence extends DmaFence {
  /** Virtual time at which it completes (Infinity: hangs until advanced or cancelled). */
  finishAt = Infinity;
  /** Submission number on the timeline (1, 2, …). */
  hwSeqno = 0;
  /** The completion event, when timed. */
  timer: ReturnType<Runtime['executor']['schedule']> | null = null;
  /** The timeline it runs on. */
  hw: MockHw | null = null;
}

const hwFenceOps: DmaFenceOps<MockHwFence> = {
  getDriverName: () => 'drm_mock_hw',
  getTimelineName: (f) => f.hw?.name ?? 'mock-hw',
};

function completeDueIrq(hw: MockHw): void {
  hw.completeDue();
}

function completeTimed(arg: unknown): void {
  const f = arg as MockHwFence;
  f.timer = null;
  f.hw?.completeDue();
}

/** Options of {@link MockHw}. */
export interface MockHwOptions {
  readonly runtime?: Runtime;
  /** Timeline name. Default `mock-hw`. */
  readonly name?: string;
}

/**
 * A mock in-order hardware timeline. {@link MockHw.submit} starts a job and returns its
 * hardware fence (a new reference for the caller; the timeline keeps its own until the job
 * completes). A job with a `duration` (ms) finishes `duration` after the previous job
 * finished (or after now, if the timeline is idle); its fence signals from an interrupt
 * (irq context). A job without a duration waits for {@link MockHw.advance}.
 */
export class MockHw {
  readonly runtime: Runtime;
  readonly name: string;
  readonly context: bigint;
  /** Jobs submitted. */
  submitted = 0;
  /** Jobs completed (the timeline's current seqno). */
  completed = 0;
  /** Fences signalled from an interrupt (timed completions). */
  interrupts = 0;
  readonly #jobs: MockHwFence[] = [];
  #lastFinish = 0;

  constructor(options: MockHwOptions = {}) {
    this.runtime = options.runtime ?? getDefaultRuntime();
    this.name = options.name ?? 'mock-hw';
    this.context = contextAlloc(1, this.runtime);
  }

  /** Jobs submitted and not completed, in order. */
  get pending(): number {
    return this.#jobs.length;
  }

  /** The pending hardware fences, oldest first. */
  pendingFences(): readonly Fence[] {
    return this.#jobs;
  }

  /**
   * Start a job. `duration` in ms (virtual time) completes it by itself, in order, from an
   * interrupt; `undefined` waits for {@link MockHw.advance}; `Infinity` hangs until cancelled.
   * Returns the hardware fence, a reference owned by the caller (`runJob` hands it to the queue).
   */
  submit(duration?: number): Fence {
    if (duration !== undefined && (typeof duration !== 'number' || !(duration >= 0))) {
      throw new DepError('EINVAL', `MockHw.submit(${String(duration)}): pass a duration in ms ≥ 0, Infinity to hang, or nothing to wait for advance()`);
    }
    const rt = this.runtime;
    const seq = ++this.submitted;
    const f = new MockHwFence(hwFenceOps, this.context, BigInt(seq), { runtime: rt });
    f.hw = this;
    f.hwSeqno = seq;
    this.#jobs.push(f);
    if (duration !== undefined && duration !== Infinity) {
      // As the kernel's mock: timed from the previous timed job's finish (or now); a job
      // without a duration does not delay the clock, but completion stays in order.
      const start = Math.max(rt.now(), this.#lastFinish);
      f.finishAt = start + duration;
      this.#lastFinish = f.finishAt;
      f.timer = rt.executor.schedule(f.finishAt - rt.now(), rt.irqFrame, completeTimed, f, false);
    }
    return f.get(); // one for the caller; the timeline keeps the one init gave
  }

  /**
   * `drm_mock_sched_advance`: move the timeline `n` jobs on; every pending job up to it
   * completes (in order, signalled right here in the caller's context). Returns how many
   * completed.
   */
  advance(n = 1): number {
    if (!Number.isInteger(n) || n < 0) throw new DepError('EINVAL', `MockHw.advance(${String(n)}): pass a count ≥ 0`);
    const target = this.completed + n;
    let found = 0;
    while (this.#jobs.length > 0 && this.#jobs[0]!.hwSeqno <= target) {
      this.#complete(this.#jobs[0]!, 0);
      found++;
    }
    this.completed = Math.max(this.completed, target);
    return found;
  }

  /** @internal Complete the head jobs whose time has come (timer event, irq context). */
  completeDue(): void {
    const now = this.runtime.now();
    while (this.#jobs.length > 0 && this.#jobs[0]!.finishAt <= now) {
      this.interrupts++;
      this.#complete(this.#jobs[0]!, 0);
    }
  }

  /**
   * Take a job off the timeline and signal its fence with `error` (default `-ECANCELED`):
   * what `cancelJob` does at teardown, or a reset after a timeout (`-ETIMEDOUT`). Returns
   * false if it had completed already.
   */
  cancel(fence: Fence, error = ECANCELED): boolean {
    const i = this.#jobs.indexOf(fence as MockHwFence);
    if (i < 0) return false;
    this.#complete(this.#jobs[i]!, error);
    return true;
  }

  /** {@link MockHw.cancel} with `-ETIMEDOUT` (the mock scheduler's timeout handling). */
  timeout(fence: Fence): boolean {
    return this.cancel(fence, ETIMEDOUT);
  }

  #complete(f: MockHwFence, error: number): void {
    const i = this.#jobs.indexOf(f);
    if (i >= 0) this.#jobs.splice(i, 1);
    if (f.timer !== null) {
      this.runtime.executor.cancel(f.timer);
      f.timer = null;
    }
    if (i === 0 && error === 0) this.completed = Math.max(this.completed, f.hwSeqno);
    if (error !== 0) f.setError(error);
    f.signal();
    f.put(); // the timeline's reference
    // Jobs that came due behind it complete now, from an interrupt.
    const head = this.#jobs[0];
    if (i === 0 && head !== undefined && head.finishAt <= this.runtime.now()) this.runtime.queueIrq(completeDueIrq, this);
  }
}

/** Options of a {@link MockJob}. */
export interface MockJobOptions extends DepJobOptions {
  /** Hardware duration in ms; `undefined` waits for `hw.advance()`, `Infinity` hangs. */
  readonly duration?: number;
  /** A label for the test's logs. Default: a per-queue counter. */
  readonly id?: number;
}

const ids = new WeakMap<object, number>();

/** A driver job on a {@link MockDriver} queue: a `DepJob` with a duration and an id. */
export class MockJob extends DepJob {
  readonly duration: number | undefined;
  readonly id: number;
  /** The hardware fence runJob got (kept for the test's eyes; not a reference). */
  hwFence: Fence | null = null;

  constructor(queue: DepQueue<MockJob>, options: MockJobOptions = {}) {
    super(queue, options);
    this.duration = options.duration;
    const next = (ids.get(queue) ?? 0) + 1;
    ids.set(queue, next);
    this.id = options.id ?? next;
  }
}

/** Options of a {@link MockDriver}. */
export interface MockDriverOptions {
  /** What `timedoutJob` does: a status (default `reset`: the job's fence is signalled with -ETIMEDOUT first), or a function. */
  readonly onTimeout?: DepTimeoutStatus | ((job: PushedDepJob<MockJob>, hw: MockHw) => DepTimeoutStatus | Promise<DepTimeoutStatus>);
  /** Declare `freeJob` irq-safe (needed by `jobPutIrqSafe`). Default true. */
  readonly freeJobIrqSafe?: boolean;
  /** Leave `cancelJob` out (to test teardown without it). */
  readonly noCancel?: boolean;
  /** A `deregister` hook (firmware deregistration replies). */
  readonly deregister?: (queue: DepQueue<MockJob>) => void | Promise<void>;
}

/**
 * A driver on a {@link MockHw}, implementing {@link DepQueueOps} the way the kernel's mock
 * scheduler does, and recording what happened for the test: the ids of jobs run, freed,
 * timed out and cancelled, in order, and where each free ran.
 */
export class MockDriver {
  readonly hw: MockHw;
  readonly ran: number[] = [];
  readonly freed: number[] = [];
  readonly freedIn: string[] = [];
  readonly timedOut: number[] = [];
  readonly cancelled: number[] = [];
  readonly deregistered: string[] = [];
  readonly released: string[] = [];
  /** The ops to give the queue (`new DepQueue({ ops: driver.ops, … })`). */
  readonly ops: DepQueueOps<MockJob>;
  readonly #onTimeout: MockDriverOptions['onTimeout'];
  readonly #deregister: MockDriverOptions['deregister'];

  constructor(hw: MockHw, options: MockDriverOptions = {}) {
    this.hw = hw;
    this.#onTimeout = options.onTimeout ?? 'reset';
    this.#deregister = options.deregister;
    const ops: DepQueueOps<MockJob> = {
      freeJobIrqSafe: options.freeJobIrqSafe ?? true,
      runJob: (job) => this.runJob(job),
      timedoutJob: (job) => this.timedoutJob(job),
      freeJob: (job) => this.freeJob(job),
      deregister: (q) => this.deregister(q),
      release: (q) => this.release(q),
    };
    if (options.noCancel !== true) ops.cancelJob = (job) => this.cancelJob(job);
    this.ops = ops;
  }

  cancelJob(job: PushedDepJob<MockJob>): void {
    this.cancelled.push(job.id);
    if (job.hwFence !== null) this.hw.cancel(job.hwFence, ECANCELED);
  }

  runJob(job: PushedDepJob<MockJob>): Fence | null {
    this.ran.push(job.id);
    const f = this.hw.submit(job.duration);
    job.hwFence = f;
    return f;
  }

  timedoutJob(job: PushedDepJob<MockJob>): DepTimeoutStatus | Promise<DepTimeoutStatus> {
    this.timedOut.push(job.id);
    const t = this.#onTimeout;
    if (typeof t === 'function') return t(job, this.hw);
    if (t === 'reset' && job.hwFence !== null) this.hw.timeout(job.hwFence);
    return t ?? 'reset';
  }

  freeJob(job: PushedDepJob<MockJob> | MockJob): void {
    this.freed.push(job.id);
    this.freedIn.push(job.queue.runtime.context);
    job.hwFence = null;
  }

  deregister(queue: DepQueue<MockJob>): void | Promise<void> {
    this.deregistered.push(queue.name);
    return this.#deregister?.(queue);
  }

  release(queue: DepQueue<MockJob>): void {
    this.released.push(queue.name);
  }
}
