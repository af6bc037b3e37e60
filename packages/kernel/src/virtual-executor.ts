import { DepError } from './error.js';
import type { ExecEvent } from './event-queue.js';
import { Executor, type ExecutorHooks } from './executor.js';
import { Prng } from './random.js';

/**
 * Discrete-event time: events run back to back, synchronously; time jumps to the next
 * event. Nothing runs unless someone drives it ({@link run}). Same seed ⇒ same
 * interleaving. Under `chaos`, the executor picks among the events runnable at the same
 * instant by the seed, so many seeds explore many legal interleavings.
 */
export class VirtualExecutor extends Executor {
  readonly kind = 'virtual' as const;
  #time = 0;
  #driving = false;
  #failure: { error: unknown } | null = null;
  readonly #chaos: Prng | null;

  constructor(hooks: ExecutorHooks, options: { chaos: boolean; seed: number }) {
    super(hooks);
    this.#chaos = options.chaos ? new Prng(options.seed ^ 0x5eed) : null;
  }

  now(): number {
    return this.#time;
  }

  coarseNow(): number {
    return this.#time;
  }

  protected kick(): void {
    // Virtual time moves only when driven.
  }

  /** True while {@link run} is driving. */
  get driving(): boolean {
    return this.#driving;
  }

  /** Stop the current drive after the running event and make it reject with `error`. */
  fail(error: unknown): void {
    this.#failure ??= { error };
  }

  /**
   * Run every event with time ≤ `limit`, then, if `advanceTo` is given, move the clock to
   * it. Rejects with EBUSY if already driving, or with the first failure recorded by
   * {@link fail} (a strict-mode report, an oops).
   */
  async run(limit: number, advanceTo?: number): Promise<void> {
    if (this.#driving) {
      throw new DepError('EBUSY', 'the virtual executor is already being driven; await the running runUntilIdle()/advance() instead of starting another');
    }
    this.#driving = true;
    try {
      for (;;) {
        const hop = this.#runSync(limit);
        this.#throwFailure();
        if (hop === null) break;
        await this.hopAfter(hop.frame);
        this.#throwFailure();
      }
      if (advanceTo !== undefined && advanceTo > this.#time) this.#time = advanceTo;
    } finally {
      this.#driving = false;
      this.closePort();
    }
  }

  #throwFailure(): void {
    const failure = this.#failure;
    if (failure !== null) {
      this.#failure = null;
      throw failure.error;
    }
  }

  /**
   * Run events synchronously (a sync loop: V8 runs it faster than the same loop in an async
   * function) until one needs a hop — it is returned after it ran — or none is left (null).
   */
  #runSync(limit: number): ExecEvent | null {
    for (;;) {
      const ev = this.#chaos === null ? this.#next(limit) : this.#nextChaos(limit);
      if (ev === undefined) return null;
      if (this.dispatch(ev)) return ev;
      if (this.#failure !== null) return null;
    }
  }

  /**
   * FIFO order by `(t, seq)`: events of the current instant that came from the heap were
   * queued before the instant began, so they go before the ready FIFO's.
   */
  #next(limit: number): ExecEvent | undefined {
    const queue = this.queue;
    for (;;) {
      const t = queue.peekLaterTime();
      if (t !== undefined && t <= this.#time) {
        return queue.popLater();
      }
      if (queue.readyCount > 0) {
        const ev = queue.popReady()!;
        if (!ev.cancelled) return ev;
        continue;
      }
      if (t === undefined || t > limit) return undefined;
      this.#time = t;
    }
  }

  /** Chaos: any event runnable at the current instant, picked by the seed. */
  #nextChaos(limit: number): ExecEvent | undefined {
    const queue = this.queue;
    const chaos = this.#chaos!;
    for (;;) {
      queue.promote(this.#time);
      const n = queue.readyCount;
      if (n > 0) {
        const ev = queue.popReady(n > 1 ? chaos.int(n) : 0)!;
        if (!ev.cancelled) return ev;
        continue;
      }
      const t = queue.peekLaterTime();
      if (t === undefined || t > limit) return undefined;
      this.#time = t;
    }
  }
}
