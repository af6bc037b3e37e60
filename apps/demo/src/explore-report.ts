/**
 * `explore --report [file.md]`: every scenario × every fault kind × K seeds, in parallel
 * workers, summarised as one table — runs, sites, verdicts, invariant violations (expected:
 * none) — and the exploration's own throughput. Written as Markdown to the file, and as a
 * terminal table to stdout.
 */
import { conformanceDriver } from './explore-conformance.js';
import { FAULT_KINDS, isSiteKind, runFaultsKind, type FaultKind, type FaultRequest } from './explore-faults.js';
import { exploreJobs, failureReason, replayCommand, type ExploreOptions, type Shard } from './explore.js';
import { harnessFailed, type ExploreJob, type RunOutcome } from './explore-run.js';
import type { Colors } from './scenarios/index.js';
import { formatTable } from './summary.js';

export interface ReportOptions {
  /** Scenario names, in report order. */
  readonly scenarios: readonly string[];
  readonly seeds: number;
  readonly firstSeed: number;
  readonly shard: Shard;
  readonly chaos?: boolean;
  /** Fault kinds of the matrix (every one by default). */
  readonly kinds: readonly FaultKind[];
  readonly recheckEvery: number;
}

/** The units of a report: per scenario, one per seed of the shard, each with the whole fault matrix. */
export function reportJobs(opts: ReportOptions): ExploreJob[] {
  return opts.scenarios.flatMap((scenario) => {
    const eo: ExploreOptions = {
      scenario,
      seeds: opts.seeds,
      firstSeed: opts.firstSeed,
      shard: opts.shard,
      ...(opts.chaos === undefined ? {} : { chaos: opts.chaos }),
      faults: { type: 'matrix', kinds: opts.kinds },
      params: {},
      workers: 1,
      recheckEvery: opts.recheckEvery,
    };
    return exploreJobs(eo);
  });
}

/** One row: a scenario under one fault kind. */
export interface ReportRow {
  readonly scenario: string;
  /** `none` or a fault kind. */
  readonly faults: string;
  /** On the `none` row: the kinds asked for that did not run, and why. */
  readonly notApplied?: string;
  readonly seeds: number;
  readonly runs: number;
  /** Distinct sites faulted (site kinds). */
  readonly sites: number;
  /** Runs whose fault was injected. */
  readonly injected: number;
  /** Runs whose scenario verdict was a failure (what a demonstration scenario shows counts here). */
  readonly verdictFailed: number;
  /** Runs that threw (the scenario did not unwind). */
  readonly errors: number;
  /** Runs re-run to compare trace hashes. */
  readonly rechecked: number;
  /** Runs that broke an invariant, and the violations. */
  readonly broken: number;
  readonly violations: number;
  readonly events: number;
}

export interface ExplorationReport {
  readonly rows: readonly ReportRow[];
  readonly outcomes: readonly RunOutcome[];
  readonly units: number;
  readonly wallMs: number;
  readonly options: ReportOptions;
}

/** Why kinds asked for did not run on a scenario: `kill, teardown: not taken; hang: no site reached`. */
function notApplied(kinds: readonly FaultKind[], recording: readonly RunOutcome[], ran: ReadonlySet<string>): string | undefined {
  const unsupported = new Set(recording.flatMap((o) => o.unsupported ?? []));
  const unsupportedWhy = recording.find((o) => o.unsupportedWhy !== undefined)?.unsupportedWhy;
  const armed = recording.some((o) => o.armed > 0);
  const why = new Map<string, string[]>();
  for (const k of kinds) {
    if (ran.has(k)) continue;
    const reason = unsupported.has(k)
      ? `not taken by the ${recording.some((o) => conformanceDriver(o.scenario) !== null) ? 'kit' : 'scenario'}${unsupportedWhy === undefined ? '' : ` (${unsupportedWhy})`}`
      : isSiteKind(k) && !armed
        ? 'the scenario arms no harness faults'
        : isSiteKind(k)
          ? 'no site reached'
          : 'not run (the unfaulted run failed)';
    why.set(reason, [...(why.get(reason) ?? []), k]);
  }
  return why.size === 0 ? undefined : [...why].map(([reason, ks]) => `${ks.join(', ')}: ${reason}`).join('; ');
}

