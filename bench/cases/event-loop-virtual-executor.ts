// Group "event-loop": the kernel's virtual executor against the minimal binary-heap loop.
// One op: schedule one callback event at a pseudo-random time within a 4096-tick window
// (the same keys as the baseline), later run it in (time, seq) order. Checks off.
import { Runtime } from '@dep/kernel';
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

export default defineCase({
  name: 'virtual-executor',
  group: 'event-loop',
  async batch(n) {
    const rt = new Runtime({ checks: 'off' });
    const ex = rt.executor;
    const counter: Counter = { n: 0 };
    for (let i = 0; i < n; i++) ex.schedule(xorshift() & 4095, rt.irqFrame, onEvent, counter, false);
    await rt.runUntilIdle();
    return counter.n;
  },
});
