import { DepError } from './error.js';
import { INTERRUPTED, TIMED_OUT, type Runtime, type Waker } from './runtime.js';

/** `UINT_MAX`: the `done` count of a {@link Completion.completeAll}ed completion. */
const COMPLETE_ALL = 0xffff_ffff;

/** `-ERESTARTSYS`: an interruptible wait whose signal fired. */
const ERESTARTSYS = -512;

interface CompletionWaiter {
  waker: Waker<null> | null;
}

/** Options of the interruptible completion waits. */
export interface CompletionWaitOptions {
  /** Interrupts the wait (`signal_pending`): it returns `-ERESTARTSYS` (-512). */
  readonly signal?: AbortSignal;
}

/**
 * `struct completion`: a counted event. {@link complete} adds one "done" and wakes the first
 * waiter (FIFO); each wait consumes one. {@link completeAll} makes it done for every present
 * and future waiter until {@link reinit}.
 *
 * Waits sleep (process/worker context; in atomic context `might_sleep` reports); complete
 * and the non-blocking queries may be called from any context, irq included. A woken waiter
 * re-checks the count when it runs, as the kernel's does, so a {@link tryWaitForCompletion}
 * in between may take the "done" first (the waiter then sleeps again).
 */
export class Completion {
  readonly #rt: Runtime;
  /** Name for stall reports. */
  readonly name: string;
  #done = 0;
  readonly #waiters: CompletionWaiter[] = [];

  /** `init_completion`. */
  constructor(rt: Runtime, name = 'completion') {
    this.#rt = rt;
    this.name = name;
  }

  /** `complete`: one waiter (the first) may proceed, or the next wait returns at once. Any context. */
  complete(): void {
    if (this.#done !== COMPLETE_ALL) this.#done++;
    while (this.#waiters.length > 0) {
      const w = this.#waiters.shift()!;
      if (w.waker?.wake(null) === true) break;
    }
  }

  /** `complete_all`: every waiter, present and future, proceeds until {@link reinit}. Any context. */
  completeAll(): void {
    this.#done = COMPLETE_ALL;
    for (const w of this.#waiters.splice(0)) w.waker?.wake(null);
  }

  /** `reinit_completion`: back to not done (waiters stay asleep). */
  reinit(): void {
    this.#done = 0;
  }

  /** `completion_done`: true if a wait would not sleep. Does not consume. Any context. */
  completionDone(): boolean {
    return this.#done > 0;
  }

  /** `try_wait_for_completion`: consume one "done" without sleeping; false if none. Any context. */
  tryWaitForCompletion(): boolean {
    if (this.#done === 0) return false;
    if (this.#done !== COMPLETE_ALL) this.#done--;
    return true;
  }

  /** `wait_for_completion`: sleep until done, then consume one. Sleeps. */
  async waitForCompletion(): Promise<void> {
    await this.#wait(Infinity, undefined, 'wait_for_completion');
  }

  /**
   * `wait_for_completion_timeout`: the ms left when it completed (at least 1 when it
   * completed exactly at the deadline, as the kernel returns at least one jiffy; `Infinity`
   * for an infinite timeout), or 0 on timeout. `ms` ≥ 0; NaN or negative is DepError EINVAL.
   */
  async waitForCompletionTimeout(ms: number): Promise<number> {
    if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
      throw new DepError('EINVAL', `wait_for_completion_timeout(${String(ms)}): pass a timeout in ms ≥ 0 (Infinity waits forever)`);
    }
    return this.#wait(ms, undefined, 'wait_for_completion_timeout');
  }

  /** `wait_for_completion_interruptible`: 0 once done, `-ERESTARTSYS` (-512) if `signal` fires first. */
  async waitForCompletionInterruptible(options: CompletionWaitOptions = {}): Promise<0 | -512> {
    const signal = checkSignal(options, 'wait_for_completion_interruptible');
    const r = await this.#wait(Infinity, signal, 'wait_for_completion_interruptible');
    return r < 0 ? (ERESTARTSYS) : 0;
  }

  /**
   * `wait_for_completion_interruptible_timeout`: ms left (≥ 1) once done, 0 on timeout,
   * `-ERESTARTSYS` (-512) if `signal` fires first.
   */
  async waitForCompletionInterruptibleTimeout(ms: number, options: CompletionWaitOptions = {}): Promise<number> {
    if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
      throw new DepError('EINVAL', `wait_for_completion_interruptible_timeout(${String(ms)}): pass a timeout in ms ≥ 0`);
    }
    const signal = checkSignal(options, 'wait_for_completion_interruptible_timeout');
    return this.#wait(ms, signal, 'wait_for_completion_interruptible_timeout');
  }

  toString(): string {
    return `Completion ${this.name}`;
  }

  /** do_wait_for_common: remaining ms (≥ 1) when done, 0 on timeout, -ERESTARTSYS on signal. */
  async #wait(timeout: number, signal: AbortSignal | undefined, what: string): Promise<number> {
    const rt = this.#rt;
    rt.mightSleep(`${what}(${this.name})`);
    const deadline = rt.now() + timeout;
    for (;;) {
      if (this.#done > 0) {
        if (this.#done !== COMPLETE_ALL) this.#done--;
        const left = timeout === Infinity ? Infinity : deadline - rt.now();
        return left > 0 ? left : 1;
      }
      if (signal?.aborted === true) return ERESTARTSYS;
      const left = timeout === Infinity ? Infinity : deadline - rt.now();
      if (left <= 0) return 0;
      const entry: CompletionWaiter = { waker: null };
      this.#waiters.push(entry);
      const r = await rt.sleepOn<null>(
        `${what} ${this.name}`,
        (w) => {
          entry.waker = w;
          return () => {
            const i = this.#waiters.indexOf(entry);
            if (i >= 0) this.#waiters.splice(i, 1);
          };
        },
        signal === undefined ? { timeout: left, object: this } : { timeout: left, signal, object: this },
      );
      if (this.#done > 0) continue;
      if (r === INTERRUPTED) return ERESTARTSYS;
      if (r === TIMED_OUT) return 0;
    }
  }
}

function checkSignal(options: CompletionWaitOptions, what: string): AbortSignal | undefined {
  const signal = options?.signal;
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof signal.addEventListener === 'function')) {
    throw new DepError('EINVAL', `${what}: signal must be an AbortSignal`);
  }
  return signal;
}
