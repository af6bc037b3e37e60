import type { Report, TraceRecord } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import type { RunTrace, ScenarioResult } from '../scenarios/index.js';
import { teardownUnderLoadScenario } from '../scenarios/teardown.js';
import { checkInvariants, demonstrated, invariants } from './index.js';
import pc from 'picocolors';

/** A trace record as the layers emit it (only what the invariants read). */
function rec(name: string, args: Record<string, unknown>, ts = 0): TraceRecord {
  return { name, ts, ph: 'i', lane: 'test', args } as unknown as TraceRecord;
}

function run(records: TraceRecord[], reports: Report[] = [], more: Partial<ScenarioResult> = {}): ScenarioResult {
  const trace: RunTrace = { label: 'test', records };
  return {
    scenario: 'test',
    seed: 1,
    params: {},
    chaos: false,
    faults: false,
    traces: [trace],
    stats: [],
    reports,
    verdict: { ok: true, outcome: 'completed', detail: '' },
    traceHash: 'h1',
    endTime: 0,
    ...more,
  };
}

const Q = 'q';
const init = (creditLimit = 2): TraceRecord => rec('drm_dep:queue_init', { queue: Q, context: 7n, creditLimit });
const arm = (seqno: number, credits = 1): TraceRecord => rec('drm_dep:job_arm', { queue: Q, context: 7n, seqno: BigInt(seqno), credits });
const jobInit = (): TraceRecord => rec('drm_dep:job_init', { queue: Q, credits: 1 });
const runJob = (seqno: number, credits: number): TraceRecord => rec('drm_dep:job_run', { queue: Q, seqno: BigInt(seqno), inline: false, credits });
const done = (seqno: number, error = 0): TraceRecord => rec('drm_dep:job_done', { queue: Q, seqno: BigInt(seqno), error });
const free = (seqno: number): TraceRecord => rec('drm_dep:job_free', { queue: Q, seqno: BigInt(seqno), context: 'worker' });
const fence = (what: 'init' | 'signaled' | 'destroy', seqno: number): TraceRecord => rec(`dma_fence:${what}`, { driver: 'drm_dep', timeline: Q, context: 7n, seqno: BigInt(seqno) });
const report = (kind: Report['kind'], message: string): Report => ({ kind, message, details: [], time: 0, task: 't' });

/** Two jobs, run one after the other, completed, freed; queue torn down. */
function cleanRun(): TraceRecord[] {
  return [
    init(),
    jobInit(), arm(1), fence('init', 1),
    jobInit(), arm(2), fence('init', 2),
    runJob(1, 1), runJob(2, 2),
    done(1), fence('signaled', 1), done(2), fence('signaled', 2),
    free(1), free(2), fence('destroy', 1), fence('destroy', 2),
    rec('drm_dep:queue_fini', { queue: Q }), rec('drm_dep:queue_release', { queue: Q }),
  ];
}

const names = (r: ScenarioResult, replay?: ScenarioResult): string[] => checkInvariants({ result: r, ...(replay ? { replay } : {}) }).map((v) => v.invariant);

