import { ERRNO, Prng, type ErrnoName, type Runtime } from '@dep/kernel';
import { checkInt, checkNumber, checkOptions, fail } from './validate.js';

/**
 * Which calls a fault rule hits, in the shape of `@dep/kernel`'s fault rules: every given
 * field must hold. `site` names the context (hang, stall) or the firmware action
 * (`fw-error`, e.g. `'guc:enable-scheduling'`, `'csf:resume'`, `'aie:execbuf'`), exactly
 * or by RegExp; `nth` is the first matching call that fails (1-based), `probability`
 * draws from the device's seeded fault stream, `times` bounds the injections (default 1
 * with `nth`, unlimited otherwise).
 */
export interface HwFaultSpec {
  readonly site?: string | RegExp;
  readonly nth?: number;
  readonly probability?: number;
  readonly times?: number;
}

/** Fault kinds the device injects. */
export type HwFaultKind = 'hang' | 'stall' | 'fw-error' | 'drop-reply';

/** One injected fault, as {@link FaultPlan.injected} lists it. */
export interface InjectedHwFault {
  readonly kind: HwFaultKind;
  readonly site: string;
  readonly time: number;
}

/** An installed rule. */
export class HwFaultRule {
  readonly kind: HwFaultKind;
  readonly spec: HwFaultSpec;
  /** Stall length (ms) for `stall`; errno for `fw-error`. */
  readonly stallMs: number;
  readonly status: ErrnoName;
  seen = 0;
  injected = 0;
  readonly #times: number;
  readonly #plan: FaultPlan;

  /**  (Not for drivers.) */
  constructor(plan: FaultPlan, kind: HwFaultKind, spec: HwFaultSpec, stallMs: number, status: ErrnoName) {
    this.#plan = plan;
    this.kind = kind;
    this.spec = spec;
    this.stallMs = stallMs;
    this.status = status;
    this.#times = spec.times ?? (spec.nth !== undefined ? 1 : Infinity);
  }

  /** True once it injected its `times` faults. */
  get retired(): boolean {
    return this.injected >= this.#times;
  }

  /** Remove the rule. */
  remove(): void {
    this.#plan.remove(this);
  }

  /** @internal */
  decide(site: string, prng: Prng): boolean {
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
    if (this.spec.nth !== undefined && this.seen < this.spec.nth) return false;
    const p = this.spec.probability;
    if (p !== undefined && p < 1 && !(prng.next() < p)) return false;
    this.injected++;
    return true;
  }
}

/**
 * The device's fault plan: seeded, reproducible fault injection (same seed and same calls
 * ⇒ same faults ⇒ same trace). Probabilities draw from a PRNG of its own, seeded from the
 * device seed, so adding a rule does not shift the cost model's jitter.
 *
 * - `hang`: a batch (or NPU command) that never completes; preemption of it never
 *   finishes, so the firmware's recovery (engine reset, group termination, context
 *   destroy) is what ends it.
 * - `stall`: a batch stalls on a page fault for `ms` before it runs on.
 * - `fw-error`: a firmware request is refused with an error reply (status `-EIO` unless
 *   given).
 * - `drop-reply`: the firmware does what it was asked but its reply is lost (site
 *   `guc:<reply type>`, e.g. `'guc:sched-done'`, `'guc:deregister-done'`): the host waits
 *   for a G2H that never comes, the case drivers escalate to a GT reset.
 * - device lost: `device.lose()`.
 * Unmapped addresses in commands are real page faults, not injected ones.
 *
 * The runtime's generic injector is consulted at the same points, so rules armed there
 * work too: `rt.faults.add('hw-hang', { site: 'guc1' })`, `'hw-stall'` (stalls for
 * {@link FaultPlan.genericStallMs}), `'hw-fw-error'` (fails with EIO) and `'hw-drop-reply'`,
 * with the same sites.
 * Those draw probabilities from `rt.random()`; rules added here draw from the device's
 * own stream (ADR 0106).
 */
export class FaultPlan {
  readonly #rules: HwFaultRule[] = [];
  readonly #prng: Prng;
  readonly #rt: Runtime;
  readonly #injected: InjectedHwFault[] = [];
  /** Stall length (ms) of a stall injected through `rt.faults` (kind `hw-stall`). Default 1. */
  genericStallMs = 1;

  constructor(rt: Runtime, seed: number) {
    this.#prng = new Prng(seed ^ 0xfa0175);
    this.#rt = rt;
  }

  /** Rules installed. */
  get rules(): readonly HwFaultRule[] {
    return this.#rules;
  }

  /** Faults injected so far, oldest first. */
  get injected(): readonly InjectedHwFault[] {
    return this.#injected;
  }

