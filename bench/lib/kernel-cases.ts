// Case factories for the @dep/kernel groups ("event-loop", "spinlock", "mutex"): the same
// operation under checks 'off' and 'strict'. Each case runs in its own process.
import { Mutex, Runtime, SpinLock, type Checks } from '@dep/kernel';
import { defineCase } from '../case.js';

interface Counter {
  n: number;
}
const onEvent = (arg: unknown): void => {
  (arg as Counter).n++;
};

let x = 0x9e3779b9;
function xorshift(): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

/**
 * The virtual executor: one op schedules one callback event at a pseudo-random time within
 * a 4096-tick window (the baseline's keys) and later runs it in (time, seq) order.
 */
export function virtualExecutorCase(name: string, checks: Checks) {
  return defineCase({
    name,
    group: 'event-loop',
    async batch(n) {
      const rt = new Runtime({ checks });
      const ex = rt.executor;
      const counter: Counter = { n: 0 };
      for (let i = 0; i < n; i++) ex.schedule(xorshift() & 4095, rt.irqFrame, onEvent, counter, false);
      await rt.runUntilIdle();
      return counter.n;
    },
  });
}

/** `SpinLock` lock + unlock, uncontended, over 8 locks. */
export function spinlockCase(checks: Checks) {
  return defineCase({
    name: `SpinLock (${checks})`,
    group: 'spinlock',
    setup() {
      const rt = new Runtime({ checks });
      return Array.from({ length: 8 }, (_, i) => new SpinLock(rt, `bench_lock_${i}`));
    },
    batch(n, locks) {
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
}

/** `Mutex`: `await lock()` + `unlock()`, uncontended (the mutex_lock fast path). */
export function mutexCase(checks: Checks) {
  return defineCase({
    name: `Mutex (${checks})`,
    group: 'mutex',
    setup: () => new Mutex(new Runtime({ checks }), 'bench_mutex'),
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
}
