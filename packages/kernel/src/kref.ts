import { DepError } from './error.js';
import type { LifetimeToken } from './lifetime.js';
import type { Runtime } from './runtime.js';

/** Options of a {@link Kref}. */
export interface KrefOptions {
  /** Object kind for leak and use-after-free reports (`'dma_fence'`). Default `'kref'`. */
  readonly kind?: string;
  /** Creation site for leak reports (see `LifetimeTracker` on how sites are captured). */
  readonly site?: string;
  /**
   * The object the reference count governs (a fence embedding this kref). It is what
   * `rt.lifetimes` tracks, so layers can `assertAlive(owner, …)`. Default: the kref itself.
   */
  readonly owner?: object;
}

/**
 * `struct kref`: a reference count with a release callback run on the last put.
 *
 * `new Kref(rt, release)` is `kref_init` (count 1). In checked mode (checks not `off`) the
 * owner is registered with `rt.lifetimes` at init and released on the last put, so a get
 * or put after it is a `use-after-free` report, and an owner never released is a `leak`
 * report at `rt.shutdown()`. With checks `off` it is just a counter (JS memory never
 * depends on it: the GC frees).
 *
 * As `refcount_t` does, a get on 0 and a put on 0 leave the count unchanged (the kernel
 * saturates it and leaks the object rather than freeing it twice). Any context; the
 * release callback runs synchronously in the context of the last put (like the kernel's,
 * it may run in irq context: it must not sleep).
 */
export class Kref {
  readonly #rt: Runtime;
  readonly #release: (kref: Kref) => void;
  readonly #token: LifetimeToken | null;
  readonly #kind: string;
  #count = 1;

  constructor(rt: Runtime, release: (kref: Kref) => void, options: KrefOptions = {}) {
    if (typeof release !== 'function') {
      throw new DepError('EINVAL', 'new Kref(rt, release): pass the release callback run on the last put');
    }
    this.#rt = rt;
    this.#release = release;
    this.#kind = options.kind ?? 'kref';
    this.#token = rt.checks === 'off' ? null : rt.lifetimes.track(options.owner ?? this, this.#kind, options.site);
    if (this.#token !== null) this.#token.refcount = 1;
  }

  /** `kref_read()`: the current count. */
  read(): number {
    return this.#count;
  }

  /**
   * `kref_get()`: take a reference. The caller must already hold one; a get on a released
   * object (count 0) is a `use-after-free` report ("refcount_t: addition on 0") and leaves
   * the count at 0.
   */
  get(): void {
    if (this.#count === 0) {
      this.#uaf('kref_get', 'refcount_t: addition on 0; use-after-free');
      return;
    }
    this.#count++;
    if (this.#token !== null) this.#token.refcount = this.#count;
  }

  /**
   * `kref_get_unless_zero()`: take a reference unless the count already hit 0 (the object
   * is being released: lookups under a lock or RCU use this). Returns whether it got one.
   */
  getUnlessZero(): boolean {
    if (this.#count === 0) return false;
    this.#count++;
    if (this.#token !== null) this.#token.refcount = this.#count;
    return true;
  }

  /**
   * `kref_put()`: drop a reference; the last one runs the release callback (after the
   * owner is marked released in `rt.lifetimes`). Returns true if this put released it. A
   * put on 0 is a `use-after-free` report ("refcount_t: underflow") and returns false.
   */
  put(): boolean {
    const c = this.#count;
    if (c === 0) {
      this.#uaf('kref_put', 'refcount_t: underflow; use-after-free');
      return false;
    }
    this.#count = c - 1;
    const token = this.#token;
    if (token !== null) token.refcount = c - 1;
    if (c !== 1) return false;
    if (token !== null) this.#rt.lifetimes.release(token);
    this.#release(this);
    return true;
  }

  #uaf(what: string, message: string): void {
    if (this.#rt.checks === 'off') return;
    const token = this.#token;
    const details = token === null ? [] : [`object: ${this.#kind} #${token.id}`, `created at: ${token.site()}`];
    this.#rt.reports.report('use-after-free', `${what}: ${message} (${this.#kind})`, details);
  }
}
