import { DepError } from './error.js';
import type { AcquireOptions, LockClass, Lockdep } from './lockdep.js';
import type { Runtime } from './runtime.js';
import type { Task } from './task.js';

/** lockdep options of the common acquisitions, made once (no object per lock/unlock). */
const SPIN_LOCK: AcquireOptions = Object.freeze({ sleeping: false });
const SPIN_TRYLOCK: AcquireOptions = Object.freeze({ sleeping: false, trylock: true });

/**
 * `spinlock_t`: a synchronous critical section. Taking it makes the current task atomic
 * (`task.atomic`, the preempt count) until it is released, so `rt.mightSleep` — every wait,
 * every mutex — reports inside it, and a task that ends its hop (awaits) with it held is
 * reported by the runtime ("scheduling while atomic").
 *
 * One thread runs at a time, so the lock can only be found taken when its holder is the
 * current task (recursion) or a task that awaited with it held: both are deadlocks in the
 * kernel. Here they are reported (lockdep) and the call throws `DepError('EDEADLK')`
 * instead of spinning forever.
 *
 * Lock class: every SpinLock made with the same `name` is of one lockdep class (as with a
 * `spin_lock_init` call site). Nesting two of one class needs {@link lockNested}.
 *
 * With checks `off` lock/unlock is a few field writes: no lockdep, no allocation.
 */
export class SpinLock {
  /** Lock (and lockdep class) name, e.g. `'&fence->lock'`. */
  readonly name: string;
  readonly #rt: Runtime;
  readonly #ld: Lockdep | null;
  readonly #cls: LockClass | null;
  #owner: Task | null = null;
  /** Taken with lockIrqsave (must be released with unlockIrqrestore). */
  #irqsave = false;

