import pc from 'picocolors';
import type { TraceRecord } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { checkChromeTrace, threadNames, toChromeTrace } from '../chrome-trace.js';
import { buildTimeline } from '../timeline.js';
import { HarnessArming, runFaultsLabel, type RunFaults } from '../explore-faults.js';
import { runUnit, type RunOutcome } from '../explore-run.js';
import { FAULT_FRAME, FLAGSHIP_CLIENTS, FLAGSHIP_FRAMES, PRESSURE_FRAME, flagshipResult, flagshipScenario, flagshipVerdict, runFlagship, type FlagshipRun } from './flagship.js';
import { DEFAULT_SCENARIO, scenarios } from './index.js';

const colors = pc.createColors(false);
const arg = (r: TraceRecord, k: string): string => String((r.args as Record<string, unknown>)[k]);

/** Per queue and seqno: when the job started running (job_run B) and finished (job_done). */
function jobTimes(records: readonly TraceRecord[], queue: string): Map<string, { run: number; done: number; error: number }> {
  const out = new Map<string, { run: number; done: number; error: number }>();
  for (const r of records) {
    if ((r.name !== 'drm_dep:job_run' && r.name !== 'drm_dep:job_done') || arg(r, 'queue') !== queue) continue;
    const seqno = arg(r, 'seqno');
    const e = out.get(seqno) ?? { run: NaN, done: NaN, error: NaN };
    if (r.name === 'drm_dep:job_run' && r.ph === 'B') e.run = r.ts;
    if (r.name === 'drm_dep:job_done') {
      e.done = r.ts;
      e.error = Number(arg(r, 'error'));
    }
    out.set(seqno, e);
  }
  return out;
}

