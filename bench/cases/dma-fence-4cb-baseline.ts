// Group "dma-fence-4cb", baseline (four callbacks per fence): the hand-written fence of benchmarking.md (flags,
// context/seqno, first callback inline, more in an array, (fence, arg) callbacks) with the
// same inputs as @dep/dma-fence (bigint context/seqno, passed through) and the same clock
// for its signal timestamp (the runtime's coarseNow()). One op: create + four callbacks +
// signal. Retained: one pending fence holding four callbacks.
import { Runtime } from '@dep/kernel';
import { defineCase } from '../case.js';

type Cb = (fence: ClockFence, arg: unknown) => void;
const SIGNALED = 1;

class ClockFence {
  flags = 0;
  readonly rt: Runtime;
  readonly context: bigint;
  readonly seqno: bigint;
  timestamp: number | undefined = undefined;
  private cb0: Cb | null = null;
  private arg0: unknown = undefined;
  private more: unknown[] | null = null;
  constructor(rt: Runtime, context: bigint, seqno: bigint) {
    this.rt = rt;
    this.context = context;
    this.seqno = seqno;
  }
  addCallback(fn: Cb, arg: unknown): boolean {
    if ((this.flags & SIGNALED) !== 0) return false;
    if (this.cb0 === null) {
      this.cb0 = fn;
      this.arg0 = arg;
    } else (this.more ??= []).push(fn, arg);
    return true;
  }
  signal(): void {
    if ((this.flags & SIGNALED) !== 0) return;
    this.flags |= SIGNALED;
    this.timestamp = this.rt.coarseNow();
    const fn = this.cb0;
    if (fn !== null) {
      const arg = this.arg0;
      this.cb0 = null;
      this.arg0 = undefined;
      fn(this, arg);
    }
    const more = this.more;
    if (more !== null) {
      this.more = null;
      for (let i = 0; i < more.length; i += 2) (more[i] as Cb)(this, more[i + 1]);
    }
  }
}

interface Counter {
  n: number;
}
const onSignal: Cb = (_f, arg) => {
  (arg as Counter).n++;
};
const noop: Cb = () => {};
const SEQNOS = Array.from({ length: 1024 }, (_, i) => BigInt(i + 1));
const sink: ClockFence[] = new Array<ClockFence>(1024);

export default defineCase({
  name: 'hand-written+clock',
  group: 'dma-fence-4cb',
  baseline: true,
  setup: () => new Runtime({ checks: 'off' }),
  batch(n, rt) {
    const counter: Counter = { n: 0 };
    for (let i = 0; i < n; i++) {
      const f = new ClockFence(rt, 1n, SEQNOS[i & 1023]!);
      f.addCallback(onSignal, counter);
      f.addCallback(onSignal, counter);
      f.addCallback(onSignal, counter);
      f.addCallback(onSignal, counter);
      f.signal();
      sink[i & 1023] = f;
    }
    return counter.n / 4;
  },
  retain(n, holder, rt) {
    for (let i = 0; i < n; i++) {
      const f = new ClockFence(rt, 1n, SEQNOS[i & 1023]!);
      f.addCallback(noop, null);
      f.addCallback(noop, null);
      f.addCallback(noop, null);
      f.addCallback(noop, null);
      holder[i] = f;
    }
    return n;
  },
});