  /** `spin_lock_init`. `name` is the lockdep class name. */
  constructor(rt: Runtime, name: string) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new DepError('EINVAL', `new SpinLock(rt, ${String(name)}): pass a non-empty lock class name`);
    }
    this.#rt = rt;
    this.name = name;
    const ld = rt.lockdep;
    this.#ld = ld.enabled ? ld : null;
    this.#cls = ld.enabled ? ld.classFor(name) : null;
  }

  /** `spin_is_locked`. */
  get isLocked(): boolean {
    return this.#owner !== null;
  }

  /** The task holding it, or null. */
  get owner(): Task | null {
    return this.#owner;
  }

  /** `spin_lock`. Any context. EDEADLK if this task or a task that awaited holds it. */
  lock(): void {
    const cur = this.#rt.current;
    if (this.#owner !== null) this.#contended(cur, 'spin_lock');
    this.#owner = cur;
    cur.atomic++;
    if (this.#ld !== null) this.#acquire(cur, 0, false, false);
  }

  /** `spin_lock_nested(lock, subclass)`: like {@link lock}, as lockdep subclass 1…7. */
  lockNested(subclass: number): void {
    this.#checkSubclass(subclass, 'spin_lock_nested');
    const cur = this.#rt.current;
    if (this.#owner !== null) this.#contended(cur, 'spin_lock_nested');
    this.#owner = cur;
    cur.atomic++;
    if (this.#ld !== null) this.#acquire(cur, subclass, false, false);
  }

  /** `spin_unlock`. EPERM (and a report) if the current task does not hold it. */
  unlock(): void {
    const cur = this.#rt.current;
    if (this.#owner !== cur) this.#badUnlock(cur, 'spin_unlock');
    if (this.#irqsave) {
      throw new DepError('EINVAL', `spin_unlock(${this.name}): it was taken with lockIrqsave(); release it with unlockIrqrestore()`);
    }
    if (this.#ld !== null) this.#ld.release(this);
    this.#owner = null;
    cur.atomic--;
  }

  /**
   * `spin_lock_irqsave`: disable irqs on this task (`task.irqsOff`), then lock. Use it for a
   * lock also taken in irq context. Release with {@link unlockIrqrestore}.
   */
  lockIrqsave(): void {
    const cur = this.#rt.current;
    if (this.#owner !== null) this.#contended(cur, 'spin_lock_irqsave');
    cur.irqsOff++;
    this.#owner = cur;
    this.#irqsave = true;
    cur.atomic++;
    if (this.#ld !== null) this.#acquire(cur, 0, true, false);
  }

  /** `spin_lock_irqsave_nested`. */
  lockIrqsaveNested(subclass: number): void {
    this.#checkSubclass(subclass, 'spin_lock_irqsave_nested');
    const cur = this.#rt.current;
    if (this.#owner !== null) this.#contended(cur, 'spin_lock_irqsave_nested');
    cur.irqsOff++;
    this.#owner = cur;
    this.#irqsave = true;
    cur.atomic++;
    if (this.#ld !== null) this.#acquire(cur, subclass, true, false);
  }

  /** `spin_unlock_irqrestore`: unlock, then restore irqs. EPERM if not held by this task. */
  unlockIrqrestore(): void {
    const cur = this.#rt.current;
    if (this.#owner !== cur) this.#badUnlock(cur, 'spin_unlock_irqrestore');
    if (!this.#irqsave) {
      throw new DepError('EINVAL', `spin_unlock_irqrestore(${this.name}): it was taken with lock()/trylock(); release it with unlock()`);
    }
    if (this.#ld !== null) this.#ld.release(this);
    this.#owner = null;
    this.#irqsave = false;
    cur.atomic--;
    cur.irqsOff--;
    if (this.#ld !== null && cur.irqsOff === 0) this.#ld.hardirqsOn();
  }

  /** `spin_trylock`: take it if free; false if held (by anyone, this task included). */
  trylock(): boolean {
    if (this.#owner !== null) return false;
    const cur = this.#rt.current;
    this.#owner = cur;
    cur.atomic++;
    if (this.#ld !== null) this.#acquire(cur, 0, false, true);
    return true;
  }

  /** `spin_trylock_irqsave`: irqs stay enabled when it fails. */
  trylockIrqsave(): boolean {
    if (this.#owner !== null) return false;
    const cur = this.#rt.current;
    cur.irqsOff++;
    this.#owner = cur;
    this.#irqsave = true;
    cur.atomic++;
    if (this.#ld !== null) this.#acquire(cur, 0, true, true);
    return true;
  }

  /**
   * `scoped_guard(spinlock, …)`: run `fn` under the lock. `fn` must be synchronous: a
   * returned promise would run its continuation unlocked (EINVAL, after unlocking).
   */
  withLock<T>(fn: () => T): T {
    this.lock();
    let r: T;
    try {
      r = fn();
    } finally {
      if (this.#owner === this.#rt.current) this.unlock();
    }
    this.#checkSync(r, 'withLock');
    return r;
  }

  /** `scoped_guard(spinlock_irqsave, …)`: {@link withLock} with irqs disabled. */
  withLockIrqsave<T>(fn: () => T): T {
    this.lockIrqsave();
    let r: T;
    try {
      r = fn();
    } finally {
      if (this.#owner === this.#rt.current) this.unlockIrqrestore();
    }
    this.#checkSync(r, 'withLockIrqsave');
    return r;
  }

  /** `lockdep_assert_held`: reports (throws under strict) unless the current task holds it. */
  assertHeld(): void {
    if (this.#ld === null) return;
    this.#ld.assertHeld(this, `spinlock ${this.name}`);
  }

  toString(): string {
    return `SpinLock ${this.name}`;
  }

  // --- internals --------------------------------------------------------------------------

  #acquire(cur: Task, subclass: number, irqsave: boolean, trylock: boolean): void {
    try {
      this.#ld!.acquire(this.#cls!, this, subclass !== 0 ? { sleeping: false, trylock, subclass } : trylock ? SPIN_TRYLOCK : SPIN_LOCK);
    } catch (e) {
      // a strict-mode report: leave everything as it was before the call
      if (cur.held.length > 0 && cur.held[cur.held.length - 1]!.lock === this) cur.held.pop();
      this.#owner = null;
      cur.atomic--;
      if (irqsave) {
        this.#irqsave = false;
        cur.irqsOff--;
      }
      throw e;
    }
  }

  #checkSubclass(subclass: number, what: string): void {
    if (!Number.isInteger(subclass) || subclass < 0 || subclass > 7) {
      throw new DepError('EINVAL', `${what}(${this.name}, ${String(subclass)}): the subclass must be an integer 0…7`);
    }
  }

  #checkSync(r: unknown, what: string): void {
    if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
      throw new DepError('EINVAL', `SpinLock ${this.name}.${what}(fn): fn returned a promise; a spinlock section is atomic and must be synchronous (use a Mutex to hold a lock across awaits)`);
    }
  }

  #contended(cur: Task, what: string): never {
    const owner = this.#owner!;
    const rt = this.#rt;
    if (owner === cur) {
      if (rt.checks !== 'off') {
        rt.reports.capture(() =>
          rt.reports.report('lockdep', `possible recursive locking detected: ${cur.toString()} is trying to acquire ${this.name} but already holds the same lock (spinlock recursion)`, [
            `${what}(${this.name}) by ${cur.toString()} which already holds it`,
            'Possible unsafe locking scenario:',
            `  CPU0: lock(${this.name}); lock(${this.name});  *** DEADLOCK ***`,
            ...cur.held.map((h, i) => `  #${i}: ${h.className}`),
          ]),
        );
      }
      throw new DepError('EDEADLK', `${what}(${this.name}): ${cur.toString()} already holds this spinlock; taking it again deadlocks (spinlocks are not recursive)`);
    }
    if (rt.checks !== 'off') {
      rt.reports.capture(() =>
        rt.reports.report('lockdep', `BUG: spinlock lockup suspected: ${this.name} is held by ${owner.toString()}, which is not running`, [
          `${what}(${this.name}) by ${cur.toString()} [${cur.context}]`,
          `owner ${owner.toString()} (${owner.state}${owner.waitingFor !== undefined ? `, waiting for ${owner.waitingFor}` : ''}) awaited or returned with the spinlock held: it can never release it while this one spins`,
        ]),
      );
    }
    throw new DepError('EDEADLK', `${what}(${this.name}): held by ${owner.toString()}, which awaited or returned with it held; spinning would never end`);
  }

  #badUnlock(cur: Task, what: string): never {
    const owner = this.#owner;
    const rt = this.#rt;
    const why = owner === null ? 'it is not locked' : `it is held by ${owner.toString()}`;
    if (rt.checks !== 'off') {
      rt.reports.capture(() => rt.reports.report('lockdep', `WARNING: bad unlock balance detected: ${cur.toString()} releases spinlock ${this.name}, but ${why}`, [`${what}(${this.name}) by ${cur.toString()} [${cur.context}]`]));
    }
    throw new DepError('EPERM', `${what}(${this.name}) by ${cur.toString()}: ${why}; only the task that took a spinlock may release it`);
  }
}
