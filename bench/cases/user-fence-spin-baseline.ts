// Group "user-fence-spin", baseline: a spinning round trip. Both threads spin: the worker
// on ping, the main thread on pong (burning a core each). One op = one round trip.
import { defineCase } from '../case.js';
import { startEcho, type Echo } from './user-fence-lib/shared.js';

export default defineCase<Echo>({
  name: 'raw spinning reader',
  group: 'user-fence-spin',
  baseline: true,
  ops: 20_000,
  setup: () => startEcho(true),
  batch(n, e) {
    const pong = e.pong.index;
    for (let i = 0; i < n; i++) {
      const v = ++e.v;
      Atomics.store(e.u64, e.ping.index, v);
      while (Atomics.load(e.u64, pong) !== v);
    }
    return n;
  },
});
