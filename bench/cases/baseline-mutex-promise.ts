// Group "mutex", baseline: a minimal promise mutex with an uncontended fast path. One op:
// await lock() + unlock(), uncontended, from an async caller.
import { defineCase } from '../case.js';

class PromiseMutex {
  locked = false;
  readonly waiters: Array<() => void> = [];
  lock(): Promise<void> {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve();
    }
    return new Promise((r) => this.waiters.push(r));
  }
  unlock(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.locked = false;
  }
}

export default defineCase({
  name: 'promise-mutex',
  group: 'mutex',
  baseline: true,
  setup: () => new PromiseMutex(),
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
