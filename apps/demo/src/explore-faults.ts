/**
 * The fault matrix of the reliability harness: what `--faults <list>` names, the faults of
 * one run (what its replay command repeats), and the {@link HarnessFaults} a run hands to
 * its scenario.
 *
 * `alloc`, `hang`, `fw-error` and `page-fault` are armed by the harness through
 * `rt.faults` (`alloc`, and hw-sim's generic `hw-hang`, `hw-fw-error`, `hw-stall` kinds),
 * one site at a time: a recording run first counts every call of those kinds after the
 * scenario's set-up (never-matching rules make the simulated devices ask), then one run per
 * site fails the first call there. `kill`, `teardown` and `device-lost` are injected by the
 * scenarios that list them in `faultKinds`, one run per kind.
 */
import type { Runtime } from '@dep/kernel';
import type { FaultKind, HarnessFaults, Scenario } from './scenarios/index.js';

export type { FaultKind } from './scenarios/index.js';

/** Every kind, in report order. */
export const FAULT_KINDS: readonly FaultKind[] = ['alloc', 'hang', 'fw-error', 'page-fault', 'kill', 'teardown', 'device-lost'];

/** Kinds the harness arms itself, one site at a time, and their `rt.faults` kind. */
export const SITE_KINDS = { alloc: 'alloc', hang: 'hw-hang', 'fw-error': 'hw-fw-error', 'page-fault': 'hw-stall' } as const;
export type SiteKind = keyof typeof SITE_KINDS;

/** Kinds only a scenario can inject. */
export const SCENARIO_KINDS: readonly FaultKind[] = ['kill', 'teardown', 'device-lost'];

export function isSiteKind(k: FaultKind): k is SiteKind {
  return Object.hasOwn(SITE_KINDS, k);
}

/** The faults of one run. */
export type RunFaults =
  /** None (the recording run: calls of every site kind are counted, nothing fails). */
  | { readonly type: 'none' }
  /** Bare `--faults`: the scenario's own seeded allocation failures. */
  | { readonly type: 'default' }
  /** The first call of `kind` at `site` after the scenario's set-up fails. */
  | { readonly type: 'site'; readonly kind: SiteKind; readonly site: string }
  /** A fault the scenario injects itself. */
  | { readonly type: 'kind'; readonly kind: FaultKind };

/** What `--faults` asked of explore. */
export type FaultRequest =
  /** No `--faults`: one run per seed, no faults. */
  | { readonly type: 'off' }
  /** Bare `--faults`: one run per seed with the scenario's own seeded allocation failures. */
  | { readonly type: 'default' }
  /**
   * `--faults <kinds>`: per seed, the recording run, then one run per site (site kinds) and
   * per kind (scenario kinds). `maxSites` bounds the sites per kind and seed (a budget):
   * seed s takes `maxSites` of them in turn from position s × maxSites, so consecutive
   * seeds cover different sites.
   */
  | { readonly type: 'matrix'; readonly kinds: readonly FaultKind[]; readonly maxSites?: number }
  /** `--faults kind@site,…` (a replay): exactly these runs. */
  | { readonly type: 'runs'; readonly runs: readonly RunFaults[] };

/**
 * Parses the value of `--faults`: `true` (bare flag) is the scenario default; otherwise a
 * comma-separated list of kinds, `all`, or `kind@site` (one run failing that site; a site
 * may contain anything but a comma). Throws an Error with a message on an unknown kind.
 */
export function parseFaults(value: string | boolean | undefined): FaultRequest {
  if (value === undefined || value === false) return { type: 'off' };
  if (value === true) return { type: 'default' };
  const tokens = value.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
  if (tokens.length === 0) throw new Error(`expected a list of ${FAULT_KINDS.join(', ')} or all (got "${value}")`);
  const kinds = new Set<FaultKind>();
  const runs: RunFaults[] = [];
  for (const t of tokens) {
    const at = t.indexOf('@');
    const name = at < 0 ? t : t.slice(0, at);
    if (name === 'all' && at < 0) {
      for (const k of FAULT_KINDS) kinds.add(k);
      continue;
    }
    if (name === 'none' && at < 0) continue;
    if (!(FAULT_KINDS as readonly string[]).includes(name)) throw new Error(`unknown fault kind "${name}" (expected ${FAULT_KINDS.join(', ')}, all, or kind@site)`);
    const kind = name as FaultKind;
    if (at < 0) {
      kinds.add(kind);
      continue;
    }
    if (!isSiteKind(kind)) throw new Error(`"${kind}" has no sites (only ${Object.keys(SITE_KINDS).join(', ')} take kind@site)`);
    const site = t.slice(at + 1);
    if (site.length === 0) throw new Error(`"${t}": name a site after the @`);
    runs.push({ type: 'site', kind, site });
  }
  if (runs.length > 0) {
    for (const k of kinds) runs.push(isSiteKind(k) ? { type: 'site', kind: k, site: '' } : { type: 'kind', kind: k });
    if (runs.some((r) => r.type === 'site' && r.site === '')) throw new Error('mix kind@site only with kinds a scenario injects (kill, teardown, device-lost)');
    return { type: 'runs', runs };
  }
  return { type: 'matrix', kinds: FAULT_KINDS.filter((k) => kinds.has(k)) };
}

