import { isAtomicContext, type ExecContext } from './context.js';
import { DepError } from './error.js';
import type { ExecutorHooks } from './executor.js';
import { checkAlloc, type Gfp } from './alloc.js';
import { FaultInjector } from './fault-inject.js';
import { LifetimeTracker } from './lifetime.js';
import { Lockdep } from './lockdep.js';
import { Prng } from './random.js';
import { RealExecutor } from './real-executor.js';
import { ReportSink, isDepWarning, type Checks } from './report.js';
import { Task } from './task.js';
import { Tracer } from './trace.js';
import { VirtualExecutor } from './virtual-executor.js';

/** Result of a wait that timed out (`schedule_timeout` ran out). */
export const TIMED_OUT: unique symbol = Symbol('timed out');
/** Result of an interruptible wait whose `AbortSignal` fired (`-ERESTARTSYS`). */
export const INTERRUPTED: unique symbol = Symbol('interrupted');

/** Options every wait takes. */
export interface WaitOptions {
  /** In ms; `Infinity` (the default) waits forever; 0 or less times out at once. */
  readonly timeout?: number;
  /** Interrupts the wait (an interruptible sleep receiving a signal). */
  readonly signal?: AbortSignal;
}

/** The handle a sleeper gives to whoever will wake it. */
export interface Waker<T> {
  /**
   * Wake the sleeper with `value`: queues a wake-up event that resumes it at this instant.
   * Returns false if it was already woken (or timed out, or interrupted). Any context.
   */
  wake(value: T): boolean;
}

/** A task (or external code) blocked in a wait, as the stall guard lists it. */
export interface BlockedWait {
  readonly task: Task;
  readonly reason: string;
  /** What it waits on (a fence, a lock), for stall hooks that know more about it. */
  readonly object: unknown;
  readonly since: number;
}

/** A stall hook: given what is blocked, returns extra report lines (wait-for chains). */
export type StallHook = (blocked: readonly BlockedWait[]) => readonly string[] | void;

/** What {@link Runtime.runUntilIdle} found when it stopped. */
export interface IdleResult {
  /** Time at which it stopped (ms). */
  readonly now: number;
  /** Waits still blocked with nothing left to run: a stall (empty when all is well). */
  readonly stalled: readonly BlockedWait[];
}

/** Options of a {@link Runtime}. */
export interface RuntimeOptions {
  /** `virtual` (default): seeded discrete-event time. `real`: the event loop. */
  readonly executor?: 'virtual' | 'real';
  /** Seed of the PRNG (chaos, fault injection, `random()`). Default 1. */
  readonly seed?: number;
  /** Virtual executor only: pick among events runnable at the same instant by the seed. */
  readonly chaos?: boolean;
  /** `strict` (default; reports throw), `warn` (reports recorded), `off` (no bookkeeping). */
  readonly checks?: Checks;
  /** Name for reports and traces. */
  readonly name?: string;
}

/** Options of {@link Runtime.spawn}. */
export interface SpawnOptions {
  /** `process` (default) or `worker`. */
  readonly context?: 'process' | 'worker';
  /**
   * A joinable task's failure is handed to {@link TaskHandle.join} instead of being an
   * oops. Default false.
   */
  readonly joinable?: boolean;
}

/** A spawned task. */
export interface TaskHandle<T> {
  readonly task: Task;
  /** True once the task's function returned or threw. */
  readonly finished: boolean;
  /** Wait (sleeps) until the task finished; its result, or its error rethrown. */
  join(options?: WaitOptions): Promise<T>;
}

interface Sleeper<T> extends Waker<T>, BlockedWait {
  done: boolean;
  resolve: (v: T | typeof TIMED_OUT | typeof INTERRUPTED) => void;
  disarm: (() => void) | void;
  timer: ReturnType<VirtualExecutor['schedule']> | null;
  abort: (() => void) | null;
}

let runtimeCount = 0;

/**
 * The runtime every object of a simulation belongs to: the one time base (an executor),
 * the execution contexts, the WARN sink, tracing, and the seeded PRNG. Objects get their
 * runtime when created; nothing is found through hidden async context.
 */
