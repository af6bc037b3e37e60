// Group "user-fence-wake": as "memory fence (waitAsync)", with the default 5 s user-fence
// TDR armed (and disarmed) for every fence, as exported fences have it.
import { defineCase } from '../case.js';
import type { MemoryFenceDriver } from '@dep/user-fence';
import { fenceRoundTrip, pongDriver, startEcho, type Echo } from './user-fence-lib/shared.js';

export default defineCase<{ e: Echo; drv: MemoryFenceDriver }>({
  name: 'memory fence (waitAsync) + TDR timer',
  group: 'user-fence-wake',
  ops: 5000,
  async setup() {
    const e = await startEcho(false);
    return { e, drv: pongDriver(e, { tdr: true }) };
  },
  async batch(n, { e, drv }) {
    for (let i = 0; i < n; i++) await fenceRoundTrip(e, drv, true);
    return n;
  },
});
