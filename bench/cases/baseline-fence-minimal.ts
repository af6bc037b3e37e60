// Group "fence", baseline. time: create a fence, add one (fence, arg) callback, signal it
// (the callback runs inline). retained: a pending fence holding one callback.
import { defineCase } from '../case.js';
import { MinimalFence, type MinimalFenceCallback } from '../lib/minimal-fence.js';

interface Counter {
  n: number;
}
const onSignal: MinimalFenceCallback = (_fence, arg) => {
  (arg as Counter).n++;
};
const noop: MinimalFenceCallback = () => {};

// Fences escape in real use (a job, a resv, a waiter keeps them). Without this sink V8's
// escape analysis removes the allocation and the case measures nothing (~3 ns/op).
const sink: MinimalFence[] = new Array<MinimalFence>(1024);

export default defineCase({
  name: 'minimal-fence',
  group: 'fence',
  baseline: true,
  batch(n) {
    const counter: Counter = { n: 0 };
    for (let i = 0; i < n; i++) {
      const f = new MinimalFence(1, i);
      f.addCallback(onSignal, counter);
      f.signal();
      sink[i & 1023] = f;
    }
    return counter.n;
  },
  retain(n, holder) {
    for (let i = 0; i < n; i++) {
      const f = new MinimalFence(1, i);
      f.addCallback(noop, null);
      holder[i] = f;
    }
    return n;
  },
});
