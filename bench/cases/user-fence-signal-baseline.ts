// Group "user-fence-signal", baseline: a DmaFence (checks off) made, given a hand-written
// callback that Atomics.stores the seqno, and signalled. One op = one fence and one write.
import { defineCase } from '../case.js';
import type { Fence } from '@dep/dma-fence';
import { writeSetup } from './user-fence-lib/shared.js';

interface Target {
  readonly u64: BigUint64Array;
  value: bigint;
}
function store(_f: Fence, t: Target): void {
  Atomics.store(t.u64, 1, t.value);
}

export default defineCase({
  name: 'DmaFence + hand-written store callback',
  group: 'user-fence-signal',
  baseline: true,
  setup: () => ({ ...writeSetup(), seq: 0n }),
  batch(n, s) {
    let seq = s.seq;
    for (let i = 0; i < n; i++) {
      const f = s.fence(++seq);
      f.addCallback(store, { u64: s.u64, value: seq });
      f.signal();
    }
    s.seq = seq;
    return Atomics.load(s.u64, 1) === seq ? n : -1;
  },
});
