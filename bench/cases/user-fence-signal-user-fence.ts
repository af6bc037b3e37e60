// Group "user-fence-signal": a DmaFence (checks off) made, a UserFence allocated and
// attached to it, the fence signalled (the write happens in the callback).
import { defineCase } from '../case.js';
import { UserFence } from '@dep/user-fence';
import { writeSetup } from './user-fence-lib/shared.js';

export default defineCase({
  name: 'DmaFence + UserFence',
  group: 'user-fence-signal',
  setup: () => ({ ...writeSetup(), seq: 0n }),
  batch(n, s) {
    const { rt, map } = s;
    let seq = s.seq;
    const opts = { offset: 8 };
    for (let i = 0; i < n; i++) {
      const f = s.fence(++seq);
      UserFence.alloc(rt).attach(f, map, seq, opts);
      f.signal();
    }
    s.seq = seq;
    return Atomics.load(s.u64, 1) === seq ? n : -1;
  },
});
