import { isAtomicContext } from './context.js';
import { DepError } from './error.js';
import { markOwnedLock, registerOwnedLock } from './lock-stall.js';
import type { LockClass, Lockdep } from './lockdep.js';
import { INTERRUPTED, type Runtime, type Waker } from './runtime.js';
import type { Task } from './task.js';

/** `-EINTR`: an interruptible lock whose signal fired. */
export const EINTR = -4;

interface Waiter {
  readonly task: Task;
  granted: boolean;
  waker: Waker<null> | null;
}

/** Options of {@link Mutex.lockInterruptible}. */
export interface LockInterruptibleOptions {
  /** The signal that interrupts the sleep (`signal_pending`). */
  readonly signal?: AbortSignal;
}

/**
 * `struct mutex`: a sleeping lock held across awaits by one task.
 *
 * - Context: process or worker (it sleeps: taking it in atomic context — irq, timer, under a
 *   spinlock — is reported by `might_sleep`).
 * - Fairness: waiters queue FIFO; on {@link unlock} ownership is handed directly to the
 *   first waiter (woken through `rt.sleepOn`, so it resumes at that instant with itself
 *   current). Nobody can take it between the unlock and the waiter running.
 * - lockdep: every Mutex made with the same `name` is one class; the acquisition is recorded
 *   before sleeping, so an AB-BA order is reported before it can hang.
 * - Errors: unlock by a task that does not own it is `DepError('EPERM')` and changes
 *   nothing; re-locking a mutex the task already owns is reported and is
 *   `DepError('EDEADLK')` (the kernel would hang forever).
 */
export class Mutex {
  /** Lock (and lockdep class) name. */
  readonly name: string;
  readonly #rt: Runtime;
  readonly #ld: Lockdep | null;
  readonly #cls: LockClass | null;
  #owner: Task | null = null;
  readonly #waiters: Waiter[] = [];