  /** True while any rule is installed here or in `rt.faults` (the device skips the checks otherwise). */
  get armed(): boolean {
    return this.#rules.length > 0 || this.#rt.faults.rules.length > 0;
  }

  /** Hang batches of the contexts `site` names (a context name, or a RegExp). */
  hang(spec: HwFaultSpec = {}): HwFaultRule {
    return this.#add('hang', spec, 0, 'EIO');
  }

  /** Stall batches for `ms` (a page fault being served). */
  stall(spec: HwFaultSpec & { readonly ms: number }): HwFaultRule {
    checkOptions('stall spec', spec);
    const ms = checkNumber('stall ms', spec.ms, 0);
    return this.#add('stall', spec, ms, 'EIO');
  }

  /** Make firmware requests fail with an error reply (`status`, default EIO). */
  firmwareError(spec: HwFaultSpec & { readonly status?: ErrnoName } = {}): HwFaultRule {
    checkOptions('firmwareError spec', spec);
    const status = spec.status ?? 'EIO';
    if (typeof status !== 'string' || !(status in ERRNO)) fail('EINVAL', `firmwareError status ${String(status)}: pass an errno name such as 'EIO'`);
    return this.#add('fw-error', spec, 0, status);
  }

  /**
   * Lose firmware replies: the request takes effect, its reply never reaches the host.
   * `site` is `guc:<reply type>` (`'guc:sched-done'`, `'guc:deregister-done'`).
   */
  dropReply(spec: HwFaultSpec = {}): HwFaultRule {
    return this.#add('drop-reply', spec, 0, 'EIO');
  }

  /** Remove a rule. Returns whether it was installed. */
  remove(rule: HwFaultRule): boolean {
    const i = this.#rules.indexOf(rule);
    if (i < 0) return false;
    this.#rules.splice(i, 1);
    return true;
  }

  /** Remove every rule. */
  clear(): void {
    this.#rules.length = 0;
  }

  /** @internal Whether a batch of context `site` hangs. */
  shouldHang(site: string): boolean {
    const generic = this.#generic('hang', site);
    return this.#first('hang', site) !== null || generic;
  }

  /** @internal Stall (ms) for a batch of context `site`; 0 for none. */
  stallMs(site: string): number {
    const generic = this.#generic('stall', site);
    return this.#first('stall', site)?.stallMs ?? (generic ? this.genericStallMs : 0);
  }

  /** @internal The errno a firmware action `site` fails with, or null. */
  fwError(site: string): ErrnoName | null {
    const generic = this.#generic('fw-error', site);
    return this.#first('fw-error', site)?.status ?? (generic ? 'EIO' : null);
  }

  /** @internal Whether the firmware reply `site` (`guc:<reply type>`) is lost. */
  shouldDropReply(site: string): boolean {
    const generic = this.#generic('drop-reply', site);
    return this.#first('drop-reply', site) !== null || generic;
  }

  /** Ask `rt.faults` (kind `hw-<kind>`); an injection there is listed here too. */
  #generic(kind: HwFaultKind, site: string): boolean {
    const hit = this.#rt.faults.should(`hw-${kind}`, site);
    if (hit) this.#injected.push({ kind, site, time: this.#rt.now() });
    return hit;
  }

  #first(kind: HwFaultKind, site: string): HwFaultRule | null {
    const rules = this.#rules;
    if (rules.length === 0) return null;
    let hit: HwFaultRule | null = null;
    for (const r of rules) {
      if (r.kind !== kind || hit !== null) continue;
      if (r.decide(site, this.#prng)) hit = r;
    }
    if (hit !== null) this.#injected.push({ kind, site, time: this.#rt.now() });
    return hit;
  }

  #add(kind: HwFaultKind, spec: HwFaultSpec, stallMs: number, status: ErrnoName): HwFaultRule {
    checkOptions(`${kind} spec`, spec);
    const { site, nth, probability, times } = spec;
    if (site !== undefined && typeof site !== 'string' && !(site instanceof RegExp)) fail('EINVAL', `fault site must be a context/action name or a RegExp, got ${typeof site}`);
    if (nth !== undefined) checkInt('fault nth', nth, 1);
    if (probability !== undefined && !(typeof probability === 'number' && probability >= 0 && probability <= 1)) {
      fail('EINVAL', `fault probability ${String(probability)}: pass a number in [0, 1]`);
    }
    if (times !== undefined && times !== Infinity) checkInt('fault times', times, 1);
    const rule = new HwFaultRule(this, kind, { ...spec }, stallMs, status);
    this.#rules.push(rule);
    return rule;
  }
}
