/**
 * `struct semaphore` as amdxdna uses it (`job_sem`, `sema_init(&priv->job_sem,
 * HWCTX_MAX_CMDS)`): a counting semaphore; `down` sleeps (FIFO) until a count is free,
 * `up` returns one from any context.
 */
import { DepError, INTERRUPTED, type Runtime, type Waker } from '@dep/kernel';

/** A counting semaphore (`sema_init`, `down_interruptible`, `up`). */
export class Semaphore {
  readonly runtime: Runtime;
  readonly name: string;
  readonly limit: number;
  #count: number;
  readonly #waiters: Array<Waker<true>> = [];

  constructor(runtime: Runtime, name: string, count: number) {
    if (!Number.isSafeInteger(count) || count < 1) throw new DepError('EINVAL', `sema_init(${name}): count must be a positive integer, got ${String(count)}`);
    this.runtime = runtime;
    this.name = name;
    this.limit = count;
    this.#count = count;
  }

  /** Counts free right now. */
  get count(): number {
    return this.#count;
  }

  /** Tasks sleeping in {@link Semaphore.downInterruptible}. */
  get waiters(): number {
    return this.#waiters.length;
  }

  /**
   * `down_interruptible()`: take a count, sleeping until one is free. Resolves 0, or
   * -EINTR (-4) when `signal` aborts the sleep (nothing taken). Sleeps.
   */
  async downInterruptible(options: { readonly signal?: AbortSignal } = {}): Promise<0 | -4> {
    if (this.#count > 0 && this.#waiters.length === 0) {
      this.#count--;
      return 0;
    }
    let mine: Waker<true> | null = null;
    const r = await this.runtime.sleepOn<true>(
      `down(${this.name})`,
      (w) => {
        mine = w;
        this.#waiters.push(w);
        return () => {
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
        };
      },
      { object: this, ...(options.signal === undefined ? {} : { signal: options.signal }) },
    );
    if (r === INTERRUPTED) {
      const i = mine === null ? -1 : this.#waiters.indexOf(mine);
      if (i >= 0) this.#waiters.splice(i, 1);
      return -4;
    }
    // `up` handed its count to us directly.
    return 0;
  }

  /** `down_trylock()` inverted: true if a count was taken without sleeping. */
  tryDown(): boolean {
    if (this.#count > 0 && this.#waiters.length === 0) {
      this.#count--;
      return true;
    }
    return false;
  }

  /** `up()`: give a count back (to the first sleeper, if any). Any context. */
  up(): void {
    while (this.#waiters.length > 0) {
      const w = this.#waiters.shift()!;
      if (w.wake(true)) return;
    }
    if (this.#count >= this.limit) {
      this.runtime.reports.warnOn(true, `up(${this.name}): more ups than downs (count ${this.#count}, limit ${this.limit})`);
      return;
    }
    this.#count++;
  }
}
