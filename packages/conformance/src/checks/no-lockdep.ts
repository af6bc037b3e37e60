/**
 * no-lockdep: the mixed workload raises no lockdep report — no lock-order cycle, no
 * irq-safe/unsafe inversion, no wait or GFP_KERNEL allocation inside a fence-signalling
 * section, no sleep in atomic context, no task exiting with a lock held.
 */
import { type ConformanceCheck } from '../check.js';
import { mixedWorkload } from '../mixed-workload.js';
import { expectNoReports, runSession } from '../session.js';

export const noLockdep: ConformanceCheck = {
  name: 'no-lockdep',
  title: 'no lockdep, atomic-context or fence-signalling report on any path',
  kernel: 'lockdep (CONFIG_PROVE_LOCKING), dma_fence_begin_signalling annotations, might_sleep() / CONFIG_DEBUG_ATOMIC_SLEEP',
  async run(ctx) {
    const { reports } = await runSession(ctx, { salt: 5 }, (s) => mixedWorkload(s, ctx));
    expectNoReports(reports, 'no-lockdep', ['lockdep', 'context', 'fence-cycle', 'stall']);
    expectNoReports(reports, 'no-lockdep (other reports)');
  },
};
