import { fsReclaim } from './alloc.js';
import { DepError } from './error.js';
import type { LifetimeToken } from './lifetime.js';
import type { LockClass } from './lockdep.js';
import type { Runtime, Waker } from './runtime.js';
import type { Task } from './task.js';
import { Timer } from './timer.js';

/** A work function: runs in a worker task (context `worker`); may be async (workers sleep). */
export type WorkFn<W extends Work = Work> = (work: W) => void | PromiseLike<unknown>;

interface FlushWaiter {
  readonly target: number;
  readonly waker: Waker<null>;
}

/** Everything a workqueue changes on a work item; one object per item, made at INIT_WORK. */
interface WorkState {
  readonly work: Work;
  /** The queue it is pending on, last ran on, or whose timer is armed for it. */
  wq: Workqueue | null;
  /** Sequence number of the instance waiting on `wq`'s worklist; 0 when not on a worklist. */
  seq: number;
  /** Sequence number of the running instance; 0 when not running. */
  runSeq: number;
  /** `cancelSync()` calls in progress: queueing is refused meanwhile. */
  canceling: number;
  prev: WorkState | null;
  next: WorkState | null;
  /** `flush()` callers waiting for an instance to finish. */
  waiters: FlushWaiter[] | null;
  /** DelayedWork: its timer, and the runtime it was made for. */
  timer: Timer | null;
  timerRt: Runtime | null;
  /** The queue whose worker runs it, while running. */
  runWq: Workqueue | null;
  /** Lockdep class of its `(work_completion)` map; null for an unnamed item (not annotated). */
  readonly lockName: string | null;
}

/** Queue-instance numbers, global so a work item moving between queues keeps one order. */
let lastSeq = 0;

let stateOf: (work: Work) => WorkState;

/**
 * `struct work_struct` (`INIT_WORK`): a function to run later on a {@link Workqueue}.
 *
 * A work item is *pending* from queueing until a worker picks it, then *running* until its
 * function returns (or its promise settles). Queueing a pending item does nothing (queued
 * twice runs once); queueing a running one is allowed and runs it once more afterwards. An
 * item never runs concurrently with itself.
 */
export class Work {
  readonly name: string;
  readonly fn: WorkFn;
  readonly #s: WorkState;

  static {
    stateOf = (work: Work): WorkState => work.#s;
  }

  /** `INIT_WORK(work, fn)`. `name` (default: the function's name) shows in traces and reports. */
  constructor(fn: WorkFn, name?: string) {
    if (typeof fn !== 'function') {
      throw new DepError('EINVAL', 'new Work(fn): pass the function the work item runs');
    }
    this.fn = fn;
    this.name = name ?? (fn.name !== '' ? fn.name : 'work');
    this.#s = {
      work: this,
      wq: null,
      seq: 0,
      runSeq: 0,
      canceling: 0,
      prev: null,
      next: null,
      waiters: null,
      timer: null,
      timerRt: null,
      runWq: null,
      lockName: name !== undefined || fn.name !== '' ? `(work_completion)${this.name}` : null,
    };
  }

  /** `work_pending()`: queued (or, for delayed work, its timer armed) and not yet picked by a worker. */
  get pending(): boolean {
    const s = this.#s;
    return s.seq !== 0 || (s.timer !== null && s.timer.pending);
  }

  /** Picked by a worker and not finished (`work_busy() & WORK_BUSY_RUNNING`). */
  get running(): boolean {
    return this.#s.runSeq !== 0;
  }

  /**
   * `cancel_work()`: take the item off its queue (or disarm its timer) if pending. Does not
   * wait for a running instance. Returns whether it was pending. Any context.
   */
  cancel(): boolean {
    const s = this.#s;
    if (s.canceling > 0) return false;
    return grab(s);
  }

  /**
   * `cancel_work_sync()`: cancel the pending instance and wait until a running one has
   * finished; queueing is refused meanwhile. Returns whether it was pending. Sleeps
   * (process or worker context). Calling it from the work item itself is a deadlock: a
   * `lockdep` report and `DepError('EDEADLK')`.
   */
  async cancelSync(): Promise<boolean> {
    const s = this.#s;
    const wq = s.wq;
    if (wq === null) return false;
    const rt = wq.rt;
    rt.mightSleep('cancel_work_sync');
    const me = workerOf(rt.current);
    if (me !== undefined && me.st === s) {
      deadlock(rt, 'cancel_work_sync', `${this.name} is the work item running it: it would wait for itself`, me);
    }
    s.canceling++;
    try {
      const was = grab(s);
      if (s.runSeq !== 0) {
        annotateFlushWork(rt, s, s.runWq, true);
        await waitFor(rt, s, s.runSeq, `cancel_work_sync ${this.name}`);
      }
      return was;
    } finally {
      s.canceling--;
    }
  }

  /**
   * `flush_work()`: wait until the last queued instance (the pending one, else the running
   * one) has finished. Returns true if it waited, false if the item was idle. Sleeps.
   * Flushing an item from itself, or from a work item of the same ordered queue it is
   * pending on, is a deadlock: a `lockdep` report and `DepError('EDEADLK')`.
   */
  async flush(): Promise<boolean> {
    const s = this.#s;
    const wq = s.wq;
    if (wq === null) return false;
    const rt = wq.rt;
    rt.mightSleep('flush_work');
    const target = s.seq !== 0 ? s.seq : s.runSeq;
    if (target === 0) return false;
    const me = workerOf(rt.current);
    if (me !== undefined) {
      if (me.st === s) {
        deadlock(rt, 'flush_work', `${this.name} is the work item running it: it would wait for itself`, me);
      } else if (s.seq !== 0 && me.wq.ordered && s.wq === me.wq) {
        deadlock(rt, 'flush_work', `${this.name} is queued behind the caller on ordered workqueue ${me.wq.name}: it cannot run until the caller returns`, me);
      }
    }
    annotateFlushWork(rt, s, s.seq !== 0 ? s.wq : s.runWq!, false);
    await waitFor(rt, s, target, `flush_work ${this.name}`);
    return true;
  }
}

