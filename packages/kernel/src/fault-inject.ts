import { DepError } from './error.js';
import type { Runtime } from './runtime.js';

/**
 * Which calls a fault rule fails. Every field narrows it; all given fields must hold.
 *
 * - `site`: only calls at this site (an exact string, or a `RegExp` tested against it).
 * - `nth`: the first failing call is the `nth` call *this rule matches* (1-based; counted
 *   from when the rule was added). Without `site` that is the nth call of the kind anywhere
 *   (global); with `site`, the nth call at that site (per site).
 * - `probability`: from the first eligible call on, each one fails with this probability,
 *   drawn from the runtime's seeded PRNG (same seed and same calls ⇒ same failures).
 *   Default 1.
 * - `times`: how many failures the rule injects before it retires. Default 1 when `nth`
 *   is given, unlimited otherwise.
 *
 * So `{ site: 'job_init' }` fails every call at that site, `{ nth: 3 }` fails exactly the
 * third call, `{ nth: 3, times: Infinity }` the third and every later one, and
 * `{ probability: 0.1 }` one call in ten, replayable from the seed.
 */
export interface FaultRuleSpec {
  readonly site?: string | RegExp;
  readonly nth?: number;
  readonly probability?: number;
  readonly times?: number;
}

/** One injected failure, as {@link FaultInjector.injected} lists it. */
export interface InjectedFault {
  /** Fault kind, e.g. `'alloc'`. */
  readonly kind: string;
  readonly site: string;
  /** Number of this call among all calls of this kind at this site (1-based). */
  readonly call: number;
  /** Runtime time (ms). */
  readonly time: number;
  /** Name of the task that made the call. */
  readonly task: string;
}

/** A rule added with {@link FaultInjector.add} / {@link FaultInjector.failAlloc}. */
export class FaultRule {
  readonly kind: string;
  readonly spec: FaultRuleSpec;
  /** Calls this rule matched so far. */
  seen = 0;
  /** Failures this rule injected so far. */
  injected = 0;
  readonly #owner: FaultInjector;
  readonly #times: number;

  /** @internal Made by {@link FaultInjector.add}. */
  constructor(owner: FaultInjector, kind: string, spec: FaultRuleSpec) {
    this.#owner = owner;
    this.kind = kind;
    this.spec = spec;
    this.#times = spec.times ?? (spec.nth !== undefined ? 1 : Infinity);
  }

  /** True once it injected its `times` failures (it then never matches again). */
  get retired(): boolean {
    return this.injected >= this.#times;
  }

  /** Remove the rule. Idempotent. */
  remove(): void {
    this.#owner.remove(this);
  }

  /**
   * @internal Decide for one call at `site` (already known to be of this rule's kind).
   * `countOnly`: an earlier rule already fails this call; only count it.
   */
  decide(site: string, rt: Runtime, countOnly: boolean): boolean {
    if (this.injected >= this.#times) return false;
    const s = this.spec.site;
    if (s !== undefined) {
      if (typeof s === 'string') {
        if (s !== site) return false;
      } else {
        s.lastIndex = 0;
        if (!s.test(site)) return false;
      }
    }
    this.seen++;
    if (countOnly) return false;
    if (this.spec.nth !== undefined && this.seen < this.spec.nth) return false;
    const p = this.spec.probability;
    if (p !== undefined && p < 1 && !(rt.random() < p)) return false;
    this.injected++;
    return true;
  }
}

const ALLOC = 'alloc';

/**
 * `rt.faults`: the runtime's fault injector (the kernel's failslab / fault_attr, by site).
 *
 * It is generic over fault *kinds*: the allocation hook asks `should('alloc', site)` on
 * every `rt.alloc()`; later layers ask the same object about their own kinds — a simulated
 * device might call `rt.faults.should('hang', 'ring:rcs0')` when a job starts, or
 * `should('fw-error', 'mcu:suspend')` before a firmware command — and tests arm them with
 * `rt.faults.add('hang', { site: 'ring:rcs0', nth: 2 })`. {@link failAlloc} is `add('alloc', …)`.
 *
 * Calls are counted per kind and site ({@link calls}) while checks are not `off`, or while
 * any rule is installed; with checks `off` and no rules, {@link should} is one branch.
 * Probabilities draw from the runtime's seeded PRNG, so a run replays from its seed.
 * Any context.
 */
export class FaultInjector {
  readonly #rt: Runtime;
  readonly #rules: FaultRule[] = [];
  readonly #calls = new Map<string, Map<string, number>>();
  readonly #injected: InjectedFault[] = [];
  readonly #counting: boolean;
  #armed: boolean;

