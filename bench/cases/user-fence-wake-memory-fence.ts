// Group "user-fence-wake": the same round trip, the main thread waiting through a memory
// fence (MemoryFenceDriver with the atomics wake-up: waiter count, Atomics.waitAsync, the
// user interrupt as irq_work on a real-time runtime, the fence's callback). No TDR timer.
import { defineCase } from '../case.js';
import type { MemoryFenceDriver } from '@dep/user-fence';
import { fenceRoundTrip, pongDriver, startEcho, type Echo } from './user-fence-lib/shared.js';

export default defineCase<{ e: Echo; drv: MemoryFenceDriver }>({
  name: 'memory fence (waitAsync)',
  group: 'user-fence-wake',
  ops: 5000,
  async setup() {
    const e = await startEcho(false);
    return { e, drv: pongDriver(e) };
  },
  async batch(n, { e, drv }) {
    for (let i = 0; i < n; i++) await fenceRoundTrip(e, drv, true);
    return n;
  },
});
