/**
 * Execution contexts, as the kernel has them.
 *
 * - `process`: an ioctl, a test body, a spawned task. May sleep (await).
 * - `worker`: a workqueue item. May sleep.
 * - `irq`: an interrupt handler, irq_work, or a fence callback run from one. Atomic.
 * - `timer`: a timer callback (softirq). Atomic.
 *
 * Code that would sleep in the kernel is `async` here; code that runs in atomic context is
 * synchronous and must never await.
 */
export type ExecContext = 'process' | 'worker' | 'irq' | 'timer';

/** True for contexts in which sleeping is never allowed. */
export function isAtomicContext(ctx: ExecContext): boolean {
  return ctx === 'irq' || ctx === 'timer';
}
