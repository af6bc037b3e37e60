/**
 * The terminal summary of a run: a table per client and queue, the side-by-side
 * comparison when the scenario has one, the warnings, and the verdict.
 */
import type { Colors, QueueStats, ScenarioResult } from './scenarios/index.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** `text` without colour codes. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Visible width of a string that may hold colour codes. */
export function visibleWidth(text: string): number {
  return [...stripAnsi(text)].length;
}

function pad(text: string, width: number, right: boolean): string {
  const gap = ' '.repeat(Math.max(0, width - visibleWidth(text)));
  return right ? gap + text : text + gap;
}

/**
 * A plain table: a header row, a rule, the rows. Columns listed in `numeric` are
 * right-aligned. Cells may hold colour codes; widths count visible characters.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], colors: Colors, numeric: ReadonlySet<number> = new Set()): string[] {
  const widths = header.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ''))));
  const line = (cells: readonly string[]): string => cells.map((c, i) => pad(c, widths[i]!, numeric.has(i))).join('  ').trimEnd();
  return [colors.bold(line(header)), colors.dim(widths.map((w) => '─'.repeat(w)).join('  ')), ...rows.map(line)];
}

/** A latency in ms, as the table shows it. */
export function formatMs(ms: number | null): string {
  if (ms === null) return '–';
  if (ms === 0) return '0';
  if (ms < 0.01) return ms.toExponential(1);
  return ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}

/** The per-client/per-queue table (variant column first when there are variants). */
export function statsTable(stats: readonly QueueStats[], colors: Colors): string[] {
  const withVariant = stats.some((s) => s.variant !== undefined);
  const extraKeys: string[] = [];
  for (const s of stats) for (const k of Object.keys(s.extra ?? {})) if (!extraKeys.includes(k)) extraKeys.push(k);
  const header = [
    ...(withVariant ? ['variant'] : []),
    'client',
    'queue',
    'jobs',
    'done',
    'errors',
    'p50 ms',
    'p99 ms',
    'preempt',
    'timeouts',
    ...extraKeys,
  ];
  const first = withVariant ? 3 : 2;
  const numeric = new Set(header.map((_, i) => i).filter((i) => i >= first));
  const rows = stats.map((s) => [
    ...(withVariant ? [s.variant ?? ''] : []),
    s.client,
    s.queue,
    String(s.jobs),
    s.completed === s.jobs ? colors.green(String(s.completed)) : colors.yellow(String(s.completed)),
    s.errors > 0 ? colors.red(String(s.errors)) : '0',
    formatMs(s.latencyP50),
    formatMs(s.latencyP99),
    String(s.preemptions),
    s.timeouts > 0 ? colors.yellow(String(s.timeouts)) : '0',
    ...extraKeys.map((k) => String(s.extra?.[k] ?? '')),
  ]);
  return formatTable(header, rows, colors, numeric);
}

/** The verdict line: a tick or a cross, the outcome, the detail. */
export function verdictLine(result: Pick<ScenarioResult, 'verdict'>, colors: Colors): string {
  const v = result.verdict;
  return v.ok ? `${colors.green(colors.bold(`✔ verdict: ${v.outcome}`))} — ${v.detail}` : `${colors.red(colors.bold(`✘ verdict: ${v.outcome}`))} — ${v.detail}`;
}

/** Everything the CLI prints after a scenario's own narrative. */
export function formatSummary(result: ScenarioResult, colors: Colors, options: { readonly maxReportDetails?: number } = {}): string[] {
  const out: string[] = [];
  const maxDetails = options.maxReportDetails ?? 12;
  if (result.stats.length > 0) {
    out.push('', colors.bold('Per client and queue') + colors.dim('  (latency: push → finished fence, virtual ms)'));
    out.push(...statsTable(result.stats, colors).map((l) => `  ${l}`));
  }
  if (result.comparison !== undefined) {
    const c = result.comparison;
    out.push('', colors.bold(c.title));
    const numeric = new Set(c.columns.map((_, i) => i + 1));
    const rows = c.rows.map((r) => [r.label, ...r.values.map((v) => (typeof v === 'number' ? formatNumber(v) : v))]);
    out.push(...formatTable(['', ...c.columns], rows, colors, numeric).map((l) => `  ${l}`));
  }
  const reports = result.reports;
  out.push('');
  if (reports.length === 0) {
    out.push(colors.dim('No warnings: lockdep and the WARN sink stayed quiet.'));
  } else {
    out.push(colors.bold(`${reports.length} report(s) from lockdep and the WARN sink (checks: warn):`));
    for (const r of reports) {
      out.push(`${colors.yellow(`[${r.kind}]`)} ${r.message} ${colors.dim(`(${r.task} at ${r.time} ms)`)}`);
      const details = r.details.slice(0, maxDetails);
      for (const d of details) out.push(colors.dim(`    ${d}`));
      if (r.details.length > details.length) out.push(colors.dim(`    … ${r.details.length - details.length} more line(s)`));
    }
  }
  out.push('');
  out.push(verdictLine(result, colors));
  const params = Object.entries(result.params).map(([k, v]) => `${k}=${v}`);
  out.push(
    colors.dim(
      `seed ${result.seed}${params.length > 0 ? `, ${params.join(', ')}` : ''}${result.chaos ? ', chaos' : ''}${result.faults ? ', faults' : ''}; ` +
        `${formatMs(result.endTime)} ms of virtual time; trace hash `,
    ) + colors.cyan(result.traceHash) + colors.dim(' (same seed, same hash)'),
  );
  return out;
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : formatMs(v);
}
