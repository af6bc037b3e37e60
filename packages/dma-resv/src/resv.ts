/**
 * `struct dma_resv` (include/linux/dma-resv.h, drivers/dma-buf/dma-resv.c; kernel-api.md
 * A7, B17–B22), plus the PREEMPT usage of the preempt-fence RFC v1 (rfc-designs B.1).
 */
import {
  DmaFence,
  DmaFenceArray,
  assertActive,
  contextAlloc,
  fenceLabel,
  fenceWaitsOn,
  isDmaFenceContainer,
  type Fence,
  type FenceWait,
} from '@dep/dma-fence';
import { DepError, GFP_KERNEL, WwAcquireCtx, WwMutex, getDefaultRuntime, type Runtime, type Task, type WwLockOptions } from '@dep/kernel';
import { DmaResvIter } from './iter.js';
import { ResvList, roundupPow2 } from './list.js';
import { preemptOrderedSingleton } from './preempt.js';
import { closeSection, openSection, resvState, type ResvRuntimeState } from './runtime-state.js';
import { DmaResvUsage, badUsage, checkUsage, isUsage, usageName } from './usage.js';

const ENOMEM = -12;
const PREEMPT = DmaResvUsage.PREEMPT;
const BOOKKEEP = DmaResvUsage.BOOKKEEP;

/** Options of `new DmaResv()` (`dma_resv_init`). */
export interface DmaResvOptions {
  /** The runtime it belongs to; default `getDefaultRuntime()`. */
  readonly runtime?: Runtime;
  /** Name for reports and lockdep splats (default `resv<N>`). */
  readonly name?: string;
  /**
   * Allow `DmaResvUsage.PREEMPT` on this resv (rfc-designs B.1 v1). Default: the runtime's
   * setting ({@link enablePreemptUsage}), off unless enabled.
   */
  readonly preempt?: boolean;
}

/** Options of {@link DmaResv.addFence}. */
export interface AddFenceOptions {
  /**
   * The caller is not on this fence's completion path (it imports a sync_file fence, or
   * adds another job's fence): no fence-signalling section begins. Default false: adding
   * a fence to a resv publishes it, and from then until the resv is unlocked the task is
   * in a fence-signalling section (see the README, "lockdep").
   */
  readonly foreign?: boolean;
}

/** Options of {@link DmaResv.waitTimeout}. */
export interface ResvWaitOptions {
  /** Interruptible wait: aborting makes it return -ERESTARTSYS (-512). */
  readonly signal?: AbortSignal;
  /**
   * The fence whose completion this wait is part of (a job's finished fence, a kernel
   * move's fence): for every fence waited on, the wait-for graph learns
   * "`forFence` waits on it (dma_resv_wait_timeout …)", so a cycle through the resv is
   * reported the moment it forms. The edge goes when the waited fence signals, or when
   * the wait ends otherwise.
   */
  readonly forFence?: Fence;
}

/**
 * `struct dma_resv`: the fences of one buffer, each with a {@link (DmaResvUsage:variable)}, behind a
 * wait-die ww-mutex of the runtime's `reservation_ww_class` (lockdep class `dma_resv`).
 *
 * Writers hold the lock: {@link DmaResv.reserveFences} first (may allocate, may fail),
 * then {@link DmaResv.addFence} (cannot fail). Readers need no lock: the unlocked
 * iterator, {@link DmaResv.getFences}, {@link DmaResv.waitTimeout},
 * {@link DmaResv.testSignaled}… Reservations die with the unlock.
 *
 * Mutating calls (`reserveFences`, `addFence`, `replaceFences`, `copyFences`) without
 * holding the lock are DepError EPERM; read-side calls that the kernel guards with
 * `dma_resv_assert_held` (locked iteration, `describe`) are lockdep reports.
 */
export class DmaResv {
  /** The runtime it belongs to. */
  readonly runtime: Runtime;
  /** Name for reports and lockdep splats. */
  readonly name: string;
  /** Whether `DmaResvUsage.PREEMPT` may be added here. */
  readonly preemptEnabled: boolean;
  /** @internal `obj->fences` (null until the first reservation, as in the kernel). */
  _list: ResvList | null = null;
  #generation = 0;
  readonly #mutex: WwMutex;
  readonly #state: ResvRuntimeState;
  /** The task whose signalling section this resv holds open (see {@link DmaResv.addFence}). */
  #section: Task | null = null;
  #finished = false;

