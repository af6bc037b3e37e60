// Group "user-fence-wake", baseline: a raw cross-thread round trip. The main thread stores
// a ping and Atomics.notify()s it; a worker thread (Atomics.wait) copies it to pong and
// notifies; the main thread sleeps in Atomics.waitAsync on pong (holding a ref'd interval
// for the batch, as Node needs). One op = one round trip.
import { defineCase } from '../case.js';
import { alwaysWaiting, rawRoundTrip, startEcho, type Echo } from './user-fence-lib/shared.js';

export default defineCase<Echo>({
  name: 'raw Atomics.waitAsync round trip',
  group: 'user-fence-wake',
  baseline: true,
  ops: 5000,
  async setup() {
    const e = await startEcho(false);
    alwaysWaiting(e);
    return e;
  },
  async batch(n, e) {
    // Atomics.waitAsync does not keep Node alive (nodejs/node#44729): hold a ref'd handle.
    const keepAlive = setInterval(() => undefined, 0x7fff_ffff);
    try {
      for (let i = 0; i < n; i++) await rawRoundTrip(e);
    } finally {
      clearInterval(keepAlive);
    }
    return n;
  },
});
