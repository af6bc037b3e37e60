// Case factories for the fence groups ("fence", "dma-fence", "dma-fence-4cb",
// "fence-array"): one definition per measured operation, each case file picks its
// parameters. Every case runs in its own process, so sharing the code shares no JIT state.
import { Runtime, type Checks } from '@dep/kernel';
import { DmaFence, DmaFenceArray, type DmaFenceOps, type FenceFunc } from '@dep/dma-fence';
import { defineCase } from '../case.js';
import { ClockFence, type ClockFenceCallback } from './clock-fence.js';
import { MinimalFence, type MinimalFenceCallback } from './minimal-fence.js';

interface Counter {
  n: number;
}
const RING = 1024;
const SEQNOS = Array.from({ length: RING }, (_, i) => BigInt(i + 1));
const ops: DmaFenceOps = { getDriverName: () => 'bench', getTimelineName: () => 'bench' };
const count: FenceFunc<Counter> & MinimalFenceCallback & ClockFenceCallback = (_f: unknown, c: unknown) => {
  (c as Counter).n++;
};
const noop = (): void => {};

/** Where one case says who it is. */
export interface CaseId {
  readonly name: string;
  readonly group: string;
  readonly baseline?: boolean;
  /** Callbacks per fence (default 1). */
  readonly callbacks?: number;
}

/**
 * Any fence class with `(fn, arg)` callbacks: one op is create + `callbacks` callbacks +
 * signal; retained is one pending fence holding `callbacks` callbacks. Fences escape into a
 * small ring (without it V8's escape analysis deletes the allocation).
 */
function fenceCase<S, F extends { addCallback(fn: never, arg: unknown): unknown; signal(): void }>(
  id: CaseId,
  setup: () => S,
  make: (state: S, seqno: bigint, i: number) => F,
) {
  const cbs = id.callbacks ?? 1;
  const sink: F[] = new Array<F>(RING);
  return defineCase({
    ...id,
    setup,
    batch(n, state) {
      const counter: Counter = { n: 0 };
      for (let i = 0; i < n; i++) {
        const f = make(state, SEQNOS[i & (RING - 1)]!, i);
        for (let c = 0; c < cbs; c++) f.addCallback(count as never, counter);
        f.signal();
        sink[i & (RING - 1)] = f;
      }
      return counter.n / cbs;
    },
    retain(n, holder, state) {
      for (let i = 0; i < n; i++) {
        const f = make(state, SEQNOS[i & (RING - 1)]!, i);
        for (let c = 0; c < cbs; c++) f.addCallback(noop as never, null);
        holder[i] = f;
      }
      return n;
    },
  });
}

/** `@dep/dma-fence` under the given checks (timestamp from the runtime's coarse clock). */
export function dmaFenceCase(id: CaseId & { readonly checks: Checks }) {
  return fenceCase(id, () => ({ runtime: new Runtime({ checks: id.checks }) }), (options, seqno) => new DmaFence(ops, 1n, seqno, options));
}

/** The hand-written fence with bigint context/seqno and the same clock as @dep/dma-fence. */
export function clockFenceCase(id: CaseId) {
  return fenceCase(id, () => new Runtime({ checks: 'off' }), (rt, seqno) => new ClockFence(rt, 1n, seqno));
}

/** The hand-written fence of benchmarking.md (number context/seqno, no timestamp). */
export function minimalFenceCase(id: CaseId) {
  return fenceCase(id, () => null, (_s, _seqno, i) => new MinimalFence(1, i));
}

/**
 * Native Promise create + `callbacks` × `.then` + resolve; microtasks drained every 1024 ops
 * with the hot loop in a sync helper. Retained: a pending promise with its reactions, held
 * through its resolve function (what a signaller must keep).
 */
export function promiseCase(id: CaseId) {
  const cbs = id.callbacks ?? 1;
  let fired = 0;
  const onResolve = (): void => {
    fired++;
  };
  const pending = (): (() => void) => {
    let resolve!: () => void;
    const p = new Promise<void>((r) => {
      resolve = r;
    });
    for (let c = 0; c < cbs; c++) void p.then(onResolve);
    return resolve;
  };
  const chunk = (k: number): void => {
    for (let i = 0; i < k; i++) pending()();
  };
  return defineCase({
    ...id,
    async batch(n) {
      fired = 0;
      for (let done = 0; done < n; ) {
        const k = Math.min(RING, n - done);
        chunk(k);
        done += k;
        // eslint-disable-next-line @typescript-eslint/await-thenable
        await null;
      }
      return fired / cbs;
    },
    retain(n, holder) {
      for (let i = 0; i < n; i++) holder[i] = pending();
      return n;
    },
  });
}

const WIDTH = 8;
const CONTEXTS = Array.from({ length: WIDTH }, (_, j) => BigInt(j + 2));

/**
 * A `DmaFenceArray` over 8 fences: make 8 fences, `DmaFenceArray.create` over them, one
 * callback on the array, signal the 8 members; the last member queues the array's signal
 * as irq_work, which the runtime runs every 1024 ops (`rt.runUntilIdle()`, the counterpart
 * of the baseline's microtask drain). Each array escapes into a small ring.
 */
export function fenceArrayCase(id: CaseId & { readonly checks: Checks }) {
  const sink: DmaFenceArray[] = new Array<DmaFenceArray>(RING);
  const chunk = (rt: Runtime, k: number, counter: Counter): void => {
    const options = { runtime: rt };
    for (let i = 0; i < k; i++) {
      const seqno = SEQNOS[i]!;
      const members: DmaFence[] = new Array<DmaFence>(WIDTH);
      for (let j = 0; j < WIDTH; j++) members[j] = new DmaFence(ops, CONTEXTS[j], seqno, options);
      const array = DmaFenceArray.create(members, 1n, seqno);
      array.addCallback(count, counter);
      for (let j = 0; j < WIDTH; j++) members[j]!.signal();
      sink[i] = array;
    }
  };
  return defineCase({
    ...id,
    ops: 20_000,
    setup: () => ({ rt: new Runtime({ checks: id.checks }) }),
    async batch(n, { rt }) {
      const counter: Counter = { n: 0 };
      for (let done = 0; done < n; ) {
        const k = Math.min(RING, n - done);
        chunk(rt, k, counter);
        done += k;
        await rt.runUntilIdle();
      }
      return counter.n;
    },
  });
}