describe('flagship: three drivers on one runtime', () => {
  let first: FlagshipRun | null = null;
  const run1 = async (): Promise<FlagshipRun> => (first ??= await runFlagship({ seed: 1 }));

  it('is the default scenario and registered', () => {
    expect(DEFAULT_SCENARIO).toBe('flagship');
    expect(scenarios.map((s) => s.name)).toContain('flagship');
  });

  it('every client completes every frame; the verdict is all fences signalled, nothing leaked', async () => {
    const run = await run1();
    expect(run.finished).toBe(true);
    expect(run.reports, 'no WARN, lockdep splat or leak').toEqual([]);
    expect(run.presents).toHaveLength(FLAGSHIP_FRAMES);
    expect(run.presents.map((p) => p.status)).toEqual(Array(FLAGSHIP_FRAMES).fill(1));
    const result = flagshipResult(run, { seed: 1, log: () => undefined, colors });
    expect(result.verdict.ok).toBe(true);
    expect(result.verdict.outcome).toBe('all fences signalled');
    const byClient = Object.fromEntries(result.stats.map((s) => [s.client, s]));
    expect(Object.keys(byClient).sort()).toEqual(['compositor', 'compute', 'npu', 'render']);
    for (const c of ['npu', 'render', 'compute', 'compositor']) {
      expect(byClient[c]!.jobs, c).toBe(FLAGSHIP_FRAMES);
      expect(byClient[c]!.completed, c).toBe(FLAGSHIP_FRAMES);
      expect(byClient[c]!.errors, c).toBe(0);
      expect(byClient[c]!.latencyP50, c).not.toBeNull();
    }
    expect(byClient.compute!.preemptions).toBe(1);
  });

  it('implicit sync across devices: each NPU inference ended before the panthor render reading its buffer started', async () => {
    const run = await run1();
    const npu = jobTimes(run.records, run.queues.npu);
    const render = jobTimes(run.records, run.queues.render);
    expect(npu.size).toBe(FLAGSHIP_FRAMES);
    for (let k = 1; k <= FLAGSHIP_FRAMES; k++) {
      const n = npu.get(String(k))!;
      const r = render.get(String(k))!;
      expect(n.done, `frame ${k}`).toBeLessThanOrEqual(r.run);
      expect(r.run - n.done, `frame ${k}: the render waited for nothing else`).toBeLessThan(1);
    }
    // …and the dependency is in the trace: the render job's dependency is the NPU job's fence.
    const view = buildTimeline({ label: 'flagship', records: run.records, clients: run.clients });
    const flowsIntoRender = view.flows.filter((f) => view.slices[f.to.slice]!.name.startsWith(`${run.queues.render} #`));
    expect(flowsIntoRender.length).toBe(FLAGSHIP_FRAMES);
  });

  it('the compositor presents a frame only after its render and its compute user fence', async () => {
    const run = await run1();
    const render = jobTimes(run.records, run.queues.render);
    const compute = jobTimes(run.records, run.queues.compute);
    const compositor = jobTimes(run.records, run.queues.compositor);
    for (let k = 1; k <= FLAGSHIP_FRAMES; k++) {
      const c = compositor.get(String(k))!;
      expect(c.run, `frame ${k}`).toBeGreaterThanOrEqual(render.get(String(k))!.done);
      expect(c.run, `frame ${k}`).toBeGreaterThanOrEqual(compute.get(String(k))!.done);
      expect(run.presents[k - 1]!.at).toBe(c.done);
    }
  });

  it('memory pressure in frame 2 evicts the LR VM\'s BO: the preempt fence suspends the queue, the rebind worker resumes it', async () => {
    const run = await run1();
    expect(run.evictions).toHaveLength(1);
    expect(run.evictions[0]!.bo).toBe('compute activations BO');
    expect(run.lr).toEqual({ preempts: 1, resumes: 1, rebinds: 1 });
    const ev = run.evictions[0]!;
    // The eviction came while frame 2's compute job was on the engine, and that job finished after it.
    const job2 = jobTimes(run.records, run.queues.compute).get(String(PRESSURE_FRAME))!;
    expect(ev.startedAt).toBeGreaterThan(job2.run);
    expect(job2.done).toBeGreaterThan(ev.idleAt);
    expect(job2.error).toBe(0);
    const saved = run.records.filter((r) => (r.name as string) === 'hw:preempt' && arg(r, 'phase') === 'saved');
    expect(saved.length).toBeGreaterThanOrEqual(1);
    expect(saved.every((r) => r.ts >= ev.startedAt && r.ts <= ev.idleAt)).toBe(true);
  });

  it('the timeline shows engine lanes of all three devices, the four queues, fence markers and dependency arrows', async () => {
    const run = await run1();
    const view = buildTimeline({ label: 'flagship', records: run.records, clients: run.clients, reports: run.reports });
    const engines = view.lanes.filter((l) => l.group === 'engines' && l.visible).map((l) => l.key);
    for (const prefix of ['xe:', 'mali:', 'npu:']) expect(engines.some((k) => k.startsWith(prefix)), prefix).toBe(true);
    const queues = view.lanes.filter((l) => l.group === 'queues').map((l) => l.name);
    for (const q of Object.values(run.queues)) expect(queues).toContain(q);
    expect(view.markers.filter((m) => m.kind === 'fence').length).toBeGreaterThan(10);
    expect(view.markers.some((m) => m.kind === 'preempt')).toBe(true);
    expect(view.flows.length).toBeGreaterThanOrEqual(3 * FLAGSHIP_FRAMES);
    expect(new Set(view.clients)).toEqual(new Set(['npu', 'render', 'compute', 'compositor']));
  });

  it('--trace: a valid Chrome trace with a thread per engine of each device and per queue', async () => {
    const run = await run1();
    const chrome = toChromeTrace(flagshipResult(run, { seed: 1, log: () => undefined, colors }));
    expect(checkChromeTrace(JSON.parse(JSON.stringify(chrome)))).toEqual([]);
    const threads = threadNames(chrome);
    for (const t of ['npu:col0', 'mali:csg0.cs0', 'xe:ccs0', 'xe:bcs0', ...Object.values(run.queues)]) expect(threads.some((n) => n.includes(t)), t).toBe(true);
  });

  it('is reproducible: the same seed gives the same trace hash, another seed runs too', async () => {
    const opts = { seed: 7, log: () => undefined, colors };
    const a = (await flagshipScenario.run(opts))!;
    const b = (await flagshipScenario.run(opts))!;
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.verdict.ok).toBe(true);
    const c = (await flagshipScenario.run({ ...opts, seed: 1 }))!;
    expect(c.traceHash).toBe(flagshipResult(await run1(), { ...opts, seed: 1 }).traceHash);
  });

  it('under chaos (seeded interleaving of simultaneous events) every seed still completes', async () => {
    for (const seed of [1, 2, 3]) {
      const r = (await flagshipScenario.run({ seed, chaos: true, log: () => undefined, colors }))!;
      expect(r.chaos).toBe(true);
      expect(r.verdict, `seed ${seed}`).toMatchObject({ ok: true, outcome: 'all fences signalled' });
      expect(r.stats.reduce((n, s) => n + s.completed, 0), `seed ${seed}`).toBe(4 * FLAGSHIP_FRAMES);
    }
  }, 60_000);
});

