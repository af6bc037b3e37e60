import { DepError } from './error.js';
import { markOwnedLock, registerOwnedLock } from './lock-stall.js';
import type { LockClass, Lockdep } from './lockdep.js';
import { INTERRUPTED, type Runtime, type Waker } from './runtime.js';
import type { Task } from './task.js';

/** `-EDEADLK`: the younger context must back off (release all, then {@link WwMutex.lockSlow}). */
export const WW_EDEADLK = -35;
/** `-EALREADY`: this context already holds the lock. */
export const WW_EALREADY = -114;

/**
 * `struct ww_class` (`DEFINE_WD_CLASS`): a wait-die class of wound/wait mutexes. Its stamp
 * counter orders acquire contexts: a lower stamp is an older context.
 *
 * lockdep: the mutexes of this class are the lock class `name` (dma-resv uses `'dma_resv'`,
 * which is what {@link Lockdep.prime} orders), the acquire contexts the class
 * `name + '_acquire'`.
 */
export class WwClass {
  readonly name: string;
  /** Always true: this is the wait-die algorithm (the one `reservation_ww_class` uses). */
  readonly isWaitDie = true;
  #stamp = 0;

  constructor(name: string) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new DepError('EINVAL', `new WwClass(${String(name)}): pass a non-empty class name`);
    }
    this.name = name;
  }

  /** @internal `atomic_long_inc_return(&ww_class->stamp)`. */
  nextStamp(): number {
    return ++this.#stamp;
  }

  toString(): string {
    return `WwClass ${this.name}`;
  }
}

/** Options of the interruptible ww_mutex locks. */
export interface WwLockOptions {
  /** Interrupts the sleep: the lock returns `-EINTR` (-4). */
  readonly signal?: AbortSignal;
}

/**
 * `struct ww_acquire_ctx`: one transaction that locks several {@link WwMutex}es of one
 * class in any order (`ww_acquire_init` in the constructor). Used by the task that made
 * it, only. Protocol: lock each object; on `-EDEADLK` unlock every lock held under the
 * context, {@link WwMutex.lockSlow} the contended one, then lock the rest again; call
 * {@link done} once everything is locked and {@link fini} after unlocking everything.
 *
 * The context is a lockdep pseudo-lock (class `<ww class>_acquire`) held from the
 * constructor to {@link fini}: it serialises the nesting of the class's mutexes.
 */
export class WwAcquireCtx {
  readonly wwClass: WwClass;
  /** Age: lower is older. Kept across back-offs, which is what guarantees progress. */
  readonly stamp: number;
  /** The task that made (and alone may use) it. */
  readonly task: Task;
  /** @internal */
  readonly rt: Runtime;
  /** @internal Locks held under it (`ctx->acquired`). */
  held = 0;
  /** @internal The lock that returned -EDEADLK, until it is slow-locked (`contending_lock`). */
  contending: WwMutex | null = null;
  #done = false;
  #finished = false;
  readonly #ld: Lockdep | null;

  /** `ww_acquire_init(ctx, ww_class)`: a fresh stamp; lockdep acquires the context. */
  constructor(rt: Runtime, wwClass: WwClass) {
    if (!(wwClass instanceof WwClass)) {
      throw new DepError('EINVAL', 'new WwAcquireCtx(rt, wwClass): pass a WwClass');
    }
    this.rt = rt;
    this.wwClass = wwClass;
    this.task = rt.current;
    const ld = rt.lockdep;
    this.#ld = ld.enabled ? ld : null;
    this.stamp = wwClass.nextStamp();
    if (this.#ld !== null) {
      try {
        this.#ld.acquire(ld.classFor(`${wwClass.name}_acquire`), this, { sleeping: true });
      } catch (e) {
        // a strict-mode report (two contexts of one class in one task): record nothing
        const held = this.task.held;
        if (held.length > 0 && held[held.length - 1]!.lock === this) held.pop();
        throw e;
      }
    }
  }

  /** Number of locks held under this context (`ctx->acquired`). */
  get acquired(): number {
    return this.held;
  }

  /** True after {@link done}. */
  get isDone(): boolean {
    return this.#done;
  }

  /** True after {@link fini}. */
  get isFinished(): boolean {
    return this.#finished;
  }

