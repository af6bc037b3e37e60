// Group "spinlock": @dep/kernel's SpinLock with checks off. One op: lock + unlock
// (spin_lock / spin_unlockoff, no lockdep bookkeeping).
import { Runtime, SpinLock } from '@dep/kernel';
import { defineCase } from '../case.js';

export default defineCase({
  name: 'SpinLock (off)',
  group: 'spinlock',
  setup() {
    const rt = new Runtime({ checks: 'off' });
    return { locks: Array.from({ length: 8 }, (_, i) => new SpinLock(rt, `bench_lock_${i}`)) };
  },
  batch(n, { locks }) {
    let done = 0;
    for (let i = 0; i < n; i++) {
      const l = locks[i & 7]!;
      l.lock();
      l.unlock();
      done++;
    }
    return done;
  },
});
