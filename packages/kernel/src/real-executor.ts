import { Executor, type ExecutorHooks } from './executor.js';

/**
 * Real time: events run on the host event loop as soon as they are due; time is
 * `performance.now()` since the executor was made. The loop starts itself when an event
 * is queued. Wake-ups take the same macrotask hop as in virtual time, so the current task
 * is known across awaits here too.
 */
export class RealExecutor extends Executor {
  readonly kind = 'real' as const;
  readonly #origin = performance.now();
  #coarse = 0;
  #looping = false;
  #kickQueued = false;
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  #idle: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  #failure: { error: unknown } | null = null;

  constructor(hooks: ExecutorHooks) {
    super(hooks);
  }

  now(): number {
    return performance.now() - this.#origin;
  }

  coarseNow(): number {
    return this.#looping ? this.#coarse : this.now();
  }

  /** Make the next {@link whenIdle} reject with `error` (a strict-mode report, an oops). */
  fail(error: unknown): void {
    this.#failure ??= { error };
  }

  protected kick(): void {
    if (this.#looping || this.#kickQueued) return;
    this.#kickQueued = true;
    queueMicrotask(() => {
      this.#kickQueued = false;
      void this.#loop();
    });
  }

  /** Resolves when no event is queued; rejects with a failure recorded by {@link fail}. */
  whenIdle(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#idle.push({ resolve, reject });
      this.kick();
    });
  }

  async #loop(): Promise<void> {
    if (this.#looping) return;
    this.#looping = true;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    try {
      for (;;) {
        const t = this.now();
        this.#coarse = t;
        this.queue.promote(t);
        const ev = this.queue.popReady();
        if (ev === undefined) break;
        if (ev.cancelled) continue;
        if (this.dispatch(ev)) await this.hopAfter(ev.frame);
      }
    } finally {
      this.#looping = false;
      this.closePort();
    }
    const next = this.queue.peekLaterTime();
    if (this.#failure !== null || next === undefined) {
      const failure = this.#failure;
      this.#failure = null;
      const idle = this.#idle;
      this.#idle = [];
      for (const w of idle) if (failure === null) w.resolve(); else w.reject(failure.error);
    }
    if (next !== undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.kick();
      }, Math.max(0, next - this.now()));
    }
  }
}