  /**
   * `ww_acquire_done`: no more locks will be taken under this context (a later lock is a
   * report). Optional, documents the end of the acquire phase.
   */
  done(): void {
    this.#checkUsable('ww_acquire_done');
    if (this.#done) {
      this.rt.reports.report('lockdep', `ww_acquire_done() called twice on the ${this.wwClass.name} context of ${this.task.toString()}`);
      return;
    }
    this.#done = true;
  }

  /**
   * `ww_acquire_fini`: end the transaction; every lock must have been unlocked (a held one
   * is reported). Releases the lockdep context. Calling it twice is DepError EINVAL.
   */
  fini(): void {
    this.#checkUsable('ww_acquire_fini');
    this.#finished = true;
    this.#done = true;
    this.#ld?.release(this);
    if (this.held > 0) {
      this.rt.reports.report('lockdep', `ww_acquire_fini() with ${this.held} ${this.wwClass.name} lock(s) still held under the context of ${this.task.toString()}`, [
        'unlock every ww_mutex taken under the context before ww_acquire_fini()',
      ]);
    }
  }

  /** @internal Validate use by `what` from the current task. */
  check(what: string): void {
    this.#checkUsable(what);
  }

  #checkUsable(what: string): void {
    if (this.#finished) {
      throw new DepError('EINVAL', `${what}: this ${this.wwClass.name} acquire context was already finished with ww_acquire_fini(); make a new one`);
    }
    const cur = this.rt.current;
    if (cur !== this.task) {
      throw new DepError('EINVAL', `${what}: the ${this.wwClass.name} acquire context belongs to ${this.task.toString()}, not ${cur.toString()}; a context is used by one task`);
    }
  }

  toString(): string {
    return `WwAcquireCtx ${this.wwClass.name}#${this.stamp}`;
  }
}

interface WwWaiter {
  readonly task: Task;
  readonly ctx: WwAcquireCtx | null;
  granted: boolean;
  waker: Waker<null> | null;
}

/** True when `a` is younger than `b` (`__ww_ctx_less`: bigger stamp is younger). */
function younger(a: WwAcquireCtx, b: WwAcquireCtx): boolean {
  return a.stamp > b.stamp;
}

/**
 * `struct ww_mutex` of a wait-die class: a sleeping lock taken under a
 * {@link WwAcquireCtx} in any order, deadlock-free by the wait-die rule (kernel
 * `kernel/locking/ww_mutex.h`):
 *
 * - held by another context: the requester waits if it is **older** (lower stamp) than the
 *   holder and gets `-EDEADLK` if it is younger, unless it holds nothing under its context
 *   (then it can deadlock nobody and waits);
 * - waiters are ordered by stamp, oldest first (context-less waiters FIFO among them); a
 *   younger waiter holding locks queued behind an older one is woken and dies
 *   (`__ww_mutex_die`); a requester finding an older context already waiting dies at once;
 * - on unlock the first waiter (the oldest) is handed the lock;
 * - `-EALREADY` when this context already holds it.
 *
 * Context: process or worker (sleeps). lockdep: the class named after the {@link WwClass},
 * nested under the context.
 */
export class WwMutex {
  readonly wwClass: WwClass;
  /** Name for reports (defaults to the class name). */
  readonly name: string;
  readonly #rt: Runtime;
  readonly #ld: Lockdep | null;
  readonly #cls: LockClass | null;
  #owner: Task | null = null;
  #ctx: WwAcquireCtx | null = null;
  readonly #waiters: WwWaiter[] = [];

  /** `ww_mutex_init(lock, ww_class)`. */
  constructor(rt: Runtime, wwClass: WwClass, name?: string) {
    if (!(wwClass instanceof WwClass)) {
      throw new DepError('EINVAL', 'new WwMutex(rt, wwClass): pass a WwClass');
    }
    this.#rt = rt;
    this.wwClass = wwClass;
    this.name = name ?? wwClass.name;
    const ld = rt.lockdep;
    this.#ld = ld.enabled ? ld : null;
    this.#cls = ld.enabled ? ld.classFor(wwClass.name) : null;
    registerOwnedLock(rt);
  }

  /** `ww_mutex_is_locked`. */
  get isLocked(): boolean {
    return this.#owner !== null;
  }

  /** The owning task, or null. */
  get owner(): Task | null {
    return this.#owner;
  }

  /** `ww_mutex_locking_ctx`: the context it is held under, or null (unlocked or locked without one). */
  get lockingCtx(): WwAcquireCtx | null {
    return this.#ctx;
  }

  /** Number of tasks waiting for it. */
  get waiters(): number {
    return this.#waiters.length;
  }

