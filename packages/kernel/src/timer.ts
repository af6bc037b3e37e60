import type { ExecEvent } from './event-queue.js';
import type { Runtime } from './runtime.js';

/**
 * `struct timer_list`: a callback run in timer context when the timer expires. Arm with
 * {@link mod}, disarm with {@link del}. The callback is atomic: it must not await.
 */
export class Timer {
  readonly name: string;
  readonly #rt: Runtime;
  readonly #fn: (timer: Timer) => void;
  #ev: ExecEvent | null = null;
  #expires = 0;

  constructor(rt: Runtime, fn: (timer: Timer) => void, name = 'timer') {
    this.#rt = rt;
    this.#fn = fn;
    this.name = name;
  }

  /** True while armed and not yet expired (`timer_pending`). */
  get pending(): boolean {
    return this.#ev !== null;
  }

  /** Runtime time at which it fires, while {@link pending}. */
  get expires(): number {
    return this.#expires;
  }

  /**
   * `mod_timer`: (re)arm to fire `ms` from now. Returns whether it was pending before.
   * Any context.
   */
  mod(ms: number): boolean {
    const was = this.del();
    const rt = this.#rt;
    this.#expires = rt.now() + Math.max(0, ms);
    this.#ev = rt.executor.schedule(ms, rt.timerFrame, fire, this, false);
    return was;
  }

  /** `del_timer`: disarm. Returns whether it was pending. Any context. */
  del(): boolean {
    const ev = this.#ev;
    if (ev === null) return false;
    this.#rt.executor.cancel(ev);
    this.#ev = null;
    return true;
  }

  /** @internal Called by the executor at expiry. */
  expire(): void {
    this.#ev = null;
    if (this.#rt.trace.enabled) this.#rt.trace.emit('timer:timer_expire_entry', { timer: this.name });
    this.#fn(this);
  }
}

function fire(timer: unknown): void {
  (timer as Timer).expire();
}
