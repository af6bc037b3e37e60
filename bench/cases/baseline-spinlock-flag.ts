// Group "spinlock", baseline: a minimal lock — an owner field set and cleared, with the
// re-entry check a real lock needs. One op: lock + unlock.
import { defineCase } from '../case.js';

class FlagLock {
  owner: object | null = null;
  lock(who: object): void {
    if (this.owner !== null) throw new Error('contended');
    this.owner = who;
  }
  unlock(who: object): void {
    if (this.owner !== who) throw new Error('not owner');
    this.owner = null;
  }
}

export default defineCase({
  name: 'flag-lock',
  group: 'spinlock',
  baseline: true,
  setup: () => ({ locks: Array.from({ length: 8 }, () => new FlagLock()), me: {} }),
  batch(n, { locks, me }) {
    let done = 0;
    for (let i = 0; i < n; i++) {
      const l = locks[i & 7]!;
      l.lock(me);
      l.unlock(me);
      done++;
    }
    return done;
  },
});
