/**
 * `struct drm_exec` (drivers/gpu/drm/drm_exec.c, include/drm/drm_exec.h): lock any number
 * of reservation objects under one acquire context, reserve fence slots on each, and back
 * off and retry on contention.
 */
import { DepError, GFP_KERNEL, WwAcquireCtx, getDefaultRuntime, type Runtime } from '@dep/kernel';
import { DmaResv } from './resv.js';
import { reservationWwClass } from './runtime-state.js';

/** `PAGE_SIZE / sizeof(void *)`: the kernel's default object table size and growth step. */
const TABLE_STEP = 512;
const EALREADY = -114;
const EDEADLK = -35;
const ENOMEM = -12;

/**
 * What a {@link DrmExec} locks: a resv, or an object that has one (a GEM object's `resv`).
 * An object with `get()`/`put()` (a refcounted one, like a GEM object) is referenced while
 * the exec tracks it, as `drm_exec` holds a `drm_gem_object` reference on each locked,
 * contended or prelocked object: its last other reference may go while it is locked, it is
 * freed after `fini()` unlocks it.
 */
export type DrmExecObject = DmaResv | { readonly resv: DmaResv; get?(): unknown; put?(): void };

/** Options of `new DrmExec()` (`drm_exec_init(exec, flags, nr)`). */
export interface DrmExecOptions {
  /** `DRM_EXEC_INTERRUPTIBLE_WAIT`: lock with the interruptible variants; `signal` interrupts. Default false. */
  readonly interruptible?: boolean;
  /** `DRM_EXEC_IGNORE_DUPLICATES`: locking an object already locked here returns 0 instead of -EALREADY. Default false. */
  readonly ignoreDuplicates?: boolean;
  /** With `interruptible`: aborting it makes a waiting lock return -EINTR (-4). */
  readonly signal?: AbortSignal;
  /** Initial size of the object table (`nr`; default 512): locking more grows it through the allocation hook. */
  readonly nr?: number;
}

/** @internal Thrown through the caller's body on -EDEADLK: `drm_exec_retry_on_contention`. */
class Contended extends Error {
  readonly exec: object;
  constructor(exec: object) {
    super('DrmExec contention: back off and retry (thrown through untilAllLocked; let it pass)');
    this.name = 'DrmExecContended';
    this.exec = exec;
  }
}

/** `drm_gem_object_get()` on a refcounted object; nothing for a bare resv. */
function ref(obj: DrmExecObject): void {
  if (!(obj instanceof DmaResv) && typeof obj.get === 'function') obj.get();
}

/** `drm_gem_object_put()` on a refcounted object; nothing for a bare resv. */
function unref(obj: DrmExecObject | null): void {
  if (obj !== null && !(obj instanceof DmaResv) && typeof obj.put === 'function') obj.put();
}

function resvOf(obj: DrmExecObject, who: string): DmaResv {
  if (obj instanceof DmaResv) return obj;
  if (typeof obj === 'object' && obj !== null && (obj as { resv?: unknown }).resv instanceof DmaResv) return obj.resv;
  throw new DepError('EINVAL', `${who}: pass a DmaResv or an object with a "resv" DmaResv, got ${obj === null ? 'null' : typeof obj}`);
}

/**
 * `struct drm_exec`: the retry loop for locking several reservation objects.
 *
 * ```ts
 * const exec = new DrmExec(rt, { interruptible: true });
 * try {
 *   const ret = await exec.untilAllLocked(async (exec) => {
 *     for (const bo of bos) {
 *       const r = await exec.prepareObj(bo, 1);   // lock + reserve 1 slot
 *       if (r !== 0) return r;                    // -EINTR, -ENOMEM, -EALREADY
 *     }
 *     return 0;
 *   });
 *   if (ret === 0) for (const bo of exec.objects) bo.resv.addFence(jobFence, DmaResvUsage.WRITE);
 * } finally {
 *   exec.fini();                                  // unlock everything
 * }
 * ```
 *
 * On contention (`-EDEADLK` from wait-die) {@link DrmExec.lockObj} does not return: it throws a
 * private token through the body, {@link DrmExec.untilAllLocked} catches it, unlocks everything,
 * and runs the body again, whose first lock sleeps on the contended object
 * (`dma_resv_lock_slow`) before anything else (`drm_exec_lock_contended`). The body must
 * therefore be re-runnable, and must not swallow what it does not know (if it does, the
 * loop still sees the contention and retries). Everything else a lock returns
 * (`-EALREADY`, `-ENOMEM`, `-EINTR`) is the body's to handle.
 */
