/**
 * `--html out.html`: a self-contained timeline page. Everything is inline (CSS, script,
 * data); it loads nothing, so it opens from a file, offline, and can be mailed around.
 */
import { readFileSync } from 'node:fs';
import type { ScenarioResult } from './scenarios/index.js';
import { formatMs } from './summary.js';
import { buildTimeline } from './timeline.js';

/** Client colours, in order of first appearance (Tableau 10, readable on white). */
export const CLIENT_PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#3b5b92'];

const asset = (name: string): string => readFileSync(new URL(`./html/${name}`, import.meta.url), 'utf8');

/** JSON safe inside a `<script>` element (no `</script>`, no `<!--`). */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What the page script draws (see src/html/timeline.js). */
export function pageData(result: ScenarioResult): Record<string, unknown> {
  const views = result.traces.map((t) => buildTimeline(t));
  const clientNames: string[] = [];
  for (const v of views) for (const c of v.clients) if (!clientNames.includes(c)) clientNames.push(c);
  const params = Object.entries(result.params).map(([k, v]) => `--${k} ${v}`);
  const withVariant = result.stats.some((s) => s.variant !== undefined);
  const extraKeys: string[] = [];
  for (const s of result.stats) for (const k of Object.keys(s.extra ?? {})) if (!extraKeys.includes(k)) extraKeys.push(k);
  return {
    title: `dep demo: ${result.scenario}`,
    subtitle: `seed ${result.seed}${params.length > 0 ? ` · ${params.join(' ')}` : ''}${result.chaos ? ' · chaos' : ''}${result.faults ? ' · faults' : ''} · ${formatMs(result.endTime)} ms of virtual time · trace hash ${result.traceHash}`,
    verdict: result.verdict,
    clients: clientNames.map((name, i) => ({ name, color: CLIENT_PALETTE[i % CLIENT_PALETTE.length]! })),
    views: views.map((v) => {
      const keep = v.lanes.map((l) => l.visible);
      const newIndex: number[] = [];
      let n = 0;
      for (let i = 0; i < keep.length; i++) newIndex[i] = keep[i] ? n++ : -1;
      return {
        label: v.label,
        end: v.end,
        lanes: v.lanes.filter((l) => l.visible).map((l) => ({ key: l.key, name: l.name, group: l.group, rows: l.rows, ...(l.client === undefined ? {} : { client: l.client }) })),
        slices: v.slices.map((s) => ({ lane: newIndex[s.lane], row: s.row, ts: s.ts, dur: s.dur, name: s.name, kind: s.kind, open: s.open, client: s.client, args: s.args })),
        markers: v.markers.map((m) => ({ lane: newIndex[m.lane], ts: m.ts, kind: m.kind, name: m.name, args: m.args })),
        flows: v.flows,
      };
    }),
    stats: {
      header: [...(withVariant ? ['variant'] : []), 'client', 'queue', 'jobs', 'done', 'errors', 'p50 ms', 'p99 ms', 'preempt', 'timeouts', ...extraKeys],
      textColumns: withVariant ? 3 : 2,
      rows: result.stats.map((s) => [
        ...(withVariant ? [s.variant ?? ''] : []),
        s.client,
        s.queue,
        String(s.jobs),
        String(s.completed),
        String(s.errors),
        formatMs(s.latencyP50),
        formatMs(s.latencyP99),
        String(s.preemptions),
        String(s.timeouts),
        ...extraKeys.map((k) => String(s.extra?.[k] ?? '')),
      ]),
    },
    comparison: result.comparison ?? null,
    reports: result.reports.map((r) => `[${r.kind}] ${r.message} (${r.task} at ${r.time} ms)\n${r.details.map((d) => `    ${d}`).join('\n')}`),
    footer: `Replay: npm run demo -- ${result.scenario} --seed ${result.seed}${params.length > 0 ? ` ${params.join(' ')}` : ''}${result.faults ? ' --faults' : ''}`,
  };
}

/** The page, as one HTML string. */
export function renderHtml(result: ScenarioResult): string {
  const data = pageData(result);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(String(data.title))}</title>
<style>
${asset('timeline.css')}</style>
</head>
<body>
<div id="app"></div>
<div id="tooltip" role="tooltip"></div>
<script id="timeline-data" type="application/json">${scriptSafeJson(data)}</script>
<script>
${asset('timeline.js')}</script>
</body>
</html>
`;
}
