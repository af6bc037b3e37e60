// Group "fence-array": a DmaFenceArray over 8 fences, checks 'strict'. One op: make 8
// fences, `DmaFenceArray.create` over them, one (fence, arg) callback on the array, signal
// the 8 members; the last member queues the array's signal as irq_work, which the
// runtime runs every 1024 ops (`rt.runUntilIdle()`, the counterpart of the baseline's
// microtask drain); the callback counts. Each array escapes into a small ring.
import { Runtime } from '@dep/kernel';
import { DmaFence, DmaFenceArray, type DmaFenceOps, type FenceFunc } from '@dep/dma-fence';
import { defineCase } from '../case.js';

interface Counter {
  n: number;
}
const CHUNK = 1024;
const WIDTH = 8;
const ops: DmaFenceOps = { getDriverName: () => 'bench', getTimelineName: () => 'bench' };
const onSignal: FenceFunc<Counter> = (_f, c) => {
  c.n++;
};
const SEQNOS = Array.from({ length: CHUNK }, (_, i) => BigInt(i + 1));
const CONTEXTS = Array.from({ length: WIDTH }, (_, j) => BigInt(j + 2));
const sink: DmaFenceArray[] = new Array<DmaFenceArray>(CHUNK);

function chunk(rt: Runtime, k: number, counter: Counter): void {
  const options = { runtime: rt };
  for (let i = 0; i < k; i++) {
    const seqno = SEQNOS[i]!;
    const members: DmaFence[] = new Array<DmaFence>(WIDTH);
    for (let j = 0; j < WIDTH; j++) members[j] = new DmaFence(ops, CONTEXTS[j], seqno, options);
    const array = DmaFenceArray.create(members, 1n, seqno);
    array.addCallback(onSignal, counter);
    for (let j = 0; j < WIDTH; j++) members[j]!.signal();
    sink[i] = array;
  }
}

export default defineCase({
  name: 'DmaFenceArray over 8 (strict)',
  group: 'fence-array',
  ops: 20_000,
  setup: () => ({ rt: new Runtime({ checks: 'strict' }) }),
  async batch(n, { rt }) {
    const counter: Counter = { n: 0 };
    for (let done = 0; done < n; ) {
      const k = Math.min(CHUNK, n - done);
      chunk(rt, k, counter);
      done += k;
      await rt.runUntilIdle();
    }
    return counter.n;
  },
});
