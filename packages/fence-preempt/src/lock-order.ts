/**
 * Christian König's lock inversion (rfc-designs B.4), taught to lockdep.
 *
 * `enable_signaling` runs under the preempt fence's lock. Any fence's signal path — a
 * dependency walker's callback (drm/sched v1 enables the preempt dependencies from the
 * callback of the last normal one), a chain or array enabling its members — may enable
 * signalling on a preempt fence, i.e. take the preempt fence's lock while holding another
 * fence lock. So taking another fence's lock *from* `enable_signaling` (adding a callback
 * to the gate, as v2 did) closes an AB-BA cycle; with both locks in one class (every inline
 * fence lock is `&fence->inline_lock`) it is recursive locking, and with a shared lock a
 * self-deadlock.
 *
 * Lockdep learns an order the first time it happens. So that the rule is enforced on the
 * first offence, not after the inversion has been seen both ways, the first preempt fence
 * of a lock class made in a runtime records the order the signal paths create:
 * `&fence->inline_lock`, `&chain->lock`, `&array->lock` → the preempt fence's class. Any
 * driver code that then takes one of those locks under the preempt fence's lock is a
 * "possible circular locking dependency" (or "recursive locking") report naming both
 * chains. (A gate of a driver's own lock class is not covered; give the gate the inline
 * class or a chain.)
 */
import type { LockClass, Runtime } from '@dep/kernel';
import { ARRAY_LOCK_CLASS, CHAIN_LOCK_CLASS, INLINE_LOCK_CLASS } from '@dep/dma-fence';

const KEY = Symbol('@dep/fence-preempt:lock-orders');

/** The fence lock classes whose signal paths enable preempt fences. */
export const SIGNAL_PATH_LOCK_CLASSES: readonly string[] = [INLINE_LOCK_CLASS, CHAIN_LOCK_CLASS, ARRAY_LOCK_CLASS];

/**
 * @internal Record, once per runtime and preempt-fence lock class, "a fence's signal path
 * may enable signalling on a preempt fence": `X → preemptClass` for every class of
 * {@link SIGNAL_PATH_LOCK_CLASSES} other than `preemptClass`. Checks `off`: nothing.
 */
export function annotatePreemptLockOrder(rt: Runtime, preemptClass: string): void {
  const ld = rt.lockdep;
  if (!ld.enabled) return;
  const done = rt.subsystem(KEY, () => new Set<string>());
  if (done.has(preemptClass)) return;
  done.add(preemptClass);
  const to = ld.classFor(preemptClass);
  for (const name of SIGNAL_PATH_LOCK_CLASSES) {
    if (name === preemptClass) continue;
    signalPathEnablesPreemptFence(rt, ld.classFor(name), to);
  }
}

/**
 * A fence lock of class `from` is held (its signal path runs callbacks) while a preempt
 * fence's lock of class `to` is taken (its signalling is enabled). Both are irq-disabling
 * spinlocks, as fence locks are; the tokens are not real locks.
 */
function signalPathEnablesPreemptFence(rt: Runtime, from: LockClass, to: LockClass): void {
  const ld = rt.lockdep;
  const cur = rt.current;
  const signalling = { name: `${from.name} (a fence signalling)` };
  const enabling = { name: `${to.name} (enable_signaling of a preempt fence)` };
  // Recorded as on a CPU that holds nothing else: the caller's own held locks (a test
  // holding a mutex while it makes a fence) must not become part of these edges.
  const saved = cur.held.splice(0);
  cur.irqsOff++;
  cur.atomic++;
  try {
    ld.acquire(from, signalling, { sleeping: false });
    try {
      ld.acquire(to, enabling, { sleeping: false });
    } finally {
      if (ld.isHeld(enabling)) ld.release(enabling);
    }
  } finally {
    if (ld.isHeld(signalling)) ld.release(signalling);
    cur.atomic--;
    cur.irqsOff--;
    cur.held.push(...saved);
  }
}