/**
 * `struct delayed_work` (`INIT_DELAYED_WORK`): a work item queued by a timer after a delay
 * ({@link Workqueue.queueDelayedWork}, {@link Workqueue.modDelayedWork}). Pending from the
 * moment the timer is armed.
 */
export class DelayedWork extends Work {
  constructor(fn: WorkFn<DelayedWork>, name?: string) {
    super(fn as WorkFn, name);
  }

  /** The timer is armed (not yet queued on the workqueue). */
  get timerPending(): boolean {
    const t = stateOf(this).timer;
    return t !== null && t.pending;
  }

  /**
   * `flush_delayed_work()`: if the timer is armed, queue the item now; then wait as
   * {@link Work.flush}. Sleeps.
   */
  override async flush(): Promise<boolean> {
    const s = stateOf(this);
    if (s.timer !== null && s.timer.pending && s.wq !== null) {
      s.wq.rt.mightSleep('flush_delayed_work');
      s.timer.del();
      wqInternals.enqueueChecked(s.wq, s);
    }
    return super.flush();
  }
}

/** Options of a {@link Workqueue}. */
export interface WorkqueueOptions {
  /**
   * `alloc_ordered_workqueue`: one item at a time, strictly in queue order. Default false
   * (an unbound queue running up to `maxActive` items concurrently).
   */
  readonly ordered?: boolean;
  /**
   * Items running at once. Ordered queues: 1 (anything else is EINVAL). Unbound: default 4
   * (the kernel's default is 256; a small default makes concurrency limits visible), at
   * most 512 (`WQ_MAX_ACTIVE`).
   */
  readonly maxActive?: number;
  /**
   * `WQ_MEM_RECLAIM`: the queue is on the memory-reclaim path (drm_sched/drm_dep submit
   * and timeout queues are). Its workers run with `task.memReclaim = true`, so a blocking
   * allocation there is a lockdep report (the fs_reclaim taint of the drm_dep series).
   */
  readonly memReclaim?: boolean;
  /** Creation site for leak reports. */
  readonly site?: string;
}

interface Worker {
  readonly task: Task;
  readonly wq: Workqueue;
  /** The item it runs, or null while idle. */
  st: WorkState | null;
  seq: number;
  readonly run: () => void;
  readonly onDone: () => void;
  readonly onError: (e: unknown) => void;
}

const workerOfTask = new WeakMap<Task, Worker>();

function workerOf(task: Task): Worker | undefined {
  return workerOfTask.get(task);
}