export class Runtime {
  readonly name: string;
  readonly checks: Checks;
  readonly seed: number;
  readonly executor: VirtualExecutor | RealExecutor;
  /** The WARN sink. */
  readonly reports: ReportSink;
  readonly trace: Tracer;
  /** The lock validator (lock classes, dependency graph, signalling annotation). */
  readonly lockdep: Lockdep;
  /** Frame of code that runs outside any executor event (a test body, a top-level script). */
  readonly externalFrame: Task;
  /** Frame of interrupt handlers and irq_work. */
  readonly irqFrame: Task;
  /** Frame of timer callbacks. */
  readonly timerFrame: Task;
  /** Fault injection: failing chosen allocations (and later layers' fault kinds). */
  readonly faults: FaultInjector;
  /** The leak and use-after-free tracker (inert with checks `off`). */
  readonly lifetimes: LifetimeTracker;
  #nextTaskId = 1;
  readonly #prng: Prng;
  readonly #blocked = new Set<Sleeper<unknown>>();
  readonly #stallHooks: StallHook[] = [];
  readonly #shutdownHooks: Array<() => void> = [];
  /** Queued irq_work as `(fn, arg)` pairs, and the emptied list of the last raise (reused). */
  #irqWork: unknown[] = [];
  #irqWorkSpare: unknown[] = [];
  readonly #subsystems = new Map<object, unknown>();
  #shutDown = false;

  constructor(options: RuntimeOptions = {}) {
    this.name = options.name ?? `rt${runtimeCount++}`;
    this.checks = options.checks ?? 'strict';
    this.seed = options.seed ?? 1;
    this.#prng = new Prng(this.seed);
    this.externalFrame = this.newTask('external', 'process');
    this.irqFrame = this.newTask('irq', 'irq');
    this.timerFrame = this.newTask('timer', 'timer');
    const hooks: ExecutorHooks = {
      oops: (error, frame) => this.#oops(error, frame),
      settle: this.checks === 'off' ? null : (frame) => this.#settle(frame),
    };
    this.executor =
      options.executor === 'real'
        ? new RealExecutor(hooks)
        : new VirtualExecutor(hooks, { chaos: options.chaos ?? false, seed: this.seed });
    const origin = { now: () => this.executor.now(), currentName: () => this.current.name };
    this.reports = new ReportSink(origin, this.checks === 'strict');
    this.trace = new Tracer(origin);
    this.faults = new FaultInjector(this);
    this.lifetimes = new LifetimeTracker(this);
    this.onShutdown(() => { this.lifetimes.reportLeaks(); });
    this.lockdep = new Lockdep(this);
  }

  /** Current time in ms. */
  now(): number {
    return this.executor.now();
  }

  /** A cheap timestamp for hot paths: exact in virtual time, the event's start in real time. */
  coarseNow(): number {
    return this.executor.coarseNow();
  }

  /** The running task or frame; {@link externalFrame} outside any event. */
  get current(): Task {
    return this.executor.current ?? this.externalFrame;
  }

  /** The execution context of the running code. */
  get context(): ExecContext {
    return this.current.context;
  }

  /** `in_atomic()`: irq or timer context, or a spinlock held / preemption disabled. */
  inAtomic(): boolean {
    const cur = this.current;
    return cur.atomic > 0 || isAtomicContext(cur.context);
  }

  /** `in_irq()`-style test: true in irq and timer context. */
  inIrq(): boolean {
    return isAtomicContext(this.current.context);
  }

  /** A float in [0, 1) from the runtime's seeded PRNG. */
  random(): number {
    return this.#prng.next();
  }

  /** An integer in [0, n) from the runtime's seeded PRNG. */
  randomInt(n: number): number {
    return this.#prng.int(n);
  }

