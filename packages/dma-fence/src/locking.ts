/**
 * The fence lock and the signalling annotations, checked mode only.
 *
 * The inline lock is a bit on the fence (`F_LOCKED`), not a lock object: no memory per
 * fence. When checks are on, taking it behaves like the kernel's `SpinLock` with irqsave:
 * it raises `preempt_count` (`task.atomic`) and the irq-off depth while held, so
 * `mightSleep`, `sleepOn` and the runtime's end-of-event check see an atomic section; and it
 * goes through `rt.lockdep` with one class for every inline fence lock (`&fence->inline_lock`,
 * or the fence's own class from the init option `lockClass`), so nesting two fence locks
 * of one class, lock-order cycles and irq-safety inversions are lockdep's reports.
 *
 * Re-taking a fence lock that is held (from one of its own callbacks, or because a task
 * awaited with it held) is a deadlock in the kernel: here it is reported (kind `lockdep`)
 * and the call throws `DepError('EDEADLK')`, as `SpinLock` does.
 */
import { DepError, type LockClass, type Lockdep, type Runtime } from '@dep/kernel';
import { F_LOCK_CLASS, F_LOCKED } from './flags.js';
import type { DmaFence, Fence } from './fence.js';

/** Lockdep class name of every inline fence lock. */
export const INLINE_LOCK_CLASS = '&fence->inline_lock';

const LOCK_KEY = Symbol('@dep/dma-fence:locks');

interface LockState {
  readonly inline: LockClass;
}

let lastRt: Runtime | null = null;
let lastState: LockState | null = null;

function lockState(rt: Runtime): LockState {
  if (rt === lastRt) return lastState!;
  const st = rt.subsystem<LockState>(LOCK_KEY, (r) => ({
    inline: r.lockdep.classFor(INLINE_LOCK_CLASS),
  }));
  lastRt = rt;
  lastState = st;
  return st;
}

/** The class {@link setLockClass} looked up last, with its lockdep and name (fences of one kind share one name). */
let lastClassLd: Lockdep | null = null;
let lastClassName = '';
let lastClass: LockClass | null = null;

/**
 * @internal Record the lockdep class of a fence made with `lockClass` (checked mode), on
 * the fence itself (a field, not a side table: no weak-map entry per fence).
 */
export function setLockClass(f: DmaFence, name: string): void {
  const ld = f.runtime.lockdep;
  let cls = lastClass;
  if (cls === null || lastClassLd !== ld || lastClassName !== name) {
    cls = ld.classFor(name);
    lastClassLd = ld;
    lastClassName = name;
    lastClass = cls;
  }
  f._lockClass = cls;
}

function classOf(f: DmaFence): LockClass {
  if ((f._flags & F_LOCK_CLASS) !== 0 && f._lockClass !== null) return f._lockClass;
  return lockState(f.runtime).inline;
}

/** @internal `dma_fence_lock_irqsave()`, checked. */
export function lockChecked(f: DmaFence): void {
  const rt = f.runtime;
  const cls = classOf(f);
  const cur = rt.current;
  if ((f._flags & F_LOCKED) !== 0) throw lockedAgain(f, cls);
  cur.irqsOff++;
  cur.atomic++;
  f._flags |= F_LOCKED;
  try {
    rt.lockdep.acquireSpin(cls, f);
  } catch (e) {
    // A strict-mode report: leave everything as it was before the call.
    const held = cur.held;
    if (held.length > 0 && held[held.length - 1]!.lock === f) held.pop();
    f._flags &= ~F_LOCKED;
    cur.atomic--;
    cur.irqsOff--;
    throw e;
  }
}

/**
 * Taking a fence lock that is held: report it (recursion by this task, or a holder that
 * is not running) and return the EDEADLK to throw. Out of line, so `lockChecked` stays
 * small enough to inline.
 */
function lockedAgain(f: DmaFence, cls: LockClass): DepError {
  const rt = f.runtime;
  const cur = rt.current;
  const mine = rt.lockdep.isHeld(f);
  rt.reports.capture(() =>
    rt.reports.report(
      'lockdep',
      mine
        ? `possible recursive locking detected: ${cur.toString()} is trying to acquire ${cls.name} of fence ${fenceLabel(f)} but already holds the same lock`
        : `BUG: spinlock lockup suspected: ${cls.name} of fence ${fenceLabel(f)} is held by a task that is not running`,
      mine
        ? [
            'fence callbacks and enableSignaling run under the fence lock: do not call getStatus/addCallback/removeCallback/signal on the same fence from them (use the …Locked variants, or defer with rt.queueIrq)',
            ...cur.held.map((h, i) => `  #${i}: ${h.className}`),
          ]
        : ['a task awaited (or returned) with this fence lock held: it can never release it while this one spins'],
    ),
  );
  return new DepError('EDEADLK', `fence lock of ${fenceLabel(f)} is already held${mine ? ' by this task' : ''}; taking it again deadlocks (fence locks are spinlocks, not recursive)`);
}