let wqInternals: {
  enqueueChecked(wq: Workqueue, s: WorkState): boolean;
  dequeue(wq: Workqueue, s: WorkState): void;
  /** lock_map_acquire + lock_map_release of the queue's `(wq_completion)` map. */
  touch(wq: Workqueue): void;
};

const WQ_MAX_ACTIVE = 512;
const WQ_DFL_ACTIVE = 4;

/**
 * `struct workqueue_struct`: a queue of work items run by worker tasks named
 * `kworker/<name>:<n>` in `worker` context (`alloc_workqueue` / `alloc_ordered_workqueue`).
 *
 * Workers are started as executor events, so under chaos the interleaving of concurrent
 * items (and of items with everything else) follows the seed. Trace events:
 * `workqueue:workqueue_queue_work`, `workqueue:workqueue_execute_start` / `_end` (a slice
 * on the worker's lane).
 *
 * Creating one allocates (`GFP_KERNEL`, site `alloc_workqueue`): it may fail with ENOMEM
 * under fault injection. It is tracked by `rt.lifetimes`: a queue never destroyed is a leak
 * report at shutdown.
 */
export class Workqueue {
  readonly rt: Runtime;
  readonly name: string;
  readonly ordered: boolean;
  readonly maxActive: number;
  /** `WQ_MEM_RECLAIM` (what drm_dep's helper asks of a queue it is given). */
  readonly memReclaim: boolean;
  #head: WorkState | null = null;
  #tail: WorkState | null = null;
  #queued = 0;
  readonly #running: Worker[] = [];
  readonly #idle: Worker[] = [];
  /** Workers woken (an executor event queued) that have not picked an item yet. */
  #starting = 0;
  #workers = 0;
  readonly #flushers: FlushWaiter[] = [];
  #state: 'live' | 'draining' | 'destroyed' = 'live';
  readonly #token: LifetimeToken;
  /** The `(wq_completion)<name>` lockdep map: held by a worker while it runs an item. */
  readonly #map: { readonly name: string };
  #cls: LockClass | null = null;