  /**
   * `ww_mutex_lock(lock, ctx)`: 0 once held; `-EDEADLK` (-35) when the context must back off
   * (wait-die: it is younger than the holder or than a waiter); `-EALREADY` (-114) when the
   * context already holds it. Without a context it is a plain mutex lock (always 0).
   */
  lock(ctx?: WwAcquireCtx | null): Promise<0 | -35 | -114> {
    return this.#lock(ctx ?? null, undefined, 'ww_mutex_lock') as Promise<0 | -35 | -114>;
  }

  /** `ww_mutex_lock_interruptible`: {@link lock}, or `-EINTR` (-4) if `signal` fires while waiting. */
  lockInterruptible(ctx?: WwAcquireCtx | null, options: WwLockOptions = {}): Promise<0 | -35 | -114 | -4> {
    const signal = options?.signal;
    if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof signal.addEventListener === 'function')) {
      return Promise.reject(new DepError('EINVAL', `ww_mutex_lock_interruptible(${this.name}): signal must be an AbortSignal`));
    }
    return this.#lock(ctx ?? null, signal, 'ww_mutex_lock_interruptible');
  }

  /**
   * `ww_mutex_lock_slow(lock, ctx)`: after `-EDEADLK` and unlocking everything held under
   * `ctx`, sleep until this (the contended) lock is held. A context that still holds locks
   * is reported (it could be killed again: then this throws DepError EDEADLK).
   */
  async lockSlow(ctx: WwAcquireCtx): Promise<void> {
    const r = await this.#slow(ctx, undefined, 'ww_mutex_lock_slow');
    if (r !== 0 && r !== WW_EALREADY) throw new DepError('EDEADLK', `ww_mutex_lock_slow(${this.name}): killed (${r}) because the context still holds ${ctx.acquired} lock(s); unlock everything before the slow path`);
  }

  /** `ww_mutex_lock_slow_interruptible`: 0 once held, or `-EINTR` (-4). */
  async lockSlowInterruptible(ctx: WwAcquireCtx, options: WwLockOptions = {}): Promise<0 | -4> {
    const signal = options?.signal;
    if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof signal.addEventListener === 'function')) {
      throw new DepError('EINVAL', `ww_mutex_lock_slow_interruptible(${this.name}): signal must be an AbortSignal`);
    }
    const r = await this.#slow(ctx, signal, 'ww_mutex_lock_slow_interruptible');
    if (r === -4) return -4;
    if (r !== 0 && r !== WW_EALREADY) throw new DepError('EDEADLK', `ww_mutex_lock_slow_interruptible(${this.name}): killed (${r}) because the context still holds ${ctx.acquired} lock(s); unlock everything before the slow path`);
    return 0;
  }

  /**
   * `ww_mutex_trylock(lock, ctx)`: take it if free (true), under `ctx` when given. Never
   * sleeps, never returns -EDEADLK; false when held, by this context too.
   */
  trylock(ctx?: WwAcquireCtx | null): boolean {
    const c = ctx ?? null;
    if (c !== null) this.#checkCtx(c, 'ww_mutex_trylock');
    if (this.#owner !== null) return false;
    const cur = this.#rt.current;
    this.#owner = cur;
    this.#ctx = c;
    if (c !== null) c.held++;
    if (this.#ld !== null) {
      try {
        this.#ld.acquire(this.#cls!, this, c !== null ? { sleeping: true, trylock: true, nestLock: c } : { sleeping: true, trylock: true });
      } catch (e) {
        const held = cur.held;
        if (held.length > 0 && held[held.length - 1]!.lock === this) held.pop();
        this.#owner = null;
        this.#ctx = null;
        if (c !== null) c.held--;
        throw e;
      }
    }
    return true;
  }

  /**
   * `ww_mutex_unlock`: release; the first (oldest) waiter is handed the lock. EPERM (no
   * state change) if the current task does not own it.
   */
  unlock(): void {
    const cur = this.#rt.current;
    if (this.#owner !== cur) {
      const why = this.#owner === null ? 'it is not locked' : `it is owned by ${this.#owner.toString()}`;
      const rt = this.#rt;
      if (rt.checks !== 'off') {
        rt.reports.capture(() => rt.reports.report('lockdep', `WARNING: bad unlock balance detected: ${cur.toString()} unlocks ww_mutex ${this.name}, but ${why}`, [`ww_mutex_unlock(${this.name}) by ${cur.toString()} [${cur.context}]`]));
      }
      throw new DepError('EPERM', `ww_mutex_unlock(${this.name}) by ${cur.toString()}: ${why}; only the owner may unlock it`);
    }
    if (this.#ld !== null) this.#ld.release(this);
    const ctx = this.#ctx;
    if (ctx !== null) {
      if (ctx.held > 0) ctx.held--;
      this.#ctx = null;
    }
    this.#owner = null;
    const next = this.#waiters.shift();
    if (next === undefined) return;
    // hand over: owner and context are set at once, so every later kill check sees them
    next.granted = true;
    this.#owner = next.task;
    this.#ctx = next.ctx;
    if (next.ctx !== null) {
      next.ctx.held++;
      if (next.ctx.contending === this) next.ctx.contending = null;
      this.#checkWaiters(next.ctx);
    }
    next.waker?.wake(null);
  }

  /** `lockdep_assert_held`: reports (throws under strict) unless the current task holds it. */
  assertHeld(): void {
    if (this.#ld === null) return;
    this.#ld.assertHeld(this, `ww_mutex ${this.name}`);
  }

  toString(): string {
    return `WwMutex ${this.name}`;
  }

  // --- internals ----------------------------------------------------------------------------

  #checkCtx(ctx: WwAcquireCtx, what: string): void {
    if (!(ctx instanceof WwAcquireCtx)) {
      throw new DepError('EINVAL', `${what}(${this.name}): ctx must be a WwAcquireCtx or null`);
    }
    if (ctx.wwClass !== this.wwClass) {
      throw new DepError('EINVAL', `${what}(${this.name}): the context is of class ${ctx.wwClass.name}, the lock of ${this.wwClass.name}; a context locks mutexes of its own class only`);
    }
    ctx.check(what);
  }

  async #slow(ctx: WwAcquireCtx, signal: AbortSignal | undefined, what: string): Promise<0 | -35 | -114 | -4> {
    if (!(ctx instanceof WwAcquireCtx)) {
      throw new DepError('EINVAL', `${what}(${this.name}): pass the WwAcquireCtx that got -EDEADLK`);
    }
    return this.#lock(ctx, signal, what, true);
  }

  async #lock(ctx: WwAcquireCtx | null, signal: AbortSignal | undefined, what: string, slow = false): Promise<0 | -35 | -114 | -4> {
    if (ctx !== null) this.#checkCtx(ctx, what);
    const rt = this.#rt;
    const cur = rt.current;
    rt.mightSleep(`${what}(${this.name})`);
    if (ctx !== null && this.#ctx === ctx) return WW_EALREADY;
    if (this.#owner === cur) {
      if (rt.checks !== 'off') {
        rt.reports.capture(() =>
          rt.reports.report('lockdep', `possible recursive locking detected: ${cur.toString()} is trying to acquire ww_mutex ${this.name} which it already holds${this.#ctx === null ? ' (without a context)' : ' under another context'}`, [
            `${what}(${this.name}) by its owner ${cur.toString()}`,
          ]),
        );
      }
      throw new DepError('EDEADLK', `${what}(${this.name}): ${cur.toString()} already holds it ${this.#ctx === null ? 'without a context' : 'under another context'}; locking it again would sleep forever`);
    }
    if (ctx !== null && rt.checks !== 'off') this.#debugChecks(ctx, what, slow);
    if (this.#ld !== null) {
      try {
        this.#ld.acquire(this.#cls!, this, ctx !== null ? { sleeping: true, nestLock: ctx } : { sleeping: true });
      } catch (e) {
        const held = cur.held;
        if (held.length > 0 && held[held.length - 1]!.lock === this) held.pop();
        throw e;
      }
    }
    if (this.#owner === null) {
      // uncontended (a free lock has no waiters: unlock hands it to the first one)
      this.#owner = cur;
      this.#ctx = ctx;
      if (ctx !== null) {
        ctx.held++;
        if (ctx.contending === this) ctx.contending = null;
      }
      return 0;
    }
    const waiter: WwWaiter = { task: cur, ctx, granted: false, waker: null };
    if (!this.#addWaiter(waiter)) return this.#kill(ctx!);
    for (;;) {
      if (waiter.granted) return 0;
      if (signal?.aborted === true) {
        this.#removeWaiter(waiter);
        this.#ld?.release(this);
        return -4;
      }
      if (ctx !== null && this.#mustDie(waiter, ctx)) {
        this.#removeWaiter(waiter);
        return this.#kill(ctx);
      }
      const r = await rt.sleepOn<null>(
        `${what} ${this.name}`,
        (w) => {
          waiter.waker = w;
          if (waiter.granted) w.wake(null);
        },
        signal === undefined ? { object: this } : { signal, object: this },
      );
      waiter.waker = null;
      if (r === INTERRUPTED && !waiter.granted) {
        this.#removeWaiter(waiter);
        this.#ld?.release(this);
        return -4;
      }
    }
  }

  /** The DEBUG_WW_MUTEXES checks of the kernel, as reports (before any state change). */
  #debugChecks(ctx: WwAcquireCtx, what: string, slow: boolean): void {
    const rt = this.#rt;
    const where = [`context ${ctx.toString()} of ${ctx.task.toString()}, ${ctx.held} lock(s) held under it`];
    if (ctx.isDone) {
      rt.reports.report('lockdep', `${what}(${this.name}) after ww_acquire_done(): no lock may be taken under a context marked done`, where);
    } else if (ctx.contending !== null && ctx.contending !== this) {
      rt.reports.report('lockdep', `${what}(${this.name}) after -EDEADLK on ${ctx.contending.name}: back off, then take the contended lock first (ww_mutex_lock_slow)`, where);
    } else if (ctx.held > 0 && (slow || ctx.contending === this)) {
      rt.reports.report('lockdep', `${what}(${this.name}) while the context still holds ${ctx.held} lock(s): after -EDEADLK unlock everything held under the context before the slow path`, [
        ...where,
        'the slow path may only sleep because a context holding nothing cannot be part of a deadlock',
      ]);
    } else if (slow && ctx.contending === null) {
      rt.reports.report('lockdep', `${what}(${this.name}) without a preceding -EDEADLK: the slow path is for the lock that returned -EDEADLK`, where);
    }
  }

  /** `__ww_mutex_kill`: back off with -EDEADLK. The waiter is already off the list. */
  #kill(ctx: WwAcquireCtx): -35 {
    ctx.contending = this;
    this.#ld?.release(this);
    return WW_EDEADLK;
  }

  /**
   * `__ww_mutex_add_waiter` (wait-die): insert in stamp order, oldest first, context-less
   * waiters skipped; die at once (false) if an older context already waits and this one holds
   * locks; wake younger waiters that hold locks so they die (`__ww_mutex_die`).
   */
  #addWaiter(waiter: WwWaiter): boolean {
    const ctx = waiter.ctx;
    const list = this.#waiters;
    if (ctx === null) {
      list.push(waiter);
      return true;
    }
    let pos = -1;
    for (let i = list.length - 1; i >= 0; i--) {
      const cur = list[i]!;
      if (cur.ctx === null) continue;
      if (younger(ctx, cur.ctx)) {
        if (ctx.held > 0) return false;
        break;
      }
      pos = i;
      this.#die(cur, ctx);
    }
    if (pos < 0) list.push(waiter);
    else list.splice(pos, 0, waiter);
    return true;
  }

  /** `__ww_mutex_die`: wake a younger waiter holding locks so that it backs off. */
  #die(waiter: WwWaiter, ctx: WwAcquireCtx): void {
    if (waiter.ctx !== null && waiter.ctx.held > 0 && younger(waiter.ctx, ctx)) waiter.waker?.wake(null);
  }

  /** `__ww_mutex_check_waiters` (wait-die): the first context waiter dies if younger than `ctx`. */
  #checkWaiters(ctx: WwAcquireCtx): void {
    for (const w of this.#waiters) {
      if (w.ctx === null) continue;
      this.#die(w, ctx);
      break;
    }
  }

  /**
   * `__ww_mutex_check_kill` (wait-die): a context holding locks dies when the holder is
   * older, or when any context waits ahead of it (the list is in stamp order).
   */
  #mustDie(waiter: WwWaiter, ctx: WwAcquireCtx): boolean {
    if (ctx.held === 0) return false;
    const hold = this.#ctx;
    if (hold !== null && younger(ctx, hold)) return true;
    for (const w of this.#waiters) {
      if (w === waiter) break;
      if (w.ctx !== null) return true;
    }
    return false;
  }

  #removeWaiter(waiter: WwWaiter): void {
    const i = this.#waiters.indexOf(waiter);
    if (i >= 0) this.#waiters.splice(i, 1);
  }
}

markOwnedLock(WwMutex.prototype);
