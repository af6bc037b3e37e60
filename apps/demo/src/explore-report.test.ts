import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import { formatReportMarkdown, formatReportTerminal, harnessFailures, reportJobs, reportKinds, summarizeReport, throughput, type ReportOptions } from './explore-report.js';
import type { RunOutcome } from './explore-run.js';

const colors = pc.createColors(false);

const opts: ReportOptions = { scenarios: ['a', 'conformance/xe'], seeds: 2, firstSeed: 1, shard: { index: 1, count: 1 }, kinds: ['alloc', 'hang', 'kill'], recheckEvery: 10 };

function o(over: Partial<RunOutcome> & Pick<RunOutcome, 'scenario' | 'seed'>): RunOutcome {
  return { params: {}, faults: { type: 'none' }, ok: true, outcome: 'all fences signalled', detail: '', hash: 'h', reports: 0, violations: [], events: 100, virtualMs: 5, injected: 0, armed: 1, rechecked: false, ...over };
}

const outcomes: RunOutcome[] = [
  o({ scenario: 'a', seed: 1, rechecked: true, sites: { alloc: ['s1', 's2'], hang: [] }, unsupported: ['kill'] }),
  o({ scenario: 'a', seed: 1, faults: { type: 'site', kind: 'alloc', site: 's1' }, injected: 1 }),
  o({ scenario: 'a', seed: 1, faults: { type: 'site', kind: 'alloc', site: 's2' }, injected: 1, violations: [{ invariant: 'credits-returned', reason: 'q ends with 1 credit(s) never returned' }] }),
  o({ scenario: 'a', seed: 2, sites: { alloc: ['s1'], hang: [] }, unsupported: ['kill'], ok: false, outcome: 'deadlock' }),
  o({ scenario: 'a', seed: 2, faults: { type: 'site', kind: 'alloc', site: 's1' }, injected: 1, ok: false, outcome: 'error', detail: 'ENOMEM: …', errorCode: 'ENOMEM', events: 0 }),
  o({ scenario: 'conformance/xe', seed: 1, outcome: 'conformance passed', events: 0, armed: 0, unsupported: ['hang', 'kill'] }),
  o({ scenario: 'conformance/xe', seed: 1, outcome: 'conformance passed', faults: { type: 'kind', kind: 'alloc' }, injected: 1, events: 0, armed: 0 }),
];

describe('explore --report', () => {
  it('plans one unit per scenario and seed of the shard, with the whole matrix', () => {
    const jobs = reportJobs({ ...opts, seeds: 4, shard: { index: 2, count: 2 } });
    expect(jobs.map((j) => `${j.scenario}/${j.seed}`)).toEqual(['a/2', 'a/4', 'conformance/xe/2', 'conformance/xe/4']);
    expect(jobs[0]!.faults).toEqual({ type: 'matrix', kinds: ['alloc', 'hang', 'kill'] });
    expect(reportKinds({ type: 'off' })).toHaveLength(7);
    expect(() => reportKinds({ type: 'runs', runs: [] })).toThrow('kind@site replays one run');
  });

  it('folds runs into scenario × faults rows: sites, fired, verdicts, throws, violations, and why kinds did not apply', () => {
    const r = summarizeReport(opts, outcomes, 2000);
    expect(r.rows.map((x) => [x.scenario, x.faults, x.seeds, x.runs, x.sites, x.injected, x.verdictFailed, x.errors, x.rechecked, x.broken, x.notApplied])).toEqual([
      ['a', 'none', 2, 2, 0, 0, 1, 0, 1, 0, 'hang: no site reached; kill: not taken by the scenario'],
      ['a', 'alloc', 2, 3, 2, 3, 0, 1, 0, 1, undefined],
      ['conformance/xe', 'none', 1, 1, 0, 0, 0, 0, 0, 0, 'hang, kill: not taken by the kit'],
      ['conformance/xe', 'alloc', 1, 1, 0, 1, 0, 0, 0, 0, undefined],
    ]);
    expect(throughput(r)).toEqual({ seedsPerS: 1.5, runsPerS: 3.5, eventsPerS: 200, runs: 7, events: 400 });
    // The broken invariant fails the report; the faulted run that gave up on ENOMEM does not.
    expect(harnessFailures(r).map((x) => x.faults)).toEqual([{ type: 'site', kind: 'alloc', site: 's2' }]);
  });

  it('writes Markdown and a terminal table with the replay command of every failure', () => {
    const r = summarizeReport(opts, outcomes, 2000);
    const md = formatReportMarkdown(r, { date: '2026-11-23', command: 'npm run explore -- --report r.md' });
    expect(md).toContain('| a | alloc | 2 | 3 | 2 | 3 | 0 | 1 | 0 | 1 run(s), 1 violation(s) |  |');
    expect(md).toContain('## Invariant violations and runs that threw (1)');
    expect(md).toContain('- `npm run explore -- --scenario a --first-seed 1 --seeds 1 --faults alloc@s2` — credits-returned: q ends with 1 credit(s) never returned');
    expect(md).toContain('## Faulted runs whose scenario gave up on an ioctl error (1)');
    expect(md).toContain('**Throughput:** 3 scenario-seed(s), 7 run(s), 400 virtual events in 2.0 s: 1.5 seeds/s, 3.5 runs/s, 200 virtual events/s.');
    const term = formatReportTerminal(r, colors).join('\n');
    expect(term).toContain('1 faulted run(s) ended with an ioctl error the scenario does not handle (ENOMEM)');
    expect(term).toContain('1 run(s) broke an invariant or threw; replay each with:');
    expect(term).toContain('a: hang: no site reached; kill: not taken by the scenario');
  });
});
