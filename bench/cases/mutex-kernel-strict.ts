// Group "mutex": @dep/kernel's Mutex with checks strict. One op: await lock() + unlock(),
// uncontended (mutex_lock fast path plus might_sleep and lockdepstrict).
import { Mutex, Runtime } from '@dep/kernel';
import { defineCase } from '../case.js';

export default defineCase({
  name: 'Mutex (strict)',
  group: 'mutex',
  setup: () => new Mutex(new Runtime({ checks: 'strict' }), 'bench_mutex'),
  async batch(n, m) {
    let done = 0;
    for (let i = 0; i < n; i++) {
      await m.lock();
      m.unlock();
      done++;
    }
    return done;
  },
});
