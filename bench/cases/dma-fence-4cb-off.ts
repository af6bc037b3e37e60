// Group "dma-fence-4cb": @dep/dma-fence with checks 'off'. One op: create + four (fence, arg)
// callbacks + signal (timestamp from the runtime's coarseNow()). Retained: one pending
// fence holding four callbacks.
import { Runtime } from '@dep/kernel';
import { DmaFence, type DmaFenceOps, type FenceFunc } from '@dep/dma-fence';
import { defineCase } from '../case.js';

interface Counter {
  n: number;
}
const ops: DmaFenceOps = { getDriverName: () => 'bench', getTimelineName: () => 'bench' };
const onSignal: FenceFunc<Counter> = (_f, c) => {
  c.n++;
};
const noop: FenceFunc<null> = () => {};
const SEQNOS = Array.from({ length: 1024 }, (_, i) => BigInt(i + 1));
const sink: DmaFence[] = new Array<DmaFence>(1024);

export default defineCase({
  name: 'dma-fence (off)',
  group: 'dma-fence-4cb',
  setup: () => ({ rt: new Runtime({ checks: 'off' }) }),
  batch(n, { rt }) {
    const counter: Counter = { n: 0 };
    const options = { runtime: rt };
    for (let i = 0; i < n; i++) {
      const f = new DmaFence(ops, 1n, SEQNOS[i & 1023], options);
      f.addCallback(onSignal, counter);
      f.addCallback(onSignal, counter);
      f.addCallback(onSignal, counter);
      f.addCallback(onSignal, counter);
      f.signal();
      sink[i & 1023] = f;
    }
    return counter.n / 4;
  },
  retain(n, holder, { rt }) {
    const options = { runtime: rt };
    for (let i = 0; i < n; i++) {
      const f = new DmaFence(ops, 1n, SEQNOS[i & 1023], options);
      f.addCallback(noop, null);
      f.addCallback(noop, null);
      f.addCallback(noop, null);
      f.addCallback(noop, null);
      holder[i] = f;
    }
    return n;
  },
});
