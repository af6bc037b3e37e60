// Group "hw-sim-busy": the same busy 3-engine workload with checks strict and every hw:*
// tracepoint recorded in memory (what a test or the demo's timeline pays). One op: one
// simulated millisecond.
import { defineCase } from '../case.js';
import { runBusy } from './hw-sim-busy-guc-off.js';

export default defineCase({
  name: 'guc-3-engines (strict, traced)',
  group: 'hw-sim-busy',
  ops: 1_000,
  async batch(n) {
    const r = await runBusy(n, 'strict', true);
    return r.jobs > 0 ? r.simMs : -1;
  },
});