  constructor(rt: Runtime) {
    this.#rt = rt;
    this.#counting = rt.checks !== 'off';
    this.#armed = this.#counting;
  }

  /** Rules currently installed (retired ones included until removed). */
  get rules(): readonly FaultRule[] {
    return this.#rules;
  }

  /** Every failure injected so far, oldest first. */
  get injected(): readonly InjectedFault[] {
    return this.#injected;
  }

  /**
   * Add a rule failing calls of `kind` (`'alloc'`, or a kind a later layer defines).
   * Throws `DepError('EINVAL')` for a malformed spec (nothing added). Returns the rule;
   * `rule.remove()` takes it out again.
   */
  add(kind: string, spec: FaultRuleSpec = {}): FaultRule {
    if (typeof kind !== 'string' || kind.length === 0) {
      throw new DepError('EINVAL', `fault kind ${String(kind)} is not a non-empty string; pass e.g. 'alloc'`);
    }
    validateSpec(spec);
    const rule = new FaultRule(this, kind, { ...spec });
    this.#rules.push(rule);
    this.#armed = true;
    return rule;
  }

  /** Fail chosen `rt.alloc()` calls with ENOMEM (and `rt.tryAlloc()` with false). See {@link FaultRuleSpec}. */
  failAlloc(spec: FaultRuleSpec = {}): FaultRule {
    return this.add(ALLOC, spec);
  }

  /** Remove one rule. Returns whether it was installed. */
  remove(rule: FaultRule): boolean {
    const i = this.#rules.indexOf(rule);
    if (i < 0) return false;
    this.#rules.splice(i, 1);
    this.#armed = this.#counting || this.#rules.length > 0;
    return true;
  }

  /** Remove every rule and forget every counter and injected failure. */
  clear(): void {
    this.#rules.length = 0;
    this.#calls.clear();
    this.#injected.length = 0;
    this.#armed = this.#counting;
  }

  /**
   * Count one call of `kind` at `site` and say whether it must fail. The first rule (in the
   * order added) that decides to fail wins; every matching rule counts the call. Never
   * throws; the caller turns `true` into its own failure (ENOMEM, a hang, a firmware error).
   */
  should(kind: string, site: string): boolean {
    if (!this.#armed) return false;
    let bySite = this.#calls.get(kind);
    if (bySite === undefined) {
      bySite = new Map();
      this.#calls.set(kind, bySite);
    }
    const n = (bySite.get(site) ?? 0) + 1;
    bySite.set(site, n);
    const rules = this.#rules;
    let fail = false;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (rule.kind !== kind) continue;
      if (rule.decide(site, this.#rt, fail)) fail = true;
    }
    if (fail) {
      this.#injected.push({ kind, site, call: n, time: this.#rt.now(), task: this.#rt.current.toString() });
    }
    return fail;
  }

  /**
   * Calls of `kind` (default `'alloc'`) counted so far: at `site`, or at every site when
   * `site` is omitted. With checks `off`, only calls made while a rule was installed count.
   */
  calls(site?: string, kind: string = ALLOC): number {
    const bySite = this.#calls.get(kind);
    if (bySite === undefined) return 0;
    if (site !== undefined) return bySite.get(site) ?? 0;
    let total = 0;
    for (const n of bySite.values()) total += n;
    return total;
  }

  /** Sites seen for `kind` (default `'alloc'`), with their call counts, in first-seen order. */
  sites(kind: string = ALLOC): ReadonlyMap<string, number> {
    return this.#calls.get(kind) ?? new Map<string, number>();
  }
}

function validateSpec(spec: FaultRuleSpec): void {
  if (typeof spec !== 'object' || spec === null) {
    throw new DepError('EINVAL', 'fault rule spec must be an object like { site, nth, probability, times }');
  }
  const { site, nth, probability, times } = spec;
  if (site !== undefined && typeof site !== 'string' && !(site instanceof RegExp)) {
    throw new DepError('EINVAL', `fault rule site must be a string or a RegExp, got ${typeof site}`);
  }
  if (nth !== undefined && !(Number.isInteger(nth) && nth >= 1)) {
    throw new DepError('EINVAL', `fault rule nth=${String(nth)}: pass a 1-based call number (integer ≥ 1)`);
  }
  if (probability !== undefined && !(typeof probability === 'number' && probability >= 0 && probability <= 1)) {
    throw new DepError('EINVAL', `fault rule probability=${String(probability)}: pass a number in [0, 1]`);
  }
  if (times !== undefined && !(times === Infinity || (Number.isInteger(times) && times >= 1))) {
    throw new DepError('EINVAL', `fault rule times=${String(times)}: pass an integer ≥ 1 or Infinity`);
  }
}