  /**
   * Per-runtime state of an upper layer (a fence context counter, a wait-for graph), made
   * by `init` on first use and keyed by `key` (a symbol or object the layer owns).
   */
  subsystem<T>(key: object | symbol, init: (rt: Runtime) => T): T {
    const k = key as object;
    if (this.#subsystems.has(k)) return this.#subsystems.get(k) as T;
    const state = init(this);
    this.#subsystems.set(k, state);
    return state;
  }

  /** A new task numbered by this runtime (for frames such as workqueue workers). */
  newTask(name: string, context: ExecContext): Task {
    return new Task(this.#nextTaskId++, name, context);
  }

  // --- contexts --------------------------------------------------------------------

  /**
   * `might_sleep()`: reports "sleeping function called from invalid context" when the
   * running code is atomic (irq/timer context, spinlock held). Checks `off`: no-op.
   */
  mightSleep(what: string): void {
    if (this.checks === 'off') return;
    const cur = this.current;
    if (cur.atomic > 0 || isAtomicContext(cur.context)) {
      const held = cur.held.map((h) => `  held: ${h.className}${h.sleeping ? '' : ' (spinning)'}`);
      this.reports.report('context', `BUG: sleeping function called from invalid context: ${what}`, [
        `in_atomic(): ${cur.atomic > 0 ? 1 : 0}, irqs_disabled(): ${cur.irqsOff > 0 || cur.context === 'irq' ? 1 : 0}, context: ${cur.context}, task: ${cur.toString()}`,
        ...held,
      ]);
    }
  }

  // --- allocation ------------------------------------------------------------------------

  /**
   * The allocation hook: call it wherever the kernel would allocate (`kmalloc(size, gfp)`),
   * before changing any state. Unless checks are `off` it validates its arguments (EINVAL)
   * and reports a blocking allocation (GFP_KERNEL/NOFS/NOIO) inside a fence-signalling
   * section or on a `WQ_MEM_RECLAIM` worker (kind `lockdep`) and in atomic context (kind
   * `context`). Then it throws `DepError('ENOMEM')` if {@link faults} fails this call at
   * `site`. With checks `off` and no fault rule it is two branches.
   */
  alloc(gfp: Gfp, site: string): void {
    if (this.checks !== 'off') checkAlloc(this, gfp, site);
    if (this.faults.should('alloc', site)) {
      throw new DepError('ENOMEM', `allocation with ${gfp} at ${site} failed (fault injection); unwind without side effects`);
    }
  }

  /**
   * {@link alloc} for code that models `kmalloc` returning NULL: same checks, returns false
   * instead of throwing when fault injection fails the call.
   */
  tryAlloc(gfp: Gfp, site: string): boolean {
    if (this.checks !== 'off') checkAlloc(this, gfp, site);
    return !this.faults.should('alloc', site);
  }

  // --- deferral ----------------------------------------------------------------------

  /**
   * Run `fn(arg)` at this instant in irq context (an interrupt, irq_work). Passing the
   * object the callback works on as `arg` avoids a closure per call. Any context.
   */
  queueIrq<A = undefined>(fn: (arg: A) => void, arg?: A): void {
    this.executor.schedule(0, this.irqFrame, fn as (arg: unknown) => void, arg, false);
  }

  /**
   * `irq_work_queue()`: run `fn(arg)` at this instant in irq context, batched like the
   * kernel's per-CPU irq_work list: the first work queued on an empty list raises one irq
   * event, which runs every work queued before it runs, oldest first (works queued while
   * it runs wait for the next raise). For deferrals that may share one interrupt (fence
   * containers' signal hop); {@link Runtime.queueIrq} raises one per call. A throwing work is that
   * event's oops; the works after it still run, in a new raise. Any context.
   */
  irqWorkQueue<A>(fn: (arg: A) => void, arg: A): void {
    const list = this.#irqWork;
    list.push(fn, arg);
    if (list.length === 2) this.executor.schedule(0, this.irqFrame, this.#runIrqWork, undefined, false);
  }

  /** The irq_work raise: run the list as it is now (see {@link irqWorkQueue}). */
  readonly #runIrqWork = (): void => {
    const list = this.#irqWork;
    this.#irqWork = this.#irqWorkSpare;
    for (let i = 0; i < list.length; i += 2) {
      try {
        (list[i] as (arg: unknown) => void)(list[i + 1]);
      } catch (e) {
        // The rest go first in the next raise; a fresh spare (this one is still in use).
        const rest = list.slice(i + 2);
        this.#irqWorkSpare = [];
        if (rest.length > 0) {
          const queued = this.#irqWork;
          this.#irqWork = rest.concat(queued);
          if (queued.length === 0) this.executor.schedule(0, this.irqFrame, this.#runIrqWork, undefined, false);
        }
        throw e;
      }
    }
    list.length = 0;
    this.#irqWorkSpare = list;
  };

  /**
   * Start a task running `fn` in `process` (default) or `worker` context at this instant.
   * The task may await runtime waits; its code runs with it as the current task.
   */
  spawn<T>(name: string, fn: () => T | Promise<T>, options: SpawnOptions = {}): TaskHandle<T> {
    const task = this.newTask(name, options.context ?? 'process');
    const joinable = options.joinable ?? false;
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | null = null;
    const joiners: Array<Waker<null>> = [];
    const finish = (o: { ok: true; value: T } | { ok: false; error: unknown }): void => {
      outcome = o;
      task.state = o.ok ? 'done' : 'failed';
      if (this.trace.enabled) this.trace.emit('sched:sched_process_exit', { task: task.toString(), failed: !o.ok });
      if (!o.ok && !joinable) this.#oops(o.error, task);
      for (const j of joiners.splice(0)) j.wake(null);
    };
    if (this.trace.enabled) this.trace.emit('sched:sched_process_fork', { task: task.toString(), context: task.context });
    this.executor.schedule(
      0,
      task,
      () => {
        task.state = 'running';
        try {
          const r = fn();
          if (r instanceof Promise) {
            r.then(
              (value: T) => finish({ ok: true, value }),
              (error: unknown) => finish({ ok: false, error }),
            );
          } else {
            finish({ ok: true, value: r });
            this.executor.skipHop();
          }
        } catch (error) {
          finish({ ok: false, error });
          this.executor.skipHop();
        }
      },
      null,
      true,
    );
    return {
      task,
      get finished() {
        return outcome !== null;
      },
      join: async (waitOptions?: WaitOptions): Promise<T> => {
        if (outcome === null) {
          const r = await this.sleepOn<null>(`join ${task.toString()}`, (w) => { joiners.push(w); }, { ...waitOptions, object: task });
          if (r === TIMED_OUT) throw new DepError('ETIME', `task ${task.toString()} did not finish within the timeout`);
          if (r === INTERRUPTED) throw new DepError('ERESTARTSYS', `join of ${task.toString()} was interrupted`);
        }
        const o = outcome;
        if (o === null) throw new DepError('EDEADLK', `task ${task.toString()} has not finished`);
        if (!o.ok) throw o.error;
        return o.value;
      },
    };
  }

  /**
   * Run `fn` as a process-context task and drive the executor until idle; resolves with
   * its result or rejects with its error. The usual way to run a simulation or a test.
   */
  async run<T>(fn: () => T | Promise<T>, name = 'main'): Promise<T> {
    const handle = this.spawn(name, fn, { joinable: true });
    await this.runUntilIdle();
    if (!handle.finished) {
      throw new DepError('EDEADLK', `task ${handle.task.toString()} is still blocked (${handle.task.waitingFor ?? 'unknown'}) with nothing left to run`);
    }
    return handle.join();
  }

  // --- sleeping ------------------------------------------------------------------------

  /**
   * The one primitive every wait is built on (`prepare_to_wait` + `schedule_timeout`):
   * `arm` registers the returned {@link Waker} wherever the wake-up will come from (and may
   * wake it at once); it may return a `disarm` function run on timeout or interrupt.
   * Resolves with the woken value, {@link TIMED_OUT} or {@link INTERRUPTED}. The wake-up is
   * an executor event, so the continuation runs at the instant of the wake and with the
   * waiting task current. Sleeps: reports when called from atomic context.
   */
  sleepOn<T>(
    reason: string,
    arm: (waker: Waker<T>) => (() => void) | void,
    options: WaitOptions & { readonly object?: unknown } = {},
  ): Promise<T | typeof TIMED_OUT | typeof INTERRUPTED> {
    this.mightSleep(reason);
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.resolve(INTERRUPTED);
    const timeout = options.timeout ?? Infinity;
    const task = this.current;
    return new Promise((resolve) => {
      const rt = this;
      const sleeper: Sleeper<T> = {
        task,
        reason,
        object: options.object,
        since: this.now(),
        done: false,
        resolve,
        disarm: undefined,
        timer: null,
        abort: null,
        wake(value: T | typeof TIMED_OUT | typeof INTERRUPTED): boolean {
          if (sleeper.done) return false;
          sleeper.done = true;
          rt.#blocked.delete(sleeper as Sleeper<unknown>);
          if (sleeper.timer !== null) rt.executor.cancel(sleeper.timer);
          if (sleeper.abort !== null) signal?.removeEventListener('abort', sleeper.abort);
          if (task.state === 'blocked') task.state = 'running';
          task.waitingFor = undefined;
          if (rt.trace.enabled) rt.trace.emit('sched:sched_wakeup', { task: task.toString(), reason });
          rt.executor.schedule(0, task === rt.externalFrame ? null : task, resolveWith, { resolve, value }, true);
          return true;
        },
      };
      sleeper.disarm = arm(sleeper);
      if (sleeper.done) return;
      const cancel = (result: typeof TIMED_OUT | typeof INTERRUPTED): void => {
        if (sleeper.done) return;
        if (typeof sleeper.disarm === 'function') sleeper.disarm();
        (sleeper.wake as (v: unknown) => boolean)(result);
      };
      if (timeout <= 0) {
        cancel(TIMED_OUT);
        return;
      }
      this.#blocked.add(sleeper as Sleeper<unknown>);
      if (task.state === 'running') task.state = 'blocked';
      task.waitingFor = reason;
      if (timeout !== Infinity) {
        sleeper.timer = this.executor.schedule(timeout, this.timerFrame, () => cancel(TIMED_OUT), null, false);
      }
      if (signal !== undefined) {
        sleeper.abort = () => cancel(INTERRUPTED);
        signal.addEventListener('abort', sleeper.abort, { once: true });
      }
    });
  }

  /**
   * `msleep_interruptible(ms)`: sleeps `ms`; resolves with the ms left (0 unless the
   * signal interrupted it). Sleeps.
   */
  async sleep(ms: number, options: { readonly signal?: AbortSignal } = {}): Promise<number> {
    const end = this.now() + ms;
    const r = await this.sleepOn<never>('msleep', () => undefined, { timeout: ms, ...options });
    return r === INTERRUPTED ? Math.max(0, end - this.now()) : 0;
  }

  /** `cond_resched()`: let every other event runnable at this instant run first. Sleeps. */
  async yield(): Promise<void> {
    await this.sleepOn<null>('cond_resched', (w) => { w.wake(null); });
  }

  // --- driving -------------------------------------------------------------------------

  /**
   * Drive the executor until nothing is left to run (virtual: time jumps from event to
   * event; `until` caps the time). If waits are still blocked when nothing is left, that is
   * a stall: it is reported (with what every stall hook adds) and listed in the result.
   * Rejects with the first strict-mode report or oops raised while running.
   */
  async runUntilIdle(options: { readonly until?: number } = {}): Promise<IdleResult> {
    const ex = this.executor;
    if (ex.kind === 'virtual') await ex.run(options.until ?? Infinity);
    else await ex.whenIdle();
    const stalled = ex.pending === 0 ? [...this.#blocked] : [];
    if (stalled.length > 0) this.#reportStall(stalled);
    return { now: this.now(), stalled };
  }

  /** Virtual: run every event due within `ms` and move the clock by `ms`. Real: sleep `ms`. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new DepError('EINVAL', `advance(${ms}): pass a non-negative number of ms`);
    const ex = this.executor;
    if (ex.kind === 'virtual') {
      const target = ex.now() + ms;
      await ex.run(target, target);
    } else {
      await new Promise((r) => setTimeout(r, ms));
    }
  }

  /** Waits blocked right now. */
  blocked(): readonly BlockedWait[] {
    return [...this.#blocked];
  }

  /** Add a hook that contributes lines to stall reports (the fence watchdog). */
  onStall(hook: StallHook): () => void {
    this.#stallHooks.push(hook);
    return () => {
      const i = this.#stallHooks.indexOf(hook);
      if (i >= 0) this.#stallHooks.splice(i, 1);
    };
  }

  #reportStall(stalled: readonly BlockedWait[]): void {
    const details: string[] = stalled.map((b) => `${b.task.toString()} waits for ${b.reason} since ${b.since}ms`);
    for (const hook of this.#stallHooks) {
      const extra = hook(stalled);
      if (extra) details.push(...extra);
    }
    this.reports.report('stall', `stall: nothing runnable while ${stalled.length} wait(s) are blocked`, details);
  }

  // --- teardown --------------------------------------------------------------------------

  /** Register work for {@link shutdown} (leak checks of the lifetime tracker). */
  onShutdown(hook: () => void): void {
    this.#shutdownHooks.push(hook);
  }

  /** True once {@link shutdown} ran. */
  get isShutDown(): boolean {
    return this.#shutDown;
  }

  /**
   * End of the simulation: runs the shutdown hooks (objects still alive become leak
   * reports). Returns every report made during the runtime's life. Idempotent.
   */
  shutdown(): readonly import('./report.js').Report[] {
    if (!this.#shutDown) {
      this.#shutDown = true;
      // Every hook runs even if one throws (a strict-mode leak report); the first error wins.
      let failure: { error: unknown } | null = null;
      for (const hook of this.#shutdownHooks) {
        try {
          hook();
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure !== null) throw failure.error;
    }
    return this.reports.list;
  }

  // --- executor hooks --------------------------------------------------------------------

  #oops(error: unknown, frame: Task | null): void {
    const where = (frame ?? this.externalFrame).toString();
    if (isDepWarning(error)) {
      this.#fail(error);
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.reports.capture(() => this.reports.report('oops', `oops in ${where}: ${message}`, error instanceof Error && error.stack ? error.stack.split('\n').slice(1, 6).map((l) => l.trim()) : []));
    if (this.checks === 'strict') this.#fail(error);
  }

  #fail(error: unknown): void {
    this.executor.fail(error);
  }

  #settle(frame: Task | null): void {
    if (frame === null || this.checks === 'off') return;
    const leftAtomic = frame.atomic !== 0 || frame.irqsOff !== 0;
    const atomicFrame = frame === this.irqFrame || frame === this.timerFrame;
    if (leftAtomic) {
      const spinning = frame.held.filter((h) => !h.sleeping).map((h) => `held: ${h.className}`);
      try {
        this.reports.report(
          'context',
          atomicFrame
            ? `BUG: ${frame.context} handler returned with preempt_count ${frame.atomic}`
            : `BUG: scheduling while atomic: ${frame.toString()} awaited with a spinlock held (preempt_count ${frame.atomic})`,
          spinning,
        );
      } catch (e) {
        this.#fail(e);
      }
    }
    if (atomicFrame) {
      frame.atomic = 0;
      frame.irqsOff = 0;
      frame.held.length = 0;
      frame.signalling = 0;
    } else if ((frame.state === 'done' || frame.state === 'failed') && frame.held.length > 0) {
      try {
        this.reports.report('lockdep', `${frame.toString()} exited with ${frame.held.length} lock(s) held`, frame.held.map((h) => `held: ${h.className}`));
      } catch (e) {
        this.#fail(e);
      }
    }
  }
}

function resolveWith(arg: unknown): void {
  const { resolve, value } = arg as { resolve: (v: unknown) => void; value: unknown };
  resolve(value);
}