  static {
    wqInternals = {
      enqueueChecked: (wq, s) => {
        if (!wq.#accepting('queue_work', s.work)) return false;
        wq.#enqueue(s);
        return true;
      },
      dequeue: (wq, s) => wq.#dequeue(s),
      touch: (wq) => touchMap(wq.rt, wq.#lockClass(), wq.#map),
    };
  }

  /**
   * Throws `DepError('EINVAL')` for an empty name, a bad `maxActive`, or an ordered queue
   * with `maxActive` ≠ 1; `DepError('ENOMEM')` under fault injection. Any context that may
   * allocate with GFP_KERNEL (process or worker).
   */
  constructor(rt: Runtime, name: string, options: WorkqueueOptions = {}) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new DepError('EINVAL', 'new Workqueue(rt, name): pass a non-empty name (it names the kworkers)');
    }
    const ordered = options.ordered ?? false;
    const maxActive = options.maxActive ?? (ordered ? 1 : WQ_DFL_ACTIVE);
    if (!Number.isInteger(maxActive) || maxActive < 1 || maxActive > WQ_MAX_ACTIVE) {
      throw new DepError('EINVAL', `workqueue ${name}: maxActive ${String(maxActive)} must be an integer in 1 … ${WQ_MAX_ACTIVE}`);
    }
    if (ordered && maxActive !== 1) {
      throw new DepError('EINVAL', `workqueue ${name}: an ordered workqueue runs one item at a time; drop maxActive or set it to 1`);
    }
    rt.alloc('GFP_KERNEL', 'alloc_workqueue');
    this.rt = rt;
    this.name = name;
    this.ordered = ordered;
    this.maxActive = maxActive;
    this.memReclaim = options.memReclaim ?? false;
    this.#map = { name: `(wq_completion)${name}` };
    if (this.memReclaim && rt.lockdep.enabled) {
      // The drm_dep series' taint: fs_reclaim → (wq_completion)<name>, so reclaim-unsafe
      // locks taken around a flush of this queue, or allocations in its items, are cycles.
      const ld = rt.lockdep;
      const fs = fsReclaim(rt);
      try {
        ld.acquire(fs.cls, fs.map, { sleeping: true });
        touchMap(rt, this.#lockClass(), this.#map);
      } finally {
        ld.release(fs.map);
      }
    }
    this.#token = rt.lifetimes.track(this, 'workqueue', options.site);
  }

  /** Items waiting on the worklist. */
  get queued(): number {
    return this.#queued;
  }

  /** Items picked by a worker and not finished (never more than {@link maxActive}). */
  get active(): number {
    return this.#running.length;
  }

  /** True once {@link destroy} finished. */
  get destroyed(): boolean {
    return this.#state === 'destroyed';
  }

  /**
   * `queue_work()`: queue `work` unless it is already pending (then false: queued twice runs
   * once). A running item may be queued again and runs once more after it finishes. On a
   * destroyed (or draining, except from its own workers) queue: a WARN and false. Any
   * context.
   */
  queueWork(work: Work): boolean {
    if (!(work instanceof Work)) {
      throw new DepError('EINVAL', `queue_work on ${this.name}: pass a Work (new Work(fn))`);
    }
    const s = stateOf(work);
    if (s.seq !== 0 || (s.timer !== null && s.timer.pending) || s.canceling > 0) return false;
    if (!this.#accepting('queue_work', work)) return false;
    this.#enqueue(s);
    return true;
  }

  /**
   * `queue_delayed_work()`: queue `dwork` after `ms` (0: now) unless it is already pending
   * (then false). The timer fires in timer context. EINVAL for a negative or non-finite
   * delay or a plain {@link Work}. Any context.
   */
  queueDelayedWork(dwork: DelayedWork, ms: number): boolean {
    checkDelayed(this, dwork, ms, 'queue_delayed_work');
    const s = stateOf(dwork);
    if (s.seq !== 0 || (s.timer !== null && s.timer.pending) || s.canceling > 0) return false;
    if (!this.#accepting('queue_delayed_work', dwork)) return false;
    this.#arm(s, ms);
    return true;
  }

  /**
   * `mod_delayed_work()`: (re)arm `dwork` to be queued on this queue `ms` from now, taking
   * it off its timer or worklist if pending. Returns whether it was pending. While a
   * `cancelSync()` of it runs it does nothing and returns true (the kernel's -ENOENT read
   * as bool). Any context.
   */
  modDelayedWork(dwork: DelayedWork, ms: number): boolean {
    checkDelayed(this, dwork, ms, 'mod_delayed_work');
    const s = stateOf(dwork);
    if (s.canceling > 0) return true;
    if (!this.#accepting('mod_delayed_work', dwork)) return false;
    const was = grab(s);
    this.#arm(s, ms);
    return was;
  }

  /**
   * `flush_workqueue()`: wait until every item queued before the call has finished (items
   * queued later, and delayed items whose timer has not fired, are not waited for). Sleeps.
   * From a work item of this queue it is a deadlock: a `lockdep` report and
   * `DepError('EDEADLK')`.
   */
  async flush(): Promise<void> {
    const rt = this.rt;
    rt.mightSleep('flush_workqueue');
    const me = workerOf(rt.current);
    if (me !== undefined && me.wq === this) {
      deadlock(rt, 'flush_workqueue', `called from a work item of ${this.name}: it would wait for itself`, me);
    }
    checkFlushDependency(rt, this, null);
    if (rt.lockdep.enabled) touchMap(rt, this.#lockClass(), this.#map);
    await this.#flushUpTo(lastSeq);
  }

  /**
   * `destroy_workqueue()`: drain (flush until empty; meanwhile only this queue's own work
   * items may queue more, anything else gets a WARN and false), then refuse all further
   * queueing with a WARN and false. Sleeps. From a work item of this queue: deadlock
   * (`lockdep` report, `DepError('EDEADLK')`). Destroying twice is a WARN.
   */
  async destroy(): Promise<void> {
    const rt = this.rt;
    if (this.#state !== 'live') {
      rt.reports.report('warn', `destroy_workqueue(${this.name}): already ${this.#state === 'draining' ? 'being destroyed' : 'destroyed'}`);
      return;
    }
    rt.mightSleep('destroy_workqueue');
    const me = workerOf(rt.current);
    if (me !== undefined && me.wq === this) {
      deadlock(rt, 'destroy_workqueue', `called from a work item of ${this.name}: draining would wait for itself`, me);
    }
    checkFlushDependency(rt, this, null);
    if (rt.lockdep.enabled) touchMap(rt, this.#lockClass(), this.#map);
    this.#state = 'draining';
    while (this.#head !== null || this.#running.length > 0) await this.#flushUpTo(lastSeq);
    this.#state = 'destroyed';
    for (const w of this.#idle) w.task.state = 'done';
    rt.lifetimes.release(this.#token);
  }

  toString(): string {
    return `workqueue ${this.name}`;
  }

  #lockClass(): LockClass {
    return (this.#cls ??= this.rt.lockdep.classFor(this.#map.name));
  }

  // --- internals ---------------------------------------------------------------------------

  #accepting(what: string, work: Work): boolean {
    if (this.#state === 'live') return true;
    if (this.#state === 'draining') {
      const me = workerOf(this.rt.current);
      if (me !== undefined && me.wq === this) return true; // chained work while draining
    }
    this.rt.reports.report('warn', `${what}(${work.name}) on ${this.#state} workqueue ${this.name}: refused`, [
      this.#state === 'draining' ? 'only work items of the queue itself may queue while it drains' : 'the queue was destroyed; cancel work items before destroy_workqueue',
    ]);
    return false;
  }

  #arm(s: WorkState, ms: number): void {
    s.wq = this;
    if (ms <= 0) {
      this.#enqueue(s);
      return;
    }
    const rt = this.rt;
    if (s.timer === null || s.timerRt !== rt) {
      s.timer = new Timer(rt, () => { wqInternals.enqueueChecked(s.wq!, s); }, s.work.name);
      s.timerRt = rt;
    }
    s.timer.mod(ms);
  }

  #enqueue(s: WorkState): void {
    s.seq = ++lastSeq;
    s.wq = this;
    s.next = null;
    s.prev = this.#tail;
    if (this.#tail === null) this.#head = s;
    else this.#tail.next = s;
    this.#tail = s;
    this.#queued++;
    const rt = this.rt;
    if (rt.trace.enabled) rt.trace.emit('workqueue:workqueue_queue_work', { work: s.work.name, workqueue: this.name });
    this.#pump();
  }

  #unlink(s: WorkState): void {
    if (s.prev === null) this.#head = s.next;
    else s.prev.next = s.next;
    if (s.next === null) this.#tail = s.prev;
    else s.next.prev = s.prev;
    s.prev = null;
    s.next = null;
    this.#queued--;
  }

  /** Take a pending instance off the worklist (cancel, mod). */
  #dequeue(s: WorkState): void {
    const seq = s.seq;
    this.#unlink(s);
    s.seq = 0;
    wakeWaiters(s, (t) => t === seq);
    this.#checkFlushers();
  }

  /**
   * Wake workers (queue their executor events) while fewer than maxActive are busy and
   * queued items outnumber the workers already woken. A woken worker picks its item when
   * its event runs: until then the item stays pending (cancellable, not re-queueable).
   */
  #pump(): void {
    while (this.#running.length + this.#starting < this.maxActive && this.#starting < this.#queued) {
      const worker = this.#idle.pop() ?? this.#newWorker();
      this.#starting++;
      this.rt.executor.schedule(0, worker.task, runWorker, worker, true);
    }
  }

  /** The next item a worker may start, or null. */
  #next(): WorkState | null {
    const s = this.#head;
    // Strict order: if the head still runs elsewhere (queued again on us), wait for it.
    if (this.ordered) return s !== null && s.runSeq === 0 ? s : null;
    let t = s;
    while (t !== null && t.runSeq !== 0) t = t.next; // never run an item concurrently with itself
    return t;
  }

  #newWorker(): Worker {
    const task = this.rt.newTask(`kworker/${this.name}:${this.#workers++}`, 'worker');
    task.memReclaim = this.memReclaim;
    const worker: Worker = {
      task,
      wq: this,
      st: null,
      seq: 0,
      run: () => this.#run(worker),
      onDone: () => this.#finish(worker, null),
      onError: (e: unknown) => this.#finish(worker, { error: e }),
    };
    workerOfTask.set(task, worker);
    return worker;
  }

  #run(worker: Worker): void {
    this.#starting--;
    const s = this.#next();
    if (s === null) {
      // Cancelled (or still running elsewhere) since the worker was woken.
      this.#idle.push(worker);
      this.rt.executor.skipHop();
      return;
    }
    this.#unlink(s);
    const seq = s.seq;
    s.seq = 0;
    s.runSeq = seq;
    worker.st = s;
    worker.seq = seq;
    s.runWq = this;
    this.#running.push(worker);
    const work = s.work;
    const rt = this.rt;
    worker.task.state = 'running';
    if (rt.trace.enabled) rt.trace.emit('workqueue:workqueue_execute_start', { work: work.name, workqueue: this.name }, { ph: 'B' });
    let r: void | PromiseLike<unknown>;
    try {
      const ld = rt.lockdep;
      if (ld.enabled) {
        // process_one_work(): the queue's and the item's maps are held while it runs.
        ld.acquire(this.#lockClass(), this.#map, { sleeping: true });
        if (s.lockName !== null) ld.acquire(ld.classFor(s.lockName), s, { sleeping: true });
      }
      r = work.fn(work);
    } catch (e) {
      this.#finish(worker, { error: e });
      rt.executor.skipHop();
      return;
    }
    if (r !== undefined && r !== null && typeof r.then === 'function') {
      r.then(worker.onDone, worker.onError);
    } else {
      // A synchronous work function: the worker is done, no continuation needs the hop.
      this.#finish(worker, null);
      rt.executor.skipHop();
    }
  }

  #finish(worker: Worker, failure: { error: unknown } | null): void {
    const s = worker.st!;
    const seq = worker.seq;
    const rt = this.rt;
    const task = worker.task;
    if (rt.trace.enabled) rt.trace.emit('workqueue:workqueue_execute_end', { work: s.work.name, workqueue: this.name }, { ph: 'E' });
    if (rt.lockdep.enabled) {
      dropMap(rt, task, s);
      dropMap(rt, task, this.#map);
    }
    // process_one_work(): a work function must return with no lock, atomic section or
    // fence-signalling section left open. Such a worker is retired with what it holds.
    const leaked = rt.checks !== 'off' && (task.held.length > 0 || task.atomic !== 0 || task.signalling !== 0);
    s.runSeq = 0;
    s.runWq = null;
    worker.st = null;
    worker.seq = 0;
    const i = this.#running.indexOf(worker);
    if (i >= 0) this.#running.splice(i, 1);
    if (!leaked) this.#idle.push(worker);
    wakeWaiters(s, (t) => t <= seq);
    this.#pump();
    const other = s.wq;
    if (s.seq !== 0 && other !== null && other !== this) other.#pump();
    this.#checkFlushers();
    let error = failure === null ? undefined : failure.error;
    let failed = failure !== null;
    if (leaked) {
      try {
        rt.reports.report('lockdep', `BUG: workqueue leaked atomic, lock or signalling section: ${task.toString()}`, [
          `last function: ${s.work.name} on ${this.name}`,
          `preempt_count ${task.atomic}, signalling depth ${task.signalling}`,
          ...task.held.map((h) => `held: ${h.className}`),
        ]);
      } catch (e) {
        if (!failed) {
          error = e;
          failed = true;
        }
      }
    }
    // An exception is an oops in the worker: rethrown from an event in its frame.
    if (failed) rt.executor.schedule(0, task, rethrow, error, false);
  }

  async #flushUpTo(target: number): Promise<void> {
    if (this.#oldestInflight() > target) return;
    await this.rt.sleepOn<null>(
      `flush_workqueue ${this.name}`,
      (waker) => {
        this.#flushers.push({ target, waker });
      },
      { object: this },
    );
  }

  /** Smallest sequence number still queued or running (Infinity when idle). */
  #oldestInflight(): number {
    let m = this.#head === null ? Infinity : this.#head.seq;
    for (const w of this.#running) if (w.seq < m) m = w.seq;
    return m;
  }

  #checkFlushers(): void {
    const f = this.#flushers;
    if (f.length === 0) return;
    const oldest = this.#oldestInflight();
    while (f.length > 0 && f[0]!.target < oldest) f.shift()!.waker.wake(null);
  }
}

function runWorker(arg: unknown): void {
  (arg as Worker).run();
}

function rethrow(e: unknown): void {
  throw e;
}

/** Take a pending instance back: disarm the timer or take it off the worklist. */
function grab(s: WorkState): boolean {
  if (s.timer !== null && s.timer.pending) {
    s.timer.del();
    return true;
  }
  if (s.seq !== 0 && s.wq !== null) {
    wqInternals.dequeue(s.wq, s);
    return true;
  }
  return false;
}

function waitFor(rt: Runtime, s: WorkState, target: number, reason: string): Promise<unknown> {
  return rt.sleepOn<null>(
    reason,
    (waker) => {
      (s.waiters ??= []).push({ target, waker });
    },
    { object: s.work },
  );
}

function wakeWaiters(s: WorkState, done: (target: number) => boolean): void {
  const ws = s.waiters;
  if (ws === null) return;
  let kept = 0;
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i]!;
    if (done(w.target)) w.waker.wake(null);
    else ws[kept++] = w;
  }
  ws.length = kept;
  if (kept === 0) s.waiters = null;
}

