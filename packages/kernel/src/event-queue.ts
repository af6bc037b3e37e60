import type { Task } from './task.js';

/**
 * One executor event: a callback to run at time `t` in the frame of `frame` (a task or
 * one of the runtime's context frames). `hop` marks a wake-up or task start: the executor
 * takes one macrotask hop after it so every promise continuation runs at that instant.
 * Cancelled events stay queued and are skipped when popped (lazy deletion).
 */
export interface ExecEvent {
  t: number;
  seq: number;
  fn: (arg: unknown) => void;
  arg: unknown;
  frame: Task | null;
  hop: boolean;
  cancelled: boolean;
}

/**
 * The executor's run queue: a FIFO of events runnable at the current instant and a
 * binary min-heap of future events keyed by `(t, seq)`. Events enter the heap only with a
 * time after the current one, so promoting the heap's earliest instant into the FIFO keeps
 * global `(t, seq)` order.
 */
export class EventQueue {
  #ready: ExecEvent[] = [];
  #head = 0;
  readonly #heap: ExecEvent[] = [];

  /** Number of queued events, cancelled ones included. */
  get size(): number {
    return this.#ready.length - this.#head + this.#heap.length;
  }

  /** Events runnable now (cancelled ones included). */
  get readyCount(): number {
    return this.#ready.length - this.#head;
  }

  pushReady(ev: ExecEvent): void {
    this.#ready.push(ev);
  }

  /** Pop the oldest ready event, or the one at `index` positions from the front (chaos). */
  popReady(index = 0): ExecEvent | undefined {
    const ready = this.#ready;
    const head = this.#head;
    if (head >= ready.length) return undefined;
    if (index !== 0) {
      const i = head + index;
      const picked = ready[i]!;
      ready[i] = ready[head]!;
      ready[head] = picked;
    }
    const ev = ready[head]!;
    (ready as (ExecEvent | undefined)[])[head] = undefined;
    this.#head = head + 1;
    if (this.#head === ready.length) {
      ready.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > ready.length) {
      this.#ready = ready.slice(this.#head);
      this.#head = 0;
    }
    return ev;
  }

  pushLater(ev: ExecEvent): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(ev);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.t < ev.t || (parent.t === ev.t && parent.seq < ev.seq)) break;
      heap[i] = parent;
      i = p;
    }
    heap[i] = ev;
  }

  /** Time of the earliest future event that is not cancelled, or `undefined`. */
  peekLaterTime(): number | undefined {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.cancelled) this.#popHeap();
    return heap[0]?.t;
  }

  /** Pop the earliest future event (call after {@link peekLaterTime} said there is one). */
  popLater(): ExecEvent {
    return this.#popHeap();
  }

  /** Move every future event with `t <= time` into the ready FIFO, in `(t, seq)` order. */
  promote(time: number): void {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.t <= time) this.#ready.push(this.#popHeap());
  }

  #popHeap(): ExecEvent {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        let child = heap[l]!;
        if (r < n) {
          const rc = heap[r]!;
          if (rc.t < child.t || (rc.t === child.t && rc.seq < child.seq)) {
            c = r;
            child = rc;
          }
        }
        if (last.t < child.t || (last.t === child.t && last.seq < child.seq)) break;
        heap[i] = child;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}