describe('invariants', () => {
  it('a clean run breaks none of them', () => {
    expect(checkInvariants({ result: run(cleanRun()), replay: run(cleanRun()) })).toEqual([]);
  });

  it('fences-signalled: a published fence never signalled, and a failed job without an error', () => {
    const open = cleanRun().filter((r) => !(r.name === 'dma_fence:signaled' && (r.args as { seqno: bigint }).seqno === 2n) && !(r.name === 'dma_fence:destroy' && (r.args as { seqno: bigint }).seqno === 2n));
    const v = checkInvariants({ result: run(open) });
    expect(v).toEqual([{ invariant: 'fences-signalled', reason: expect.stringMatching(/1 published fence\(s\) never signalled: q 7:2/) }]);
    // Destroyed unsignalled (a dropped INACTIVE fence) is legal.
    expect(names(run([fence('init', 1), fence('destroy', 1)]))).toEqual([]);
    const hwError = [...cleanRun(), rec('demo:hw_job', { hw: 'gpu', queue: Q, seqno: 2n, error: -5 })];
    expect(checkInvariants({ result: run(hwError) })[0]).toEqual({ invariant: 'fences-signalled', reason: expect.stringContaining('q seqno 2 (hardware error -5)') });
    const cancelled = cleanRun();
    cancelled.splice(cancelled.findIndex((r) => r.name === 'drm_dep:job_done'), 0, rec('drm_dep:job_cancel', { queue: Q, seqno: 1n }));
    expect(checkInvariants({ result: run(cancelled) })[0]!.reason).toContain('q seqno 1 (cancelled)');
  });

  it('job-ran-once: a seqno run or completed twice; a new queue of the same name starts over', () => {
    const twice = [...cleanRun()];
    twice.splice(8, 0, runJob(1, 1));
    expect(checkInvariants({ result: run(twice) }).find((v) => v.invariant === 'job-ran-once')!.reason).toMatch(/1 job\(s\) ran more than once: q seqno 1 ×2/);
    expect(names(run([...cleanRun(), done(2, -125)]))).toContain('job-ran-once');
    expect(names(run([...cleanRun(), ...cleanRun()]))).toEqual([]);
  });

  it('completion-order: out of seqno order fails, except teardown cancels and killed jobs', () => {
    const swapped = cleanRun();
    const i = swapped.findIndex((r) => r.name === 'drm_dep:job_done');
    [swapped[i], swapped[i + 2]] = [swapped[i + 2]!, swapped[i]!];
    expect(checkInvariants({ result: run(swapped) })).toEqual([{ invariant: 'completion-order', reason: '1 job(s) completed out of order: q: seqno 1 after 2' }]);
    const reverseCancel = [init(), jobInit(), arm(1), jobInit(), arm(2), runJob(1, 1), runJob(2, 2), rec('drm_dep:job_cancel', { queue: Q, seqno: 2n }), done(2, -125), rec('drm_dep:job_cancel', { queue: Q, seqno: 1n }), done(1, -125)];
    expect(names(run(reverseCancel))).not.toContain('completion-order');
    const killed = [init(), done(3, -3), done(2)];
    expect(names(run(killed))).not.toContain('completion-order');
  });

  it('credits-returned: the queue must report what its jobs hold, stay under the limit, end at zero', () => {
    const misreport = cleanRun().map((r) => (r.name === 'drm_dep:job_run' && (r.args as { seqno: bigint }).seqno === 2n ? runJob(2, 1) : r));
    expect(checkInvariants({ result: run(misreport) })[0]!.reason).toContain('q reports 1 credit(s) in use running seqno 2, its jobs hold 2');
    const over = [init(1), arm(1), arm(2), runJob(1, 1), runJob(2, 2), done(1), done(2)];
    expect(checkInvariants({ result: run(over) }).map((v) => v.reason).join()).toContain('over its limit of 1');
    const kept = [init(), arm(1, 2), runJob(1, 2)];
    expect(checkInvariants({ result: run(kept) }).map((v) => v.reason)).toEqual(['credits: q ends with 2 credit(s) never returned (seqno 1 ran and never completed)']);
  });

  it('no-leak and no-lockdep read the runtime reports', () => {
    const r = run(cleanRun(), [report('leak', 'fence alive at shutdown'), report('use-after-free', 'put after free'), report('lockdep', 'possible circular locking'), report('warn', 'just a WARN')]);
    expect(checkInvariants({ result: r }).map((v) => [v.invariant, v.reason])).toEqual([
      ['no-leak', '1 object(s) alive at shutdown: fence alive at shutdown'],
      ['no-leak', '1 use-after-free: put after free'],
      ['no-lockdep', '1 lockdep report(s): possible circular locking'],
    ]);
  });

  it('contexts-freed: a finalised queue is released with its jobs freed; closed files free their GEM objects', () => {
    const unreleased = cleanRun().filter((r) => r.name !== 'drm_dep:queue_release' && !(r.name === 'drm_dep:job_free' && (r.args as { seqno: bigint }).seqno === 2n));
    expect(checkInvariants({ result: run(unreleased) })[0]!.reason).toBe('queue q finalised but never released, queue q: 1 job(s) never freed');
    const gem = (what: string, obj: number): TraceRecord => rec(`drm:gem_${what}`, { dev: 'card0', obj, size: 4096 });
    const file = (what: string): TraceRecord => rec(`drm:file_${what}`, { file: 'f1' });
    expect(checkInvariants({ result: run([file('open'), gem('create', 1), gem('create', 2), gem('free', 1), file('close')]) })[0]!.reason).toBe(
      'every file closed but 1 GEM object(s) (4096 bytes) never freed: card0:2',
    );
    // A file still open may hold its objects.
    expect(names(run([file('open'), gem('create', 1)]))).toEqual([]);
  });

  it('same-trace compares the replay hash; a check that throws is a violation of that invariant', () => {
    expect(names(run(cleanRun()), run(cleanRun(), [], { traceHash: 'h2' }))).toEqual(['same-trace']);
    const broken = { name: 'boom', description: '', check: () => { throw new Error('bad trace'); } };
    expect(checkInvariants({ result: run([]) }, [], [broken])).toEqual([{ invariant: 'boom', reason: 'the check failed: bad trace' }]);
  });

  it('exemptions: what a scenario demonstrates is skipped; an unknown name is itself reported', () => {
    const r = run(cleanRun(), [report('lockdep', 'AB-BA')]);
    expect(checkInvariants({ result: r }, ['no-lockdep'])).toEqual([]);
    expect(checkInvariants({ result: r }, ['no-lockdep', 'no-such'])[0]).toMatchObject({ invariant: 'harness', reason: expect.stringContaining('"no-such"') });
    const s = { params: [{ name: 'ordering', description: '', choices: ['none', 'slot'], default: 'none' }], demonstrates: (p: Readonly<Record<string, string>>) => (p.ordering === 'none' ? ['no-lockdep'] : []) };
    expect(demonstrated(s, {})).toEqual(['no-lockdep']);
    expect(demonstrated(s, { ordering: 'slot' })).toEqual([]);
    expect(invariants.map((i) => i.name)).toEqual(['fences-signalled', 'job-ran-once', 'completion-order', 'credits-returned', 'no-leak', 'no-lockdep', 'contexts-freed', 'same-trace']);
  });

  it('on a real run: teardown under load (cancels newest first, kills queued jobs) keeps every invariant', async () => {
    const r = (await teardownUnderLoadScenario.run({ seed: 3, log: () => undefined, colors: pc.createColors(false) }))!;
    expect(r.traces.flatMap((t) => t.records).some((x) => x.name === 'drm_dep:job_cancel')).toBe(true);
    expect(checkInvariants({ result: r })).toEqual([]);
  });
});