  /** `dma_resv_init(obj)`. Primes lockdep with the resv order once per runtime. */
  constructor(options: DmaResvOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new DepError('EINVAL', 'new DmaResv(options): pass an options object ({ runtime?, name?, preempt? }) or nothing');
    }
    const { runtime, name, preempt } = options;
    if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
      throw new DepError('EINVAL', `new DmaResv: name must be a non-empty string, got ${String(name)}`);
    }
    if (preempt !== undefined && typeof preempt !== 'boolean') {
      throw new DepError('EINVAL', `new DmaResv: preempt must be true or false, got ${String(preempt)}`);
    }
    const rt = runtime ?? getDefaultRuntime();
    const st = resvState(rt);
    this.runtime = rt;
    this.#state = st;
    this.name = name ?? `resv${st.count++}`;
    this.preemptEnabled = preempt ?? st.preemptDefault;
    this.#mutex = new WwMutex(rt, st.wwClass, this.name);
  }

  /**
   * How many times the fence list was replaced (reallocated by `reserveFences`, swapped by
   * `copyFences`, dropped by `fini`): what makes unlocked iterators restart.
   */
  get generation(): number {
    return this.#generation;
  }

  /** `obj->fences->num_fences`: entries in the list (signalled ones included). */
  get numFences(): number {
    return this._list === null ? 0 : this._list.fences.length;
  }

  /** `obj->fences->max_fences`: entries the list has room for (reserved slots + used). */
  get maxFences(): number {
    return this._list === null ? 0 : this._list.max;
  }

  /** True after {@link DmaResv.fini}. */
  get isFinished(): boolean {
    return this.#finished;
  }

  // --- locking -----------------------------------------------------------------------------

  /**
   * `dma_resv_lock(obj, ctx)`: 0 once held; `-EDEADLK` (-35) when `ctx` must back off
   * (unlock everything held under it, then {@link DmaResv.lockSlow} this one); `-EALREADY` (-114)
   * when `ctx` already holds it. Without `ctx` a plain sleeping lock. Sleeps.
   */
  async lock(ctx?: WwAcquireCtx | null): Promise<0 | -35 | -114> {
    this.#checkLock(ctx, 'dma_resv_lock');
    return this.#mutex.lock(ctx);
  }

  /** `dma_resv_lock_interruptible`: {@link DmaResv.lock}, or `-EINTR` (-4) when `signal` fires while waiting. */
  async lockInterruptible(ctx?: WwAcquireCtx | null, options: WwLockOptions = {}): Promise<0 | -35 | -114 | -4> {
    this.#checkLock(ctx, 'dma_resv_lock_interruptible');
    return this.#mutex.lockInterruptible(ctx, options);
  }

  /**
   * `dma_resv_lock_slow(obj, ctx)`: after `-EDEADLK` and unlocking everything held under
   * `ctx`, sleep until this (the contended) resv is held.
   */
  async lockSlow(ctx: WwAcquireCtx): Promise<void> {
    this.#checkLock(ctx, 'dma_resv_lock_slow');
    return this.#mutex.lockSlow(ctx);
  }

  /** `dma_resv_lock_slow_interruptible`: 0 once held, or `-EINTR` (-4). */
  async lockSlowInterruptible(ctx: WwAcquireCtx, options: WwLockOptions = {}): Promise<0 | -4> {
    this.#checkLock(ctx, 'dma_resv_lock_slow_interruptible');
    return this.#mutex.lockSlowInterruptible(ctx, options);
  }

  /** `dma_resv_trylock(obj)`: take it if free, without a context (no deadlock avoidance). Never sleeps. */
  trylock(): boolean {
    this.#alive('dma_resv_trylock');
    return this.#mutex.trylock(null);
  }

  /**
   * `dma_resv_unlock(obj)`: release. Also drops every reservation not used
   * (`dma_resv_reset_max_fences`, which the kernel does in debug builds: here always) and
   * ends the fence-signalling section {@link DmaResv.addFence} began. EPERM (nothing changed) if
   * the current task does not hold it.
   */
  unlock(): void {
    this.#alive('dma_resv_unlock');
    this.#mutex.unlock();
    const list = this._list;
    if (list !== null) list.max = list.fences.length;
    const task = this.#section;
    if (task !== null) {
      this.#section = null;
      closeSection(this.runtime, this.#state, task);
    }
  }

  /** `dma_resv_is_locked(obj)`. */
  get isLocked(): boolean {
    return this.#mutex.isLocked;
  }

  /** `dma_resv_locking_ctx(obj)`: the acquire context it is held under, or null. */
  get lockingCtx(): WwAcquireCtx | null {
    return this.#mutex.lockingCtx;
  }

  /** The task holding it, or null. */
  get owner(): Task | null {
    return this.#mutex.owner;
  }

  /**
   * `dma_resv_held(obj)` (`lockdep_is_held`): true if the current task holds it. As the
   * kernel's, true whenever lockdep is off (checks `off`); use {@link DmaResv.isLocked} for logic.
   */
  held(): boolean {
    return this.runtime.lockdep.isHeld(this.#mutex);
  }

  /** `dma_resv_assert_held(obj)`: a lockdep report (throws under `strict`) unless the current task holds it. */
  assertHeld(): void {
    this.#mutex.assertHeld();
  }

  /** @internal The lockdep assertion of the read side (`dma_resv_iter_first` & co). */
  _assertHeldFor(who: string): void {
    this.#alive(who);
    const ld = this.runtime.lockdep;
    if (ld.enabled && !ld.isHeld(this.#mutex)) ld.assertHeld(this.#mutex, `${this.name} (dma_resv, in ${who})`);
  }

  // --- writers -------------------------------------------------------------------------------

  /**
   * `dma_resv_reserve_fences(obj, n)`: make sure `n` more fences can be added before the
   * unlock. Returns 0, or -ENOMEM (-12) when the allocation hook fails (site
   * `dma_resv_reserve_fences`), leaving everything as it was. When it reallocates (to
   * `max(num + n, 2 × max)`, or `max(4, roundup_pow_of_two(n))` the first time after an
   * unlock) it drops the fences already signalled, and the new list makes unlocked
   * iterators restart. `n === 0` is a WARN and DepError EINVAL. Must hold the lock. Sleeps
   * (GFP_KERNEL).
   */
  reserveFences(numFences: number): 0 | -12 {
    const who = 'dma_resv_reserve_fences';
    if (!Number.isSafeInteger(numFences) || numFences < 0) {
      throw new DepError('EINVAL', `${who}(${this.name}, ${String(numFences)}): pass the number of fences to reserve, a positive integer`);
    }
    this.#checkOwner(who);
    const rt = this.runtime;
    if (numFences === 0) {
      rt.reports.warnOn(true, `${who}(${this.name}, 0): reserving no fence slot is a bug in the caller`);
      throw new DepError('EINVAL', `${who}(${this.name}, 0): pass how many fences you will add (at least 1)`);
    }
    const old = this._list;
    let max: number;
    if (old !== null && old.max > 0) {
      const num = old.fences.length;
      if (num + numFences <= old.max) return 0;
      max = Math.max(num + numFences, old.max * 2);
    } else {
      max = Math.max(4, roundupPow2(numFences));
    }
    if (!rt.tryAlloc(GFP_KERNEL, who)) return ENOMEM;
    const list = new ResvList(max);
    let dropped: DmaFence[] | null = null;
    if (old !== null) {
      const fences = old.fences;
      const usages = old.usages;
      for (let i = 0; i < fences.length; i++) {
        const f = fences[i]!;
        if (f.isSignaled()) (dropped ??= []).push(f);
        else list.push(f, usages[i]!);
      }
    }
    this._list = list;
    this.#generation++;
    if (dropped !== null) for (const f of dropped) f.put();
    return 0;
  }

  /**
   * `dma_resv_add_fence(obj, fence, usage)`: add `fence` (taking a reference). Cannot fail
   * once slots are reserved. It **replaces** the first entry that either has the same
   * context, a usage not weaker (old usage ≥ `usage`) and is not later than `fence`
   * (`isLaterOrSame`), or has already signalled; otherwise it takes a reserved slot (none
   * left: the kernel's BUG, here a WARN and DepError ENOSPC). So a fence is promoted by
   * adding it again with a stronger usage and never degraded.
   *
   * Rejects with DepError, changing nothing: not a fence / another runtime's / bad usage /
   * PREEMPT on a resv without it (EINVAL); an INACTIVE fence (EINVAL); a container (array
   * or chain: WARN, then EINVAL — add the leaves); the lock not held by the current task
   * (EPERM).
   *
   * lockdep: unless `options.foreign`, adding an unsignalled fence publishes it, so the
   * task is in a fence-signalling section (`beginSignalling`) from here until this resv is
   * unlocked: a blocking allocation, a fence wait or taking another resv lock in between
   * is reported.
   */
  addFence(fence: Fence, usage: DmaResvUsage, options?: AddFenceOptions): void {
    const who = 'dma_resv_add_fence';
    const f = this.#checkFence(fence, usage, who);
    const foreign = options === undefined ? false : checkAddOptions(options, who);
    this.#checkOwner(who);
    const list = this._list;
    const fences = list === null ? null : list.fences;
    let i = 0;
    if (fences !== null) {
      const usages = list!.usages;
      const ctx = f.context;
      for (const n = fences.length; i < n; i++) {
        const old = fences[i]!;
        if ((old.context === ctx && usages[i]! >= usage && f.isLaterOrSame(old)) || old.isSignaled()) break;
      }
    }
    if (list === null || fences === null || (i === fences.length && i >= list.max)) this.#noSlot(f, who);
    f.get();
    if (i < fences.length) {
      const old = fences[i]!;
      fences[i] = f;
      list.usages[i] = usage;
      if (usage === PREEMPT) list.hasPreempt = true;
      old.put();
    } else {
      list.push(f, usage);
    }
    if (!foreign && this.#section === null && !f.testSignaledFlag()) this.#section = openSection(this.runtime, this.#state);
  }

  /**
   * `dma_resv_replace_fences(obj, context, replacement, usage)`: every entry of `context`
   * becomes `replacement` (one reference each) with `usage`. Only valid when the old
   * operations no longer touch the buffer once `replacement` completes (a preempt fence
   * replaced by a page-table-update fence). Validates like {@link DmaResv.addFence}; needs no
   * reservation. Like `addFence` it publishes `replacement` (signalling section) when it
   * replaced anything.
   */
  replaceFences(context: bigint, replacement: Fence, usage: DmaResvUsage): void {
    const who = 'dma_resv_replace_fences';
    if (typeof context !== 'bigint' || context < 0n) {
      throw new DepError('EINVAL', `${who}(${this.name}): context must be a fence context (a non-negative bigint), got ${String(context)}`);
    }
    const f = this.#checkFence(replacement, usage, who);
    this.#checkOwner(who);
    const list = this._list;
    if (list === null) return;
    const fences = list.fences;
    let replaced = 0;
    for (let i = 0; i < fences.length; i++) {
      const old = fences[i]!;
      if (old.context !== context) continue;
      fences[i] = f.get();
      list.usages[i] = usage;
      old.put();
      replaced++;
    }
    if (replaced === 0) return;
    if (usage === PREEMPT) list.hasPreempt = true;
    if (this.#section === null && !f.testSignaledFlag()) this.#section = openSection(this.runtime, this.#state);
  }

  /**
   * `dma_resv_copy_fences(dst, src)` on `dst = this`: replace this resv's fences with a
   * snapshot of `src`'s unsignalled ones, keeping their usages (PREEMPT included, which
   * this resv must then allow: EINVAL otherwise, nothing changed). Returns 0, or -ENOMEM
   * (-12) from the allocation hook (site `dma_resv_copy_fences`) with nothing changed.
   * Must hold this resv's lock; `src` needs none. The swap makes unlocked iterators of
   * this resv restart.
   */
  copyFences(src: DmaResv): 0 | -12 {
    const who = 'dma_resv_copy_fences';
    if (!(src instanceof DmaResv)) throw new DepError('EINVAL', `${who}(${this.name}, src): src must be a DmaResv`);
    if (src.runtime !== this.runtime) throw new DepError('EINVAL', `${who}(${this.name}, ${src.name}): the resvs belong to different runtimes`);
    src.#alive(who);
    this.#checkOwner(who);
    const rt = this.runtime;
    const cursor = new DmaResvIter(src, src.preemptEnabled ? PREEMPT : BOOKKEEP);
    let list: ResvList | null = null;
    try {
      for (let f = cursor.firstUnlocked(); f !== null; f = cursor.nextUnlocked()) {
        if (cursor.isRestarted) {
          list?.free();
          list = null;
          if (!rt.tryAlloc(GFP_KERNEL, who)) return ENOMEM;
          list = new ResvList(cursor.numFences);
        }
        if (cursor.usage === PREEMPT && !this.preemptEnabled) {
          list!.free();
          list = null;
          throw new DepError('EINVAL', `${who}(${this.name}, ${src.name}): ${src.name} holds PREEMPT fences (${fenceLabel(f)}) but ${this.name} does not allow the PREEMPT usage; make it with { preempt: true }`);
        }
        list!.push((f as DmaFence).get(), cursor.usage);
      }
    } finally {
      cursor.end();
    }
    const old = this._list;
    this._list = list;
    this.#generation++;
    old?.free();
    return 0;
  }

  // --- readers -------------------------------------------------------------------------------

  /**
   * `dma_resv_iter_begin(cursor, obj, usage)`: a cursor over the fences of usage ≤ `usage`
   * (PREEMPT ones last), for a locked or an unlocked walk; see {@link DmaResvIter}.
   */
  iterBegin(usage: DmaResvUsage): DmaResvIter {
    checkUsage(usage, 'dma_resv_iter_begin');
    this.#alive('dma_resv_iter_begin');
    return new DmaResvIter(this, usage);
  }

  /**
   * `dma_resv_for_each_fence(cursor, obj, usage, fence)`: the locked walk (signalled
   * fences included, no references). For each fence's usage, use a cursor
   * ({@link DmaResv.iterBegin}) and its `locked()` walk instead.
   */
  forEachFence(usage: DmaResvUsage): Generator<Fence, void, undefined> {
    return this.iterBegin(usage).locked();
  }

  /**
   * `dma_resv_get_fences(obj, usage, &n, &fences)`: an unlocked snapshot of the
   * unsignalled fences of usage ≤ `usage` (PREEMPT ones last), each with a reference the
   * caller now owns (put them). DepError ENOMEM from the allocation hook (site
   * `dma_resv_get_fences`), nothing held.
   */
  getFences(usage: DmaResvUsage): Fence[] {
    checkUsage(usage, 'dma_resv_get_fences');
    return this.#collect(usage, 'dma_resv_get_fences').fences;
  }

  /**
   * `dma_resv_get_singleton(obj, usage, &fence)`: one fence for all the unsignalled fences
   * of usage ≤ `usage` (a reference the caller owns): null if there are none, the fence
   * itself if there is one, else a new `DmaFenceArray` of them (fresh context, seqno
   * 1). For PREEMPT with both kinds present, a two-point chain that keeps the PREEMPT
   * order (decision 0303). DepError ENOMEM from the allocation hook, nothing held. Never
   * add the result back to a resv (it is a container: addFence refuses it).
   */
  getSingleton(usage: DmaResvUsage): Fence | null {
    const who = 'dma_resv_get_singleton';
    checkUsage(usage, who);
    const { fences, numPreempt } = this.#collect(usage, who);
    const n = fences.length;
    if (n === 0) return null;
    if (n === 1) return fences[0]!;
    const rt = this.runtime;
    if (numPreempt > 0 && numPreempt < n) {
      return preemptOrderedSingleton(rt, fences.slice(0, n - numPreempt), fences.slice(n - numPreempt));
    }
    try {
      return DmaFenceArray.create(fences, contextAlloc(1, rt), 1n);
    } catch (e) {
      for (const f of fences) f.put();
      throw e;
    }
  }

  /**
   * `dma_resv_test_signaled(obj, usage)`: true if no unsignalled fence of usage ≤ `usage`
   * is left. Never enables signalling. No lock needed.
   */
  testSignaled(usage: DmaResvUsage): boolean {
    checkUsage(usage, 'dma_resv_test_signaled');
    this.#alive('dma_resv_test_signaled');
    const cursor = new DmaResvIter(this, usage);
    const f = cursor.firstUnlocked();
    cursor.end();
    return f === null;
  }

  /**
   * `dma_resv_wait_timeout(obj, usage, intr, timeout)`: wait for every unsignalled fence of
   * usage ≤ `usage`, one after the other, `timeout` ms in all. Resolves with the time left
   * (> 0; `Infinity` for an infinite wait), 1 when `timeout` is 0 and everything has
   * signalled, 0 on timeout, -ERESTARTSYS (-512) when `options.signal` fires. No lock
   * needed (holding this one is legal: waiting under a resv is the primed lockdep order).
   *
   * For PREEMPT it keeps the RFC's order: drain every other fence (again, until none is
   * left: fences added meanwhile count too), then enable signalling on all PREEMPT fences
   * at once, in one instant, then wait for them.
   *
   * `timeout === 0` polls each fence (enabling its signalling) without waiting, where the
   * kernel waits one jiffy per fence. `options.forFence` declares the wait-for edges.
   * Negative or NaN timeout: DepError EINVAL. Sleeps.
   */
  async waitTimeout(usage: DmaResvUsage, timeout: number, options: ResvWaitOptions = {}): Promise<number> {
    const who = 'dma_resv_wait_timeout';
    checkUsage(usage, who);
    if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
      throw new DepError('EINVAL', `${who}(${this.name}): timeout must be a number of ms ≥ 0 (0 polls, Infinity waits forever), got ${String(timeout)}`);
    }
    const { signal, forFence } = checkWaitOptions(options, this.runtime, who);
    this.#alive(who);
    const rt = this.runtime;
    if (rt.checks !== 'off') {
      rt.mightSleep(`${who}(${this.name})`);
      rt.lockdep.mightWait(`${who}(${this.name})`);
    }
    const poll = timeout === 0;
    let ret = poll ? 1 : timeout;
    if (usage !== PREEMPT) return this.#waitPass(new DmaResvIter(this, usage), poll, ret, signal, forFence);
    for (;;) {
      ret = await this.#waitPass(new DmaResvIter(this, BOOKKEEP), poll, ret, signal, forFence);
      if (ret <= 0) return ret;
      if (this.testSignaled(BOOKKEEP)) break;
    }
    // Every other fence has signalled: enable the preempt fences all at once, in this instant.
    const cursor = new DmaResvIter(this, PREEMPT, true);
    for (let f = cursor.firstUnlocked(); f !== null; f = cursor.nextUnlocked()) f.enableSwSignaling();
    cursor.end();
    return this.#waitPass(new DmaResvIter(this, PREEMPT, true), poll, ret, signal, forFence);
  }

  async #waitPass(cursor: DmaResvIter, poll: boolean, ret: number, signal: AbortSignal | undefined, forFence: Fence | undefined): Promise<number> {
    const opts = signal === undefined ? undefined : { signal };
    try {
      for (let f = cursor.firstUnlocked(); f !== null; f = cursor.nextUnlocked()) {
        let edge: FenceWait | null = null;
        if (forFence !== undefined) edge = fenceWaitsOn(forFence, f, `dma_resv_wait_timeout(${this.name}, ${usageName(cursor.usage)})`);
        try {
          ret = await f.waitTimeout(poll ? 0 : ret, opts);
        } finally {
          edge?.remove();
        }
        if (ret <= 0) return ret;
      }
      return ret;
    } finally {
      cursor.end();
    }
  }

  /**
   * `dma_resv_set_deadline(obj, usage, deadline)`: a deadline hint (ms, runtime clock) on
   * every unsignalled fence of usage ≤ `usage`. Enables no signalling. No lock needed.
   */
  setDeadline(usage: DmaResvUsage, deadline: number): void {
    const who = 'dma_resv_set_deadline';
    checkUsage(usage, who);
    if (typeof deadline !== 'number' || Number.isNaN(deadline)) {
      throw new DepError('EINVAL', `${who}(${this.name}): deadline must be a time in ms on the runtime clock, got ${String(deadline)}`);
    }
    this.#alive(who);
    const cursor = new DmaResvIter(this, usage);
    for (let f = cursor.firstUnlocked(); f !== null; f = cursor.nextUnlocked()) f.setDeadline(deadline);
    cursor.end();
  }

  /**
   * `dma_resv_describe(obj, seq)`: one line per fence up to READ (BOOKKEEP and PREEMPT are
   * not shown), `\t<usage> fence: <dma_fence_describe>`, signalled ones included. The resv
   * must be held (lockdep assertion).
   */
  describe(): string {
    const cursor = new DmaResvIter(this, DmaResvUsage.READ);
    const lines: string[] = [];
    for (let f = cursor.first(); f !== null; f = cursor.next()) lines.push(`\t${usageName(cursor.usage)} fence: ${f.describe()}`);
    return lines.join('\n');
  }

  /**
   * `dma_resv_fini(obj)`: put every fence. The resv must not be locked (WARN and DepError
   * EBUSY, nothing changed); afterwards every call is DepError EINVAL.
   */
  fini(): void {
    const who = 'dma_resv_fini';
    this.#alive(who);
    if (this.#mutex.isLocked) {
      this.runtime.reports.warnOn(true, `${who}(${this.name}): the resv is still locked by ${String(this.#mutex.owner)}`);
      throw new DepError('EBUSY', `${who}(${this.name}): unlock the resv before fini`);
    }
    this.#finished = true;
    const list = this._list;
    this._list = null;
    this.#generation++;
    list?.free();
  }

  /** `DmaResv <name>`. */
  toString(): string {
    return `DmaResv ${this.name}`;
  }

  // --- internals -----------------------------------------------------------------------------

  #alive(who: string): void {
    if (this.#finished) throw new DepError('EINVAL', `${who}(${this.name}): the resv was finalized with fini(); make a new one`);
  }

  #checkLock(ctx: WwAcquireCtx | null | undefined, who: string): void {
    this.#alive(who);
    if (ctx !== undefined && ctx !== null && !(ctx instanceof WwAcquireCtx)) {
      throw new DepError('EINVAL', `${who}(${this.name}): ctx must be a WwAcquireCtx of reservationWwClass(rt), or null`);
    }
    // Taking a resv lock inside a fence-signalling section is a lockdep cycle (the primed
    // order dma_resv → fs_reclaim → dma_fence_map). lockdep sees it through the graph,
    // except when the context already holds resvs (nested under it, no edge is recorded,
    // as in the kernel): report that case here.
    const rt = this.runtime;
    if (ctx != null && ctx.acquired > 0 && rt.lockdep.inSignallingSection()) {
      rt.reports.report('lockdep', `${who}(${this.name}) inside a fence signalling section: possible deadlock`, [
        `${rt.current.toString()} takes a dma_resv lock while in dma_fence_begin_signalling() (or after addFence() on a resv it still holds)`,
        'a resv may be held by someone waiting for the fence being signalled: lock every resv first, then publish fences',
        `order primed at boot: mmap_lock -> dma_resv -> fs_reclaim -> dma_fence_map`,
      ]);
    }
  }

  /** Writers: the current task must hold the lock (DepError EPERM otherwise). */
  #checkOwner(who: string): void {
    this.#alive(who);
    const rt = this.runtime;
    const owner = this.#mutex.owner;
    if (owner !== rt.current) {
      throw new DepError('EPERM', `${who}(${this.name}): ${owner === null ? 'the resv is not locked' : `the resv is held by ${owner.toString()}, not ${rt.current.toString()}`}; lock it (dma_resv_lock) before changing its fences`);
    }
  }

  #checkFence(fence: Fence, usage: DmaResvUsage, who: string): DmaFence {
    const f = fence as unknown;
    if (!(f instanceof DmaFence) || !f.wasInitialized()) {
      throw new DepError('EINVAL', `${who}(${this.name}): pass an initialized fence (DmaFence or its Fence view), got ${f === null ? 'null' : typeof f}`);
    }
    if (f.runtime !== this.runtime) throw new DepError('EINVAL', `${who}(${this.name}): fence ${fenceLabel(f)} belongs to another runtime`);
    if (!isUsage(usage)) throw badUsage(usage, `${who}(${this.name})`);
    if (usage === PREEMPT && !this.preemptEnabled) {
      throw new DepError('EINVAL', `${who}(${this.name}): the PREEMPT usage is not enabled on this resv; make it with new DmaResv({ preempt: true }) or enablePreemptUsage(rt) first`);
    }
    if (f.inactive) assertActive(f, `${who}(${this.name})`);
    if (isDmaFenceContainer(f)) {
      this.runtime.reports.warnOn(true, `${who}(${this.name}): fence ${fenceLabel(f)} is a container (WARN_ON(dma_fence_is_container(fence)))`, [
        'a resv holds leaf fences only: add each fence of the array or chain (unwrapForEach)',
      ]);
      throw new DepError('EINVAL', `${who}(${this.name}): ${fenceLabel(f)} is a dma_fence_array or dma_fence_chain; add its leaves instead`);
    }
    return f;
  }

  #noSlot(f: DmaFence, who: string): never {
    const list = this._list;
    const msg = `kernel BUG in ${who}(${this.name}): no reserved slot left for ${fenceLabel(f)} (${list === null ? 'no fence list: nothing was ever reserved' : `${list.fences.length} of ${list.max} used`})`;
    this.runtime.reports.report('warn', msg, ['call reserveFences(n) after locking and before adding; reservations die with the unlock']);
    throw new DepError('ENOSPC', `${who}(${this.name}): no reserved fence slot; call reserveFences() under the same lock first`);
  }

  /** Unlocked snapshot with references (the get_fences loop), PREEMPT fences last. */
  #collect(usage: DmaResvUsage, who: string): { fences: DmaFence[]; numPreempt: number } {
    this.#alive(who);
    const rt = this.runtime;
    const cursor = new DmaResvIter(this, usage);
    let fences: DmaFence[] = [];
    let numPreempt = 0;
    try {
      for (let f = cursor.firstUnlocked(); f !== null; f = cursor.nextUnlocked()) {
        if (cursor.isRestarted) {
          for (const g of fences) g.put();
          fences = [];
          numPreempt = 0;
          rt.alloc(GFP_KERNEL, 'dma_resv_get_fences');
        }
        fences.push((f as DmaFence).get());
        if (cursor.usage === PREEMPT) numPreempt++;
      }
    } catch (e) {
      for (const g of fences) g.put();
      throw e;
    } finally {
      cursor.end();
    }
    return { fences, numPreempt };
  }
}

