/**
 * One unit of exploration — a scenario, a seed, its params, chaos and the faults asked
 * for — run to its outcomes: the recording run, then one run per fault site and per
 * scenario-injected kind, each checked against every invariant (and, when sampled, run a
 * second time to compare trace hashes). Pure of I/O: the worker threads and the in-process
 * CI budget both call {@link runUnit}.
 */
import { isDepError } from '@dep/kernel';
import pc from 'picocolors';
import {
  HarnessArming,
  budgetSites,
  SCENARIO_KINDS,
  isSiteKind,
  supportedKinds,
  type FaultKind,
  type FaultRequest,
  type RunFaults,
  type SiteKind,
} from './explore-faults.js';
import { checkInvariants, demonstrated, type Violation } from './invariants/index.js';
import type { Scenario, ScenarioResult } from './scenarios/index.js';

/** A unit of work: what a worker is sent. */
export interface ExploreJob {
  readonly scenario: string;
  /** Params as given (non-default ones appear in replay lines). */
  readonly params: Readonly<Record<string, string>>;
  readonly seed: number;
  /** `--chaos` given (undefined: the scenario's default). */
  readonly chaos?: boolean;
  readonly faults: FaultRequest;
  /** Run every run of the unit twice and compare the trace hashes. */
  readonly recheck: boolean;
  /** With {@link recheck}: the faulted runs of a matrix too (default true; false: the recording run only). */
  readonly recheckFaulted?: boolean;
}

/** What one run did. */
export interface RunOutcome {
  readonly scenario: string;
  readonly params: Readonly<Record<string, string>>;
  readonly seed: number;
  readonly chaos?: boolean;
  readonly faults: RunFaults;
  /** The scenario's verdict. */
  readonly ok: boolean;
  readonly outcome: string;
  readonly detail: string;
  readonly hash: string;
  readonly reports: number;
  /** Invariants broken (the scenario's `demonstrates` aside). */
  readonly violations: readonly Violation[];
  /** Trace records of the run (virtual events). */
  readonly events: number;
  /** Virtual time at its end, ms. */
  readonly virtualMs: number;
  /** Faults that actually fired (a site run: 1 when the site was reached again). */
  readonly injected: number;
  /** Whether the run was repeated and its hash compared. */
  readonly rechecked: boolean;
  /** The recording run only: sites reached after set-up, per site kind. */
  readonly sites?: Readonly<Partial<Record<SiteKind, readonly string[]>>>;
  /** Kinds asked for that the scenario does not take (the recording run only). */
  readonly unsupported?: readonly FaultKind[];
  /** Why it does not take them ({@link Scenario.faultKindsWhy}; the recording run only). */
  readonly unsupportedWhy?: string;
  /** Runtimes the scenario handed the harness to arm (0: it takes no harness faults). */
  readonly armed: number;
  /** When the scenario threw a `DepError` (an ioctl's errno its client did not handle): the errno name. */
  readonly errorCode?: string;
}

const colors = pc.createColors(false);

interface Ran {
  readonly result: ScenarioResult | null;
  readonly error?: string;
  readonly errorCode?: string;
  readonly arming: HarnessArming;
}

async function runOnce(scenario: Scenario, job: ExploreJob, faults: RunFaults): Promise<Ran> {
  const arming = new HarnessArming(faults);
  try {
    const result = await scenario.run({
      seed: job.seed,
      log: () => undefined,
      colors,
      params: job.params,
      ...(job.chaos === undefined ? {} : { chaos: job.chaos }),
      faults: faults.type === 'default',
      harnessFaults: arming,
    });
    return { result: result ?? null, arming };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { result: null, error: msg.split('\n')[0]!, ...(isDepError(e) ? { errorCode: e.code } : {}), arming };
  }
}

function outcomeOf(job: ExploreJob, faults: RunFaults, ran: Ran, violations: Violation[], rechecked: boolean): RunOutcome {
  const base = {
    scenario: job.scenario,
    params: job.params,
    seed: job.seed,
    ...(job.chaos === undefined ? {} : { chaos: job.chaos }),
    faults,
    injected: ran.arming.injected(),
    armed: ran.arming.runtimes,
    rechecked,
  };
  if (ran.error !== undefined) {
    return { ...base, ok: false, outcome: 'error', detail: ran.error, ...(ran.errorCode === undefined ? {} : { errorCode: ran.errorCode }), hash: '', reports: 0, violations, events: 0, virtualMs: 0 };
  }
  const r = ran.result;
  if (r === null) return { ...base, ok: true, outcome: 'completed', detail: 'the scenario returned no result', hash: '', reports: 0, violations, events: 0, virtualMs: 0 };
  return {
    ...base,
    ok: r.verdict.ok,
    outcome: r.verdict.outcome,
    detail: r.verdict.detail,
    hash: r.traceHash,
    reports: r.reports.length,
    violations,
    events: r.traces.reduce((n, t) => n + t.records.length, 0),
    virtualMs: r.endTime,
  };
}

