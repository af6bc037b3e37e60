import { DepError } from './error.js';
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
        const ev = this.#next(limit);
        if (ev === undefined) break;
        if (this.dispatch(ev)) await this.hopAfter(ev.frame);
        const failure = this.#failure;
        if (failure !== null) {
          this.#failure = null;
          throw failure.error;
        }
      }
      if (advanceTo !== undefined && advanceTo > this.#time) this.#time = advanceTo;
    } finally {
      this.#driving = false;
      this.closePort();
    }
  }

  #next(limit: number) {
    const queue = this.queue;
    for (;;) {
      const n = queue.readyCount;
      if (n > 0) {
        const ev = queue.popReady(this.#chaos !== null && n > 1 ? this.#chaos.int(n) : 0)!;
        if (!ev.cancelled) return ev;
        continue;
      }
      const t = queue.peekLaterTime();
      if (t === undefined || t > limit) return undefined;
      this.#time = t;
      queue.promote(t);
    }
  }
}