/** Fold the outcomes of {@link reportJobs} into rows: per scenario, `none`, then every kind that ran. */
export function summarizeReport(opts: ReportOptions, outcomes: readonly RunOutcome[], wallMs: number): ExplorationReport {
  const rows: ReportRow[] = [];
  for (const scenario of opts.scenarios) {
    const mine = outcomes.filter((o) => o.scenario === scenario);
    const ran = new Set(mine.map((o) => runFaultsKind(o.faults)));
    for (const kind of ['none', ...opts.kinds] as string[]) {
      if (kind !== 'none' && !ran.has(kind)) continue;
      const runs = mine.filter((o) => runFaultsKind(o.faults) === kind);
      const note = kind === 'none' ? notApplied(opts.kinds, runs, ran) : undefined;
      rows.push({
        scenario,
        faults: kind,
        ...(note === undefined ? {} : { notApplied: note }),
        seeds: new Set(runs.map((o) => o.seed)).size,
        runs: runs.length,
        sites: new Set(runs.flatMap((o) => (o.faults.type === 'site' ? [o.faults.site] : []))).size,
        injected: runs.filter((o) => o.injected > 0).length,
        verdictFailed: runs.filter((o) => !o.ok && o.outcome !== 'error').length,
        errors: runs.filter((o) => o.outcome === 'error').length,
        rechecked: runs.filter((o) => o.rechecked).length,
        broken: runs.filter((o) => o.violations.length > 0).length,
        violations: runs.reduce((n, o) => n + o.violations.length, 0),
        events: runs.reduce((n, o) => n + o.events, 0),
      });
    }
  }
  return { rows, outcomes, units: new Set(outcomes.map((o) => `${o.scenario}/${o.seed}`)).size, wallMs, options: opts };
}

/** Runs/s, seeds/s and virtual events/s of the exploration. */
export function throughput(r: ExplorationReport): { seedsPerS: number; runsPerS: number; eventsPerS: number; runs: number; events: number } {
  const s = Math.max(r.wallMs, 1) / 1000;
  const runs = r.outcomes.length;
  const events = r.outcomes.reduce((n, o) => n + o.events, 0);
  return { seedsPerS: r.units / s, runsPerS: runs / s, eventsPerS: events / s, runs, events };
}

/** Runs that failed the harness (see {@link harnessFailed}). */
export function harnessFailures(r: ExplorationReport): RunOutcome[] {
  return r.outcomes.filter(harnessFailed);
}

/** Faulted runs whose scenario gave up on an ioctl's errno (listed, not failing). */
export function gaveUp(r: ExplorationReport): RunOutcome[] {
  return r.outcomes.filter((o) => o.outcome === 'error' && !harnessFailed(o));
}

const HEAD = ['scenario', 'faults', 'seeds', 'runs', 'sites', 'fired', 'verdict ✘', 'threw', 'rechecked', 'invariants broken', 'not applied'];

