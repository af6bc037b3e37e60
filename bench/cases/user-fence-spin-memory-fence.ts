// Group "user-fence-spin": the spinning round trip through a memory fence in its opt-in
// low-latency mode (spinMicros: the driver spins before it would sleep in waitAsync).
import { defineCase } from '../case.js';
import type { MemoryFenceDriver } from '@dep/user-fence';
import { fenceRoundTrip, pongDriver, startEcho, type Echo } from './user-fence-lib/shared.js';

export default defineCase<{ e: Echo; drv: MemoryFenceDriver }>({
  name: 'memory fence (spinMicros)',
  group: 'user-fence-spin',
  ops: 20_000,
  async setup() {
    const e = await startEcho(true);
    return { e, drv: pongDriver(e, { spinMicros: 1000 }) };
  },
  async batch(n, { e, drv }) {
    for (let i = 0; i < n; i++) await fenceRoundTrip(e, drv, false);
    return n;
  },
});
