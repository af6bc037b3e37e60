// Group "dma-fence": the shared hand-written fence (bench/lib/minimal-fence.ts: number
// context/seqno, no timestamp), for the "no clock" reference point.
import { defineCase } from '../case.js';
import { MinimalFence, type MinimalFenceCallback } from '../lib/minimal-fence.js';

interface Counter {
  n: number;
}
const onSignal: MinimalFenceCallback = (_f, arg) => {
  (arg as Counter).n++;
};
const noop: MinimalFenceCallback = () => {};
const sink: MinimalFence[] = new Array<MinimalFence>(1024);

export default defineCase({
  name: 'hand-written (no clock)',
  group: 'dma-fence',
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