describe('flagship under the harness faults: the clients ride them out, every run is checked', () => {
  const harness = (faults: RunFaults): HarnessArming => new HarnessArming(faults);
  /** Run `runs` of seed `seed` through the harness: each must end with a verdict (not a throw) that passed, and no invariant broken. */
  async function checked(seed: number, runs: readonly RunFaults[]): Promise<RunOutcome[]> {
    const out = await runUnit(flagshipScenario, { scenario: 'flagship', params: {}, seed, faults: { type: 'runs', runs }, recheck: false });
    for (const o of out) {
      const label = `seed ${seed} ${runFaultsLabel(o.faults)}`;
      expect(o.outcome, `${label}: ${o.detail}`).toBe('all fences signalled');
      expect(o.ok, label).toBe(true);
      expect(o.violations, label).toEqual([]);
      expect(o.events, `${label}: the invariants ran over a trace`).toBeGreaterThan(0);
      expect(o.injected, `${label}: the fault fired`).toBeGreaterThan(0);
    }
    return out;
  }

  it('declares every kind', () => {
    expect(flagshipScenario.faultKinds).toEqual(['alloc', 'hang', 'fw-error', 'page-fault', 'kill', 'teardown', 'device-lost']);
  });

  it('a hung LR compute batch: the preemption for the eviction resets it, the banned queue is re-created, later frames present', async () => {
    const run = await runFlagship({ seed: 1, harnessFaults: harness({ type: 'site', kind: 'hang', site: 'guc0' }) });
    expect(run.finished).toBe(true);
    expect(run.recoveries).toEqual(['compute@4']);
    expect(run.skippedFrames).toBe(1);
    expect(run.presents.at(-1)!.status, 'the frame after the recovery presents').toBe(1);
    expect(flagshipVerdict(run, [{ label: 'flagship', records: run.records }])).toMatchObject({ ok: true });
    await checked(1, [{ type: 'site', kind: 'hang', site: 'guc0' }]);
  });

  it("a hung NPU command (60 s) holds the compositor's blit, yet the compute VM's exported user fences signal at their writes: no user-fence TDR, every frame presents", async () => {
    const run = await runFlagship({ seed: 1, harnessFaults: harness({ type: 'site', kind: 'hang', site: 'hwctx.1.1' }) });
    expect(run.recoveries).toEqual([]);
    expect(run.records.some((r) => r.name === 'user_fence:tdr')).toBe(false);
    expect(run.presents.map((p) => p.status)).toEqual(Array(FLAGSHIP_FRAMES).fill(1));
    expect(run.presents[0]!.at).toBeGreaterThanOrEqual(60_000);
  });

  it('firmware errors and allocation failures: dropped or lost frames, the clients carry on', async () => {
    await checked(1, [
      { type: 'site', kind: 'fw-error', site: 'guc:register' },
      { type: 'site', kind: 'fw-error', site: 'guc:submit' },
      { type: 'site', kind: 'alloc', site: 'drm_syncobj_array_wait_timeout' },
      { type: 'site', kind: 'alloc', site: 'drm_gem_handle_create' },
    ]);
  }, 60_000);

  it('kill: each client in turn (seed mod 4) has its context destroyed with work in flight and re-creates it', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const run = await runFlagship({ seed, harnessFaults: harness({ type: 'kind', kind: 'kill' }) });
      const victim = FLAGSHIP_CLIENTS[seed % 4]!;
      expect(run.injected).toEqual([`kill ${victim}`]);
      expect(run.recoveries).toContain(`${victim}@${FAULT_FRAME}`);
      expect(run.presents.at(-1)!.status, `seed ${seed}: the last frame presents`).toBe(1);
      await checked(seed, [{ type: 'kind', kind: 'kill' }]);
    }
  }, 60_000);

  it('teardown: the NPU client closes its file mid-flight, opens a new one, re-imports the shared buffers; every frame presents', async () => {
    const run = await runFlagship({ seed: 1, harnessFaults: harness({ type: 'kind', kind: 'teardown' }) });
    expect(run.injected).toEqual(['teardown npu']);
    expect(run.presents.filter((p) => p.status === 1).length).toBe(FLAGSHIP_FRAMES);
    await checked(1, [{ type: 'kind', kind: 'teardown' }]);
  });

  it('device-lost: the NPU is lost mid-flight; its context cannot be re-created (ENODEV); the renderer carries on without new inferences', async () => {
    const run = await runFlagship({ seed: 1, harnessFaults: harness({ type: 'kind', kind: 'device-lost' }) });
    expect(run.injected).toEqual(['device-lost npu']);
    expect(run.npuLost).toBe(true);
    expect(run.presents.at(-1)!.status, 'the frame after the loss presents').toBe(1);
    await checked(1, [{ type: 'kind', kind: 'device-lost' }]);
  });
});
