// Group "event-loop", baseline: what the kernel's virtual executor is compared against.
// A minimal discrete-event loop: push n callback events keyed by (time, seq) into a binary
// heap, then pop and run them in order. Times are pseudo-random (seeded xorshift) within a
// 4096-tick window so the heap does real work; seq breaks ties in FIFO order.
import { defineCase } from '../case.js';

type EventFn = (arg: unknown) => void;

interface LoopEvent {
  time: number;
  seq: number;
  fn: EventFn;
  arg: unknown;
}

function before(a: LoopEvent, b: LoopEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

class HeapEventLoop {
  private readonly heap: LoopEvent[] = [];
  private seq = 0;
  now = 0;

  schedule(time: number, fn: EventFn, arg: unknown): void {
    const heap = this.heap;
    const ev: LoopEvent = { time, seq: this.seq++, fn, arg };
    let i = heap.length;
    heap.push(ev);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!before(ev, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = ev;
  }

  /** Runs events in (time, seq) order until none is left; returns how many ran. */
  run(): number {
    const heap = this.heap;
    let ran = 0;
    while (heap.length > 0) {
      const top = heap[0]!;
      const last = heap.pop()!;
      const n = heap.length;
      if (n > 0) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= n) break;
          const r = l + 1;
          const c = r < n && before(heap[r]!, heap[l]!) ? r : l;
          if (!before(heap[c]!, last)) break;
          heap[i] = heap[c]!;
          i = c;
        }
        heap[i] = last;
      }
      if (top.time < this.now) throw new Error('event loop ran backwards');
      this.now = top.time;
      top.fn(top.arg);
      ran++;
    }
    return ran;
  }
}

interface Counter {
  n: number;
}
const onEvent: EventFn = (arg) => {
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
  name: 'binary-heap',
  group: 'event-loop',
  baseline: true,
  batch(n) {
    const loop = new HeapEventLoop();
    const counter: Counter = { n: 0 };
    for (let i = 0; i < n; i++) loop.schedule(xorshift() & 4095, onEvent, counter);
    const ran = loop.run();
    return ran === counter.n ? ran : -1;
  },
});