  /** `mutex_init`. `name` is the lockdep class name. */
  constructor(rt: Runtime, name: string) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new DepError('EINVAL', `new Mutex(rt, ${String(name)}): pass a non-empty lock class name`);
    }
    this.#rt = rt;
    this.name = name;
    const ld = rt.lockdep;
    this.#ld = ld.enabled ? ld : null;
    this.#cls = ld.enabled ? ld.classFor(name) : null;
    registerOwnedLock(rt);
  }

  /** `mutex_is_locked`. */
  get isLocked(): boolean {
    return this.#owner !== null;
  }

  /** The owning task (`__mutex_owner`), or null. */
  get owner(): Task | null {
    return this.#owner;
  }

  /** Number of tasks sleeping on it. */
  get waiters(): number {
    return this.#waiters.length;
  }

  /** `mutex_lock`: sleeps until this task owns it. Process/worker context. */
  async lock(): Promise<void> {
    await this.#lock(0, undefined, 'mutex_lock');
  }

  /** `mutex_lock_nested(lock, subclass)`: as {@link lock}, as lockdep subclass 1…7. */
  async lockNested(subclass: number): Promise<void> {
    if (!Number.isInteger(subclass) || subclass < 0 || subclass > 7) {
      throw new DepError('EINVAL', `mutex_lock_nested(${this.name}, ${String(subclass)}): the subclass must be an integer 0…7`);
    }
    await this.#lock(subclass, undefined, 'mutex_lock_nested');
  }

  /**
   * `mutex_lock_interruptible`: 0 once owned, `-EINTR` (-4) if `signal` fires while waiting
   * (an uncontended lock is taken even with the signal already aborted, as the kernel's
   * fast path does).
   */
  lockInterruptible(options: LockInterruptibleOptions = {}): Promise<0 | -4> {
    const signal = options?.signal;
    if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof signal.addEventListener === 'function')) {
      return Promise.reject(new DepError('EINVAL', `mutex_lock_interruptible(${this.name}): signal must be an AbortSignal`));
    }
    return this.#lock(0, signal, 'mutex_lock_interruptible');
  }

  /** `mutex_trylock`: take it if free (true). Never sleeps; not for irq context. */
  trylock(): boolean {
    const cur = this.#rt.current;
    if (this.#rt.checks !== 'off' && isAtomicContext(cur.context)) {
      this.#rt.reports.report('context', `mutex_trylock(${this.name}) from ${cur.context} context: a mutex must not be used in interrupt context`, [`task: ${cur.toString()}`]);
    }
    if (this.#owner !== null) return false;
    this.#owner = cur;
    if (this.#ld !== null) this.#acquire(cur, 0, true);
    return true;
  }

  /**
   * `mutex_unlock`: release; the first waiter (FIFO) becomes the owner and is woken.
   * EPERM (no state change) if the current task does not own it.
   */
  unlock(): void {
    const cur = this.#rt.current;
    if (this.#owner !== cur) {
      const why = this.#owner === null ? 'it is not locked' : `it is owned by ${this.#owner.toString()}`;
      const rt = this.#rt;
      if (rt.checks !== 'off') {
        rt.reports.capture(() => rt.reports.report('lockdep', `WARNING: bad unlock balance detected: ${cur.toString()} unlocks mutex ${this.name}, but ${why}`, [`mutex_unlock(${this.name}) by ${cur.toString()} [${cur.context}]`]));
      }
      throw new DepError('EPERM', `mutex_unlock(${this.name}) by ${cur.toString()}: ${why}; only the owner may unlock a mutex`);
    }
    if (this.#ld !== null) this.#ld.release(this);
    const next = this.#waiters.shift();
    if (next === undefined) {
      this.#owner = null;
      return;
    }
    next.granted = true;
    this.#owner = next.task;
    next.waker?.wake(null);
  }

  /** Run `fn` owning the mutex (`guard(mutex)`); unlocks when it settles. */
  async withLock<T>(fn: () => T | Promise<T>): Promise<T> {
    await this.lock();
    try {
      return await fn();
    } finally {
      if (this.#owner === this.#rt.current) this.unlock();
    }
  }

  /** `lockdep_assert_held(&mutex)`: reports (throws under strict) unless this task holds it. */
  assertHeld(): void {
    if (this.#ld === null) return;
    this.#ld.assertHeld(this, `mutex ${this.name}`);
  }

  toString(): string {
    return `Mutex ${this.name}`;
  }

  // --- internals ----------------------------------------------------------------------------

  #acquire(cur: Task, subclass: number, trylock: boolean): void {
    try {
      this.#ld!.acquire(this.#cls!, this, subclass === 0 ? { sleeping: true, trylock } : { sleeping: true, trylock, subclass });
    } catch (e) {
      // a strict-mode report: undo, so a failed call leaves everything as it was
      const held = cur.held;
      if (held.length > 0 && held[held.length - 1]!.lock === this) held.pop();
      if (trylock) this.#owner = null;
      throw e;
    }
  }

  async #lock(subclass: number, signal: AbortSignal | undefined, what: string): Promise<0 | -4> {
    const rt = this.#rt;
    const cur = rt.current;
    rt.mightSleep(`${what}(${this.name})`);
    if (this.#owner === cur) {
      if (rt.checks !== 'off') {
        rt.reports.capture(() =>
          rt.reports.report('lockdep', `possible recursive locking detected: ${cur.toString()} is trying to acquire mutex ${this.name} which it already owns`, [
            `${what}(${this.name}) by its owner ${cur.toString()}`,
            `  CPU0: lock(${this.name}); lock(${this.name});  *** DEADLOCK ***`,
          ]),
        );
      }
      throw new DepError('EDEADLK', `${what}(${this.name}): ${cur.toString()} already owns this mutex; locking it again would sleep forever`);
    }
    if (this.#ld !== null) this.#acquire(cur, subclass, false);
    if (this.#owner === null) {
      this.#owner = cur;
      return 0;
    }
    const waiter: Waiter = { task: cur, granted: false, waker: null };
    this.#waiters.push(waiter);
    for (;;) {
      const r = await rt.sleepOn<null>(
        `${what} ${this.name}`,
        (w) => {
          waiter.waker = w;
          if (waiter.granted) w.wake(null);
        },
        signal === undefined ? { object: this } : { signal, object: this },
      );
      if (waiter.granted) return 0;
      if (r === INTERRUPTED) {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        if (this.#ld !== null) this.#ld.release(this);
        return EINTR;
      }
    }
  }
}

markOwnedLock(Mutex.prototype);
