// Group "mutex": @dep/kernel's Mutex with checks off. One op: await lock() + unlock(),
// uncontended (mutex_lock fast pathoff).
import { Mutex, Runtime } from '@dep/kernel';
import { defineCase } from '../case.js';

export default defineCase({
  name: 'Mutex (off)',
  group: 'mutex',
  setup: () => new Mutex(new Runtime({ checks: 'off' }), 'bench_mutex'),
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