export class DrmExec<T extends DrmExecObject = DmaResv> {
  /** The runtime of the locked objects. */
  readonly runtime: Runtime;
  /** `DRM_EXEC_INTERRUPTIBLE_WAIT`. */
  readonly interruptible: boolean;
  /** `DRM_EXEC_IGNORE_DUPLICATES`. */
  readonly ignoreDuplicates: boolean;
  readonly #signal: AbortSignal | undefined;
  #ticket: WwAcquireCtx | null = null;
  readonly #objects: T[] = [];
  #maxObjects: number;
  /** The object whose lock returned -EDEADLK, until it is slow-locked. */
  #contended: T | null = null;
  #contendedRound = 0;
  /** The object slow-locked for the retry: its next `lockObj` returns 0 at once. */
  #prelocked: T | null = null;
  #round = 0;
  #inLoop = false;
  #retries = 0;
  #finished = false;

  /** `drm_exec_init(exec, flags, nr)`. */
  constructor(runtime: Runtime = getDefaultRuntime(), options: DrmExecOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new DepError('EINVAL', 'new DrmExec(rt, options): options must be an object');
    const { interruptible, ignoreDuplicates, signal, nr } = options;
    if (interruptible !== undefined && typeof interruptible !== 'boolean') throw new DepError('EINVAL', 'new DrmExec: interruptible must be true or false');
    if (ignoreDuplicates !== undefined && typeof ignoreDuplicates !== 'boolean') throw new DepError('EINVAL', 'new DrmExec: ignoreDuplicates must be true or false');
    if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof (signal).aborted !== 'boolean')) {
      throw new DepError('EINVAL', 'new DrmExec: signal must be an AbortSignal');
    }
    if (signal !== undefined && interruptible !== true) throw new DepError('EINVAL', 'new DrmExec: a signal only interrupts an interruptible exec; pass interruptible: true too');
    if (nr !== undefined && (!Number.isSafeInteger(nr) || nr < 0)) throw new DepError('EINVAL', `new DrmExec: nr must be a non-negative integer, got ${String(nr)}`);
    this.runtime = runtime;
    this.interruptible = interruptible ?? false;
    this.ignoreDuplicates = ignoreDuplicates ?? false;
    this.#signal = signal;
    this.#maxObjects = nr === undefined || nr === 0 ? TABLE_STEP : nr;
  }

  /** `exec->ticket`: the acquire context (made by the first {@link DrmExec.untilAllLocked}), or null. */
  get ticket(): WwAcquireCtx | null {
    return this.#ticket;
  }

  /** `exec->num_objects`. */
  get numObjects(): number {
    return this.#objects.length;
  }

  /** The locked objects in locking order (`drm_exec_for_each_locked_object`). */
  get objects(): readonly T[] {
    return this.#objects;
  }

  /** `drm_exec_obj(exec, index)`: the `index`-th locked object, or null. */
  obj(index: number): T | null {
    return this.#objects[index] ?? null;
  }

  /** `drm_exec_is_contended(exec)`. */
  get isContended(): boolean {
    return this.#contended !== null;
  }

  /** How many times the loop backed off and retried (for tests and statistics). */
  get retries(): number {
    return this.#retries;
  }

  /**
   * `drm_exec_until_all_locked(exec) { … }`: run `body` until it completes without
   * contention; resolves with what its last run returned. At the start of each run no
   * object is locked except the one slow-locked for the retry. A real error thrown by the
   * body propagates with whatever is locked still locked: call {@link DrmExec.fini}. Runs once per
   * exec (DepError EINVAL otherwise). Sleeps.
   */
  async untilAllLocked<R>(body: (exec: this) => R | Promise<R>): Promise<R> {
    const who = 'drm_exec_until_all_locked';
    if (typeof body !== 'function') throw new DepError('EINVAL', `${who}: pass the locking body, a function (exec) => …`);
    this.#checkUsable(who);
    if (this.#inLoop || this.#ticket !== null) {
      throw new DepError('EINVAL', `${who}: the loop runs once per DrmExec (it is ${this.#inLoop ? 'running' : 'done'}); fini() this one and make a new DrmExec`);
    }
    this.#ticket = new WwAcquireCtx(this.runtime, reservationWwClass(this.runtime));
    this.#inLoop = true;
    try {
      for (;;) {
        const round = ++this.#round;
        let result: R | undefined;
        try {
          result = await body(this);
        } catch (e) {
          if (!(e instanceof Contended && e.exec === this)) throw e;
        }
        // drm_exec_cleanup(): no contention left, or one this run never got to retry
        // (its body no longer locks anything: forget it instead of spinning, where the
        // kernel would loop forever).
        if (this.#contended === null || this.#contendedRound !== round) {
          unref(this.#contended);
          this.#contended = null;
          this.#ticket.done();
          return result as R;
        }
        this.#retries++;
        this.#unlockAll();
      }
    } finally {
      this.#inLoop = false;
    }
  }

  /**
   * `drm_exec_lock_obj(exec, obj)`: lock `obj` under the exec's context and track it.
   * 0 once locked; -EALREADY (-114) when this exec already holds it (0 with
   * `ignoreDuplicates`); -EINTR (-4) when interrupted; -ENOMEM (-12) when the object table
   * cannot grow. On contention it does not return (see the class doc). Only inside
   * {@link DrmExec.untilAllLocked} (DepError EINVAL otherwise). Sleeps.
   */
  async lockObj(obj: T): Promise<0 | -114 | -12 | -4> {
    const who = 'drm_exec_lock_obj';
    const resv = resvOf(obj, who);
    this.#checkInLoop(who);
    let ret = await this.#lockContended();
    if (ret !== 0) return ret;
    // A contention of this run that the body swallowed: keep unwinding.
    if (this.#contended !== null) throw new Contended(this);
    if (this.#prelocked === obj) {
      unref(obj);
      this.#prelocked = null;
      return 0;
    }
    const ticket = this.#ticket!;
    const r = this.interruptible ? await resv.lockInterruptible(ticket, this.#signal === undefined ? {} : { signal: this.#signal }) : await resv.lock(ticket);
    if (r === EDEADLK) {
      ref(obj);
      this.#contended = obj;
      this.#contendedRound = this.#round;
      throw new Contended(this);
    }
    if (r === EALREADY) return this.ignoreDuplicates ? 0 : EALREADY;
    if (r !== 0) return r;
    ret = this.#objLocked(obj);
    if (ret !== 0) {
      resv.unlock();
      return ret;
    }
    return 0;
  }

  /**
   * `drm_exec_prepare_obj(exec, obj, numFences)`: {@link DrmExec.lockObj}, then reserve
   * `numFences` fence slots (`reserveFences`); if that fails (-ENOMEM) the object is
   * unlocked again. `numFences` must be ≥ 1 (0 would be `reserveFences(0)`: WARN and
   * DepError EINVAL, before anything is locked; use {@link DrmExec.lockObj}).
   */
  async prepareObj(obj: T, numFences: number): Promise<0 | -114 | -12 | -4> {
    const who = 'drm_exec_prepare_obj';
    const resv = resvOf(obj, who);
    if (!Number.isSafeInteger(numFences) || numFences < 0) {
      throw new DepError('EINVAL', `${who}: numFences must be a positive integer, got ${String(numFences)}`);
    }
    if (numFences === 0) {
      this.runtime.reports.warnOn(true, `${who}(${resv.name}, 0): reserving no fence slot (dma_resv_reserve_fences(obj, 0))`);
      throw new DepError('EINVAL', `${who}(${resv.name}, 0): pass the number of fences to reserve, or use lockObj() to only lock`);
    }
    this.#checkInLoop(who);
    const ret = await this.lockObj(obj);
    if (ret !== 0) return ret;
    const r = resv.reserveFences(numFences);
    if (r !== 0) {
      this.unlockObj(obj);
      return r;
    }
    return 0;
  }

  /**
   * `drm_exec_prepare_array(exec, objects, n, numFences)`: {@link DrmExec.prepareObj} on each,
   * stopping at the first error (returned).
   */
  async prepareArray(objs: readonly T[], numFences: number): Promise<0 | -114 | -12 | -4> {
    if (!Array.isArray(objs)) throw new DepError('EINVAL', 'drm_exec_prepare_array: pass an array of objects');
    for (const obj of objs as readonly T[]) {
      const r = await this.prepareObj(obj, numFences);
      if (r !== 0) return r;
    }
    return 0;
  }

  /**
   * `drm_exec_unlock_obj(exec, obj)`: unlock `obj` and forget it (meant for the most
   * recently locked ones). Not tracked here: nothing happens.
   */
  unlockObj(obj: T): void {
    const who = 'drm_exec_unlock_obj';
    const resv = resvOf(obj, who);
    this.#checkUsable(who);
    const objects = this.#objects;
    for (let i = objects.length - 1; i >= 0; i--) {
      if (objects[i] === obj) {
        resv.unlock();
        objects.splice(i, 1);
        unref(obj);
        if (this.#prelocked === obj) {
          unref(obj);
          this.#prelocked = null;
        }
        return;
      }
    }
  }

  /**
   * `drm_exec_fini(exec)`: unlock every object (newest first) and end the acquire context.
   * Not from inside the loop's body; twice is DepError EINVAL.
   */
  fini(): void {
    const who = 'drm_exec_fini';
    this.#checkUsable(who);
    if (this.#inLoop) throw new DepError('EINVAL', `${who}: called from inside untilAllLocked(); return from the body first`);
    this.#unlockAll();
    unref(this.#contended);
    this.#contended = null;
    this.#finished = true;
    this.#ticket?.fini();
  }

  // --- internals ---------------------------------------------------------------------------

  #checkUsable(who: string): void {
    if (this.#finished) throw new DepError('EINVAL', `${who}: this DrmExec was finished with fini(); make a new one`);
  }

  #checkInLoop(who: string): void {
    this.#checkUsable(who);
    if (!this.#inLoop) throw new DepError('EINVAL', `${who}: lock objects inside exec.untilAllLocked(async (exec) => { … }), where contention is retried`);
  }

  /** `drm_exec_lock_contended()`: slow-lock the object we backed off for, first. */
  async #lockContended(): Promise<0 | -12 | -4> {
    const obj = this.#contended;
    if (obj === null || this.#contendedRound === this.#round) return 0;
    const resv = resvOf(obj, 'drm_exec_lock_contended');
    this.#contended = null;
    const ticket = this.#ticket!;
    // The contention's reference becomes the prelocked one, or is dropped on error.
    if (this.interruptible) {
      const r = await resv.lockSlowInterruptible(ticket, this.#signal === undefined ? {} : { signal: this.#signal });
      if (r !== 0) {
        unref(obj);
        return r;
      }
    } else {
      await resv.lockSlow(ticket);
    }
    const ret = this.#objLocked(obj);
    if (ret !== 0) {
      resv.unlock();
      unref(obj);
      return ret;
    }
    this.#prelocked = obj;
    return 0;
  }

  /** `drm_exec_obj_locked()`: track it (with a reference), growing the table through the allocation hook. */
  #objLocked(obj: T): 0 | -12 {
    if (this.#objects.length === this.#maxObjects) {
      if (!this.runtime.tryAlloc(GFP_KERNEL, 'drm_exec_obj_locked')) return ENOMEM;
      this.#maxObjects += TABLE_STEP;
    }
    ref(obj);
    this.#objects.push(obj);
    return 0;
  }

  /** `drm_exec_unlock_all()`: newest first, each unlocked then put; then the prelocked reference. */
  #unlockAll(): void {
    const objects = this.#objects;
    while (objects.length > 0) {
      const obj = objects.pop()!;
      resvOf(obj, 'drm_exec_unlock_all').unlock();
      unref(obj);
    }
    unref(this.#prelocked);
    this.#prelocked = null;
  }
}