function checkDelayed(wq: Workqueue, dwork: DelayedWork, ms: number, what: string): void {
  if (!(dwork instanceof DelayedWork)) {
    throw new DepError('EINVAL', `${what} on ${wq.name}: pass a DelayedWork (new DelayedWork(fn))`);
  }
  if (typeof ms !== 'number' || !(ms >= 0) || ms === Infinity) {
    throw new DepError('EINVAL', `${what}(${dwork.name}, ${String(ms)}): the delay must be a finite number of ms ≥ 0`);
  }
}

/** `lock_map_acquire(map); lock_map_release(map)`: record held locks → `map`. */
function touchMap(rt: Runtime, cls: LockClass, map: object): void {
  const ld = rt.lockdep;
  try {
    ld.acquire(cls, map, { sleeping: true });
  } finally {
    ld.release(map);
  }
}

/** Release a map a worker holds; from the worker's own frame through lockdep, else directly. */
function dropMap(rt: Runtime, task: Task, map: object): void {
  if (rt.current === task) {
    if (rt.lockdep.isHeld(map)) rt.lockdep.release(map);
    return;
  }
  const held = task.held;
  for (let i = held.length - 1; i >= 0; i--) {
    if (held[i]!.lock === map) {
      held.splice(i, 1);
      return;
    }
  }
}