/** A short label: `none`, `default`, `alloc@drm_dep_job_init`, `kill`. */
export function runFaultsLabel(f: RunFaults): string {
  switch (f.type) {
    case 'none':
      return 'none';
    case 'default':
      return 'default';
    case 'site':
      return `${f.kind}@${f.site}`;
    case 'kind':
      return f.kind;
  }
}

/** The fault kind a run's faults count under in the report (`none`, `default` or a kind). */
export function runFaultsKind(f: RunFaults): string {
  return f.type === 'site' || f.type === 'kind' ? f.kind : f.type;
}

/** Quote for a POSIX shell when needed. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The `--faults` argument replaying one run (empty for none). */
export function runFaultsFlag(f: RunFaults): string {
  if (f.type === 'none') return '';
  if (f.type === 'default') return ' --faults';
  return ` --faults ${shellQuote(runFaultsLabel(f))}`;
}

/** The kinds `scenario` takes: its `faultKinds`, or the ones the harness arms itself. */
export function supportedKinds(scenario: Pick<Scenario, 'faultKinds'>): readonly FaultKind[] {
  return scenario.faultKinds ?? (Object.keys(SITE_KINDS) as SiteKind[]);
}

/** A rule site no call has: makes a device consult `rt.faults` for a kind without failing anything. */
const NEVER = '\u0000harness: record only';

/** Sites reached by calls of one kind after arming, with their call counts. */
export type SiteCounts = ReadonlyMap<string, number>;

/**
 * The {@link HarnessFaults} of one run: arms `run` on every runtime the scenario hands it
 * and keeps, per runtime, the call counts at arming, so {@link sitesHit} can say which
 * sites were reached after the set-up and {@link injected} how many faults fired.
 */
export class HarnessArming implements HarnessFaults {
  readonly kinds: readonly FaultKind[];
  readonly #run: RunFaults;
  readonly #armed: { rt: Runtime; base: Map<string, Map<string, number>>; injectedBefore: number }[] = [];

  constructor(run: RunFaults) {
    this.#run = run;
    this.kinds = run.type === 'kind' || run.type === 'site' ? [run.kind] : [];
  }

  readonly #fired: string[] = [];

  /** Runtimes armed so far. */
  get runtimes(): number {
    return this.#armed.length;
  }

  arm(rt: Runtime): void {
    const base = new Map<string, Map<string, number>>();
    for (const kind of Object.values(SITE_KINDS)) {
      if (kind !== 'alloc') rt.faults.add(kind, { site: NEVER });
      base.set(kind, new Map(rt.faults.sites(kind)));
    }
    const run = this.#run;
    if (run.type === 'site') rt.faults.add(SITE_KINDS[run.kind], { site: run.site, nth: 1 });
    this.#armed.push({ rt, base, injectedBefore: rt.faults.injected.length });
  }

  /** Per site kind: the sites called after arming (union over runtimes, first-seen order) and how often. */
  sitesHit(): Map<SiteKind, SiteCounts> {
    const out = new Map<SiteKind, Map<string, number>>();
    for (const [name, rtKind] of Object.entries(SITE_KINDS) as [SiteKind, string][]) {
      const sites = new Map<string, number>();
      for (const { rt, base } of this.#armed) {
        const before = base.get(rtKind)!;
        for (const [site, n] of rt.faults.sites(rtKind)) {
          const after = n - (before.get(site) ?? 0);
          if (after > 0 && site !== NEVER) sites.set(site, (sites.get(site) ?? 0) + after);
        }
      }
      out.set(name, sites);
    }
    return out;
  }

  fired(what: string): void {
    this.#fired.push(what);
  }

  /** Faults the scenario injected itself ({@link fired}), in order. */
  get scenarioFired(): readonly string[] {
    return this.#fired;
  }

  /** Faults injected after arming, over every runtime, and by the scenario itself. */
  injected(): number {
    let n = this.#fired.length;
    for (const { rt, injectedBefore } of this.#armed) n += rt.faults.injected.length - injectedBefore;
    return n;
  }
}

/** The sites of one kind a seed faults under a `maxSites` budget (all of them without one). */
export function budgetSites(sites: readonly string[], seed: number, maxSites?: number): readonly string[] {
  if (maxSites === undefined || sites.length <= maxSites) return sites;
  const start = (seed * maxSites) % sites.length;
  return Array.from({ length: maxSites }, (_, i) => sites[(start + i) % sites.length]!);
}