function checkAddOptions(options: AddFenceOptions, who: string): boolean {
  if (typeof options !== 'object' || options === null) throw new DepError('EINVAL', `${who}: options must be an object ({ foreign?: boolean })`);
  const foreign = options.foreign;
  if (foreign !== undefined && typeof foreign !== 'boolean') throw new DepError('EINVAL', `${who}: options.foreign must be true or false`);
  return foreign === true;
}

function checkWaitOptions(options: ResvWaitOptions, rt: Runtime, who: string): { signal: AbortSignal | undefined; forFence: Fence | undefined } {
  if (typeof options !== 'object' || options === null) throw new DepError('EINVAL', `${who}: options must be an object ({ signal?, forFence? })`);
  const { signal, forFence } = options;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof (signal).aborted !== 'boolean')) {
    throw new DepError('EINVAL', `${who}: options.signal must be an AbortSignal (from an AbortController)`);
  }
  if (forFence !== undefined) {
    const f = forFence as unknown;
    if (!(f instanceof DmaFence) || !f.wasInitialized()) throw new DepError('EINVAL', `${who}: options.forFence must be an initialized fence`);
    if (f.runtime !== rt) throw new DepError('EINVAL', `${who}: options.forFence belongs to another runtime`);
  }
  return { signal, forFence };
}