/** Run one fault setting of a unit (twice when rechecking) and check it. */
async function runChecked(scenario: Scenario, job: ExploreJob, faults: RunFaults): Promise<{ outcome: RunOutcome; ran: Ran }> {
  const ran = await runOnce(scenario, job, faults);
  const exempt = demonstrated(scenario, job.params);
  let replay: ScenarioResult | undefined;
  const violations: Violation[] = [];
  if (ran.result !== null) {
    if (job.recheck) {
      const again = await runOnce(scenario, job, faults);
      if (again.result !== null) replay = again.result;
      else violations.push({ invariant: 'same-trace', reason: `the second run of seed ${job.seed} ${again.error !== undefined ? `threw: ${again.error}` : 'returned no result'}` });
    }
    violations.push(...checkInvariants({ result: ran.result, ...(replay === undefined ? {} : { replay }) }, exempt));
  }
  return { outcome: outcomeOf(job, faults, ran, violations, job.recheck), ran };
}

/** Every run of `job` on `scenario`, in order: see {@link FaultRequest}. */
export async function runUnit(scenario: Scenario, job: ExploreJob): Promise<RunOutcome[]> {
  const req = job.faults;
  if (req.type === 'off') return [(await runChecked(scenario, job, { type: 'none' })).outcome];
  if (req.type === 'default') return [(await runChecked(scenario, job, { type: 'default' })).outcome];
  if (req.type === 'runs') {
    const out: RunOutcome[] = [];
    for (const f of req.runs) out.push((await runChecked(scenario, job, f)).outcome);
    return out;
  }
  // The matrix: record, then one run per site and per scenario kind.
  const supported = new Set(supportedKinds(scenario));
  const wanted = req.kinds.filter((k) => supported.has(k));
  const unsupported = req.kinds.filter((k) => !supported.has(k));
  const { outcome: first, ran } = await runChecked(scenario, job, { type: 'none' });
  const hit = ran.arming.sitesHit();
  const sites: Partial<Record<SiteKind, readonly string[]>> = {};
  for (const k of wanted) if (isSiteKind(k)) sites[k] = [...(hit.get(k)?.keys() ?? [])];
  const faultedJob = job.recheckFaulted === false ? { ...job, recheck: false } : job;
  const why = unsupported.length > 0 ? scenario.faultKindsWhy : undefined;
  const out: RunOutcome[] = [{ ...first, sites, ...(unsupported.length > 0 ? { unsupported } : {}), ...(why === undefined ? {} : { unsupportedWhy: why }) }];
  if (ran.result === null) return out; // nothing to fault: the unfaulted run already failed
  for (const k of wanted) {
    if (isSiteKind(k)) {
      for (const site of budgetSites(sites[k] ?? [], job.seed, req.maxSites)) out.push((await runChecked(scenario, faultedJob, { type: 'site', kind: k, site })).outcome);
    } else if (SCENARIO_KINDS.includes(k)) {
      out.push((await runChecked(scenario, faultedJob, { type: 'kind', kind: k })).outcome);
    }
  }
  return out;
}

/** A run failed: a bad verdict, or a broken invariant. */
export function failed(o: Pick<RunOutcome, 'ok' | 'violations'>): boolean {
  return !o.ok || o.violations.length > 0;
}

/**
 * A run the harness itself counts against the code: it broke an invariant, or it threw
 * where it may not — without an injected fault, or with something other than a `DepError`
 * (a faulted run whose ioctl failed with an errno its scenario's client does not handle is
 * the client giving up, not a broken invariant).
 */
export function harnessFailed(o: Pick<RunOutcome, 'outcome' | 'violations' | 'faults' | 'errorCode'>): boolean {
  if (o.violations.length > 0) return true;
  if (o.outcome !== 'error') return false;
  return o.faults.type === 'none' || o.errorCode === undefined;
}
