// Group "user-fence-write", baseline: a raw Atomics.store of a 64-bit seqno (an
// incremented bigint) into shared memory.
import { defineCase } from '../case.js';
import { writeSetup } from './user-fence-lib/shared.js';

export default defineCase({
  name: 'raw Atomics.store u64',
  group: 'user-fence-write',
  baseline: true,
  ops: 1_000_000,
  setup: () => ({ u64: writeSetup().u64, seq: 0n }),
  batch(n, s) {
    const u64 = s.u64;
    let seq = s.seq;
    for (let i = 0; i < n; i++) Atomics.store(u64, 1, ++seq);
    s.seq = seq;
    return Atomics.load(u64, 1) === seq ? n : -1;
  },
});