/** Releasing a fence lock that is not held: report it and return the EPERM to throw (out of line). */
function unlockedNotHeld(f: DmaFence): DepError {
  const rt = f.runtime;
  const cur = rt.current;
  const why = 'it is not locked';
  rt.reports.capture(() =>
    rt.reports.report('lockdep', `WARNING: bad unlock balance detected: ${cur.toString()} releases the lock of fence ${fenceLabel(f)}, but ${why}`, [
      'call unlockIrqrestore() only after lockIrqsave() on the same fence, in the same task',
    ]),
  );
  return new DepError('EPERM', `unlockIrqrestore() on fence ${fenceLabel(f)} by ${cur.toString()}: ${why}`);
}

/** @internal `dma_fence_unlock_irqrestore()`, checked. */
export function unlockChecked(f: DmaFence): void {
  const rt = f.runtime;
  const ld = rt.lockdep;
  const cur = rt.current;
  // The lock bit says whether it is held; lockdep's release reports a holder that is another task.
  if ((f._flags & F_LOCKED) === 0) throw unlockedNotHeld(f);
  ld.release(f);
  f._flags &= ~F_LOCKED;
  if (cur.atomic > 0) cur.atomic--;
  if (cur.irqsOff > 0) cur.irqsOff--;
  if (cur.irqsOff === 0) ld.hardirqsOn();
}

/**
 * @internal The fence lock around a section that takes no other lock and runs no driver
 * or user code (a callback-list update): when lockdep has this acquisition's chain cached
 * (validating it would report nothing), take the lock without a lockdep held entry and
 * return true; the caller then runs its section and calls {@link unlockQuickChecked}.
 * False: nothing changed, use {@link lockChecked} (which also reports a held lock).
 */
export function lockQuickChecked(f: DmaFence): boolean {
  if ((f._flags & F_LOCKED) !== 0) return false;
  const rt = f.runtime;
  if (!rt.lockdep.spinIrqChainCached(classOf(f), f)) return false;
  const cur = rt.current;
  cur.irqsOff++;
  cur.atomic++;
  f._flags |= F_LOCKED;
  return true;
}

/** @internal Release a lock {@link lockQuickChecked} took (irqrestore: `hardirqsOn` when irqs come back on). */
export function unlockQuickChecked(f: DmaFence): void {
  const rt = f.runtime;
  const cur = rt.current;
  f._flags &= ~F_LOCKED;
  cur.atomic--;
  cur.irqsOff--;
  if (cur.irqsOff === 0) rt.lockdep.hardirqsOn();
}

/** @internal `dma_fence_assert_held()`, checked. */
export function assertHeldChecked(f: DmaFence, who: string): void {
  if ((f._flags & F_LOCKED) === 0 || !f.runtime.lockdep.isHeld(f)) {
    f.runtime.reports.report('lockdep', `${who}: lockdep_assert_held failed: the lock of fence ${fenceLabel(f)} is not held by ${f.runtime.current.toString()}`, [
      `call ${who} with the fence lock held (inside a callback of this fence, enableSignaling, or between lockIrqsave() and unlockIrqrestore()), or use the unlocked variant`,
    ]);
  }
}

/** @internal `dma_fence_begin_signalling()`; the cookie goes back to {@link endSignallingChecked}. */
export function beginSignallingChecked(rt: Runtime): boolean {
  return rt.lockdep.beginSignalling();
}

/** @internal `dma_fence_end_signalling(cookie)`. */
export function endSignallingChecked(rt: Runtime, cookie: boolean): void {
  rt.lockdep.endSignalling(cookie);
}

/** @internal `__dma_fence_might_wait()`: a wait inside a signalling section is a lockdep report. */
export function mightWaitChecked(rt: Runtime, what: string): void {
  rt.lockdep.mightWait(what);
}

/** `driver:timeline context:seqno`, the way reports name a fence. */
export function fenceLabel(fence: Fence): string {
  const f = fence as DmaFence;
  let names: string;
  try {
    names = `${f.driverName()}:${f.timelineName()}`;
  } catch {
    names = '?:?';
  }
  return `${names} ${f.context}:${f.seqno}`;
}