function cells(row: ReportRow): string[] {
  const faulted = row.faults !== 'none';
  return [
    row.scenario,
    row.faults,
    String(row.seeds),
    String(row.runs),
    faulted && row.sites > 0 ? String(row.sites) : '',
    faulted ? String(row.injected) : '',
    String(row.verdictFailed),
    String(row.errors),
    String(row.rechecked),
    row.broken === 0 ? '0' : `${row.broken} run(s), ${row.violations} violation(s)`,
    row.notApplied ?? '',
  ];
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

function summaryLine(r: ExplorationReport): string {
  const t = throughput(r);
  return (
    `${r.units} scenario-seed(s), ${t.runs} run(s), ${t.events.toLocaleString('en-US')} virtual events in ${(r.wallMs / 1000).toFixed(1)} s: ` +
    `${fmt(t.seedsPerS)} seeds/s, ${fmt(t.runsPerS)} runs/s, ${fmt(t.eventsPerS)} virtual events/s`
  );
}

/** The report as a terminal table, totals and one replay line per harness failure. */
export function formatReportTerminal(r: ExplorationReport, colors: Colors, maxReplays = 20): string[] {
  const out = formatTable(HEAD.slice(0, -1), r.rows.map((row) => cells(row).slice(0, -1)), colors, new Set([2, 3, 4, 5, 6, 7, 8])).map((l) => `  ${l}`);
  const skipped = r.rows.filter((row) => row.notApplied !== undefined);
  if (skipped.length > 0) out.push('', colors.dim('Not applied:'), ...skipped.map((row) => colors.dim(`  ${row.scenario}: ${row.notApplied}`)));
  out.push('', summaryLine(r));
  const quit = gaveUp(r);
  if (quit.length > 0) {
    const codes = [...new Set(quit.map((o) => o.errorCode))].join(', ');
    out.push(colors.yellow(`${quit.length} faulted run(s) ended with an ioctl error the scenario does not handle (${codes}); first: ${replayCommand(quit[0]!)}`));
  }
  const bad = harnessFailures(r);
  if (bad.length === 0) {
    out.push(colors.green(`No invariant violations in ${r.outcomes.length} run(s).`));
    return out;
  }
  out.push(colors.red(colors.bold(`${bad.length} run(s) broke an invariant or threw; replay each with:`)));
  for (const o of bad.slice(0, maxReplays)) out.push(`  ${replayCommand(o)}  ${colors.dim(`# ${failureReason(o)}`)}`);
  if (bad.length > maxReplays) out.push(colors.dim(`  … ${bad.length - maxReplays} more`));
  return out;
}

const mdCell = (s: string): string => s.replace(/\|/g, '\\|');

function countBy(keys: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/** The report as Markdown (the `--report` file). */
export function formatReportMarkdown(r: ExplorationReport, meta: { readonly date: string; readonly command: string }): string {
  const o = r.options;
  const lines: string[] = [];
  lines.push('# Exploration report', '');
  lines.push(`\`${meta.command}\` — ${meta.date}`, '');
  lines.push(
    `Seeds ${o.firstSeed}…${o.firstSeed + o.seeds - 1}${o.shard.count > 1 ? ` (shard ${o.shard.index}/${o.shard.count})` : ''}, ` +
      `chaos: ${o.chaos === true ? 'on' : 'scenario default'}, fault kinds: ${o.kinds.join(', ') || 'none'}, ` +
      `every ${o.recheckEvery > 0 ? `${o.recheckEvery}th seed re-run to compare trace hashes` : 'seed run once'}.`,
    '',
  );
  lines.push(`| ${HEAD.join(' | ')} |`, `|${HEAD.map((_, i) => (i < 2 || i === HEAD.length - 1 ? '---' : '--:')).join('|')}|`);
  for (const row of r.rows) lines.push(`| ${cells(row).map(mdCell).join(' | ')} |`);
  lines.push('', `**Throughput:** ${summaryLine(r)}.`, '');
  lines.push(
    '*runs*: the unfaulted (recording) run per seed under `none`; one run per site reached (`alloc`, `hang`, `fw-error`, `page-fault`: the first call at that site after set-up fails) or per kind a scenario injects itself. ' +
      '*fired*: runs whose fault was injected. *verdict ✘*: the scenario\'s own verdict failed (what `preempt-deadlock`, `foreign-resv` and `kernel` demonstrate). ' +
      '*threw*: an error escaped the scenario (under a fault, an ioctl errno its client does not handle is listed below, not counted as a violation). *invariants broken*: expected 0 (apps/demo/src/invariants/).',
    '',
  );
  const bad = harnessFailures(r);
  lines.push(`## Invariant violations and runs that threw (${bad.length})`, '');
  if (bad.length === 0) lines.push('None.');
  for (const b of bad) lines.push(`- \`${replayCommand(b)}\` — ${mdCell(failureReason(b))}`);
  lines.push('');
  const quit = gaveUp(r);
  if (quit.length > 0) {
    lines.push(`## Faulted runs whose scenario gave up on an ioctl error (${quit.length})`, '');
    lines.push('The injected fault made an ioctl fail with an errno the scenario\'s client does not handle; the run stopped there (its invariants were not checked).', '');
    for (const q of quit.slice(0, 20)) lines.push(`- \`${replayCommand(q)}\` — ${mdCell(q.detail)}`);
    if (quit.length > 20) lines.push(`- … ${quit.length - 20} more (by errno: ${[...countBy(quit.map((q) => `${q.scenario} ${q.errorCode ?? '?'}`))].map(([k, n]) => `${k} ×${n}`).join(', ')})`);
    lines.push('');
  }
  return lines.join('\n');
}

/** The kinds a `--faults` value selects for a report: every kind when absent or bare, else the list (`none`: none). */
export function reportKinds(request: FaultRequest): readonly FaultKind[] {
  if (request.type === 'matrix') return request.kinds;
  if (request.type === 'runs') throw new Error('--report runs whole fault kinds; kind@site replays one run (use it without --report)');
  return FAULT_KINDS;
}
