// Group "user-fence-write": one user-fence write through the API — UserFence.alloc() and
// attach() to a fence that has already signalled, which writes at once (checks off).
import { defineCase } from '../case.js';
import { UserFence } from '@dep/user-fence';
import { writeSetup } from './user-fence-lib/shared.js';

export default defineCase({
  name: 'UserFence alloc + attach (signalled fence)',
  group: 'user-fence-write',
  ops: 1_000_000,
  setup() {
    const s = writeSetup();
    const done = s.fence(1n);
    done.signal();
    return { ...s, done, seq: 0n };
  },
  batch(n, s) {
    const { rt, map, done } = s;
    let seq = s.seq;
    const opts = { offset: 8 };
    for (let i = 0; i < n; i++) UserFence.alloc(rt).attach(done, map, ++seq, opts);
    s.seq = seq;
    return Atomics.load(s.u64, 1) === seq ? n : -1;
  },
});