/**
 * The lockdep side of `flush_work` / `cancel_work_sync` (`start_flush_work`): the item's
 * `(work_completion)` map, and for a flush on an ordered or `WQ_MEM_RECLAIM` queue (which
 * has a rescuer) the queue's map, so locks held here that the item takes are a cycle.
 */
function annotateFlushWork(rt: Runtime, s: WorkState, target: Workqueue | null, fromCancel: boolean): void {
  if (target === null) return;
  if (!fromCancel) checkFlushDependency(rt, target, s.work);
  const ld = rt.lockdep;
  if (!ld.enabled) return;
  if (s.lockName !== null) touchMap(rt, ld.classFor(s.lockName), s);
  if (!fromCancel && (target.ordered || target.memReclaim)) wqInternals.touch(target);
}

/**
 * `check_flush_dependency`: a `WQ_MEM_RECLAIM` worker must not flush a queue without
 * `WQ_MEM_RECLAIM` (that queue has no rescuer: under memory pressure the flush may never
 * finish). WARN_ONCE: reported once per runtime.
 */
function checkFlushDependency(rt: Runtime, target: Workqueue, work: Work | null): void {
  const me = workerOf(rt.current);
  if (me === undefined || !me.wq.memReclaim || target.memReclaim) return;
  rt.reports.warnOnce(
    true,
    `workqueue: WQ_MEM_RECLAIM ${me.wq.name}:${me.st?.work.name ?? '?'} is flushing !WQ_MEM_RECLAIM ${target.name}:${work?.name ?? '0x0'}`,
    'check_flush_dependency',
  );
}

/** Report a flush/cancel that would wait for itself, then throw EDEADLK. */
function deadlock(rt: Runtime, what: string, why: string, me: Worker): never {
  const message = `${what}: ${why}`;
  if (rt.checks !== 'off') {
    rt.reports.report('lockdep', `possible recursive locking detected: ${message}`, [
      `${me.task.toString()} is running ${me.st?.work.name ?? '?'} on ${me.wq.ordered ? 'ordered ' : ''}workqueue ${me.wq.name}`,
      `(wq_completion)${me.wq.name} and (work_completion)(${me.st?.work.name ?? '?'}) are held while it runs`,
    ]);
  }
  throw new DepError('EDEADLK', `${message}; flush or cancel it from outside the queue (another queue or a process-context task)`);
}
