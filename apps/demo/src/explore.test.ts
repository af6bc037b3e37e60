import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import { explore, exploreJobs, formatExplore, parseShard, replayCommand, shardSeeds, type ExploreOptions, type RunOutcome } from './explore.js';
import { kernelScenario } from './scenarios/kernel.js';

const FIXTURE = new URL('./__fixtures__/explore-scenarios.ts', import.meta.url).href;
const colors = pc.createColors(false);

function options(over: Partial<ExploreOptions> = {}): ExploreOptions {
  return { scenario: 'every-third', seeds: 10, firstSeed: 1, shard: { index: 1, count: 1 }, faults: { type: 'off' }, params: {}, workers: 2, registry: FIXTURE, ...over };
}

function outcome(over: Partial<RunOutcome> & Pick<RunOutcome, 'seed'>): RunOutcome {
  return {
    scenario: 'every-third',
    params: {},
    faults: { type: 'none' },
    ok: true,
    outcome: 'all fences signalled',
    detail: 'fine',
    hash: 'h',
    reports: 0,
    violations: [],
    events: 0,
    virtualMs: 0,
    injected: 0,
    armed: 0,
    rechecked: false,
    ...over,
  };
}

describe('explore: shards', () => {
  it('parses i/n and rejects everything else', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(parseShard(' 1/1 ')).toEqual({ index: 1, count: 1 });
    for (const bad of ['0/4', '5/4', '1/0', '2', 'a/b', '1/2/3', '-1/2', '']) expect(() => parseShard(bad), bad).toThrow(/expected i\/n/);
  });

  it('stripes seeds: shard i of n takes every n-th seed from the i-th; shards are disjoint and cover all', () => {
    expect(shardSeeds(1, 10, { index: 2, count: 4 })).toEqual([2, 6, 10]);
    expect(shardSeeds(100, 5, { index: 1, count: 2 })).toEqual([100, 102, 104]);
    expect(shardSeeds(1, 3, { index: 4, count: 4 })).toEqual([]);
    const n = 7;
    const all = Array.from({ length: n }, (_, i) => shardSeeds(5, 53, { index: i + 1, count: n }));
    const flat = all.flat();
    expect(new Set(flat).size).toBe(flat.length);
    expect([...flat].sort((a, b) => a - b)).toEqual(Array.from({ length: 53 }, (_, i) => 5 + i));
    // Deterministic: the same call, the same seeds.
    expect(shardSeeds(5, 53, { index: 3, count: n })).toEqual(all[2]);
  });

  it('re-checks every n-th seed of the shard, the first included', () => {
    expect(exploreJobs(options({ seeds: 12, recheckEvery: 5 })).filter((j) => j.recheck).map((j) => j.seed)).toEqual([1, 6, 11]);
    expect(exploreJobs(options({ seeds: 12, shard: { index: 2, count: 2 }, recheckEvery: 2 })).filter((j) => j.recheck).map((j) => j.seed)).toEqual([2, 6, 10]);
    expect(exploreJobs(options({ seeds: 4, recheckEvery: 0 })).some((j) => j.recheck)).toBe(false);
  });
});

describe('explore: replay lines', () => {
  it('a verdict failure without harness faults replays with the demo; params, --chaos and --faults when set', () => {
    expect(replayCommand(outcome({ scenario: 'kernel', seed: 2 }))).toBe('npm run demo -- kernel --seed 2');
    expect(replayCommand(outcome({ scenario: 'preempt-deadlock', seed: 17, params: { ordering: 'none' }, chaos: true, faults: { type: 'default' } }))).toBe(
      'npm run demo -- preempt-deadlock --seed 17 --ordering none --chaos --faults',
    );
  });

  it('a broken invariant or a faulted run replays with a one-seed explore naming the faults (quoted for the shell)', () => {
    const violations = [{ invariant: 'no-leak', reason: '1 object(s) alive' }];
    expect(replayCommand(outcome({ scenario: 'kernel', seed: 4, violations }))).toBe('npm run explore -- --scenario kernel --first-seed 4 --seeds 1');
    expect(replayCommand(outcome({ seed: 3, faults: { type: 'site', kind: 'alloc', site: 'drm_dep_job_init' } }))).toBe(
      'npm run explore -- --scenario every-third --first-seed 3 --seeds 1 --faults alloc@drm_dep_job_init',
    );
    expect(replayCommand(outcome({ seed: 3, faults: { type: 'site', kind: 'alloc', site: "submit: grow it's array" } }))).toBe(
      "npm run explore -- --scenario every-third --first-seed 3 --seeds 1 --faults 'alloc@submit: grow it'\\''s array'",
    );
    expect(replayCommand(outcome({ seed: 5, faults: { type: 'kind', kind: 'kill' }, chaos: true }))).toBe('npm run explore -- --scenario every-third --first-seed 5 --seeds 1 --chaos --faults kill');
  });

  it('formats a table of outcomes and one replay line per failing run, capped unless asked', () => {
    const outcomes = Array.from({ length: 30 }, (_, i) => {
      const seed = i + 1;
      const ok = seed % 3 !== 0;
      return outcome({ seed, ok, outcome: ok ? 'all fences signalled' : 'deadlock', detail: ok ? 'fine' : 'stuck', hash: `h${seed % 2}` });
    });
    const lines = formatExplore(outcomes, colors, { maxReplays: 4 });
    const text = lines.join('\n');
    expect(text).toMatch(/✔ all fences signalled\s+20\s+67%\s+2\s+0\s+1, 2, 4, 5, 7, 8, 10, 11, … \(12 more\)/);
    expect(text).toMatch(/✘ deadlock\s+10\s+33%/);
    expect(text).toContain('10 failing run(s) of 30; replay each with:');
    const replays = lines.filter((l) => l.includes('npm run demo --'));
    expect(replays.map((l) => /--seed (\d+)/.exec(l)![1])).toEqual(['3', '6', '9', '12']);
    expect(text).toContain('… 6 more (--all-failures lists every one)');
    const all = formatExplore(outcomes, colors, { maxReplays: Infinity }).filter((l) => l.includes('npm run demo --'));
    expect(all).toHaveLength(10);
    expect(all[0]).toMatch(/^ {2}npm run demo -- every-third --seed 3 +# deadlock: stuck$/);
  });

  it('a run with a good verdict but a broken invariant fails, with the invariant as the reason', () => {
    const lines = formatExplore([outcome({ seed: 1 }), outcome({ seed: 2, faults: { type: 'site', kind: 'alloc', site: 'x' }, violations: [{ invariant: 'credits-returned', reason: 'q ends with 1 credit(s) never returned' }] })], colors);
    const text = lines.join('\n');
    expect(text).toMatch(/✔ all fences signalled\s+2\s+100%\s+1\s+1/);
    expect(text).toContain('1 failing run(s) of 2');
    expect(text).toMatch(/--first-seed 2 --seeds 1 --faults alloc@x +# \[faults alloc@x\] credits-returned: q ends with 1 credit\(s\) never returned$/m);
  });

  it('says so when nothing failed', () => {
    const lines = formatExplore([outcome({ seed: 1, outcome: 'completed', detail: '' })], colors);
    expect(lines.at(-1)).toBe('No failures in 1 run(s); every invariant held.');
  });
});

describe('explore: worker threads', () => {
  it('runs every seed of the shard on workers and returns the outcomes in seed order', async () => {
    const progress: number[] = [];
    const out = await explore(options({ seeds: 12, workers: 3 }), (done, total) => {
      expect(total).toBe(12);
      progress.push(done);
    });
    expect(out.map((o) => o.seed)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(out.filter((o) => !o.ok).map((o) => o.seed)).toEqual([3, 6, 9, 12]);
    expect(out.find((o) => o.seed === 6)).toMatchObject({ outcome: 'deadlock', detail: 'seed 6 is a multiple of 3', hash: 'hash-0-a' });
    expect(progress).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  }, 60_000);

  it('a shard runs only its seeds; params reach the scenario', async () => {
    const out = await explore(options({ seeds: 12, shard: { index: 2, count: 3 }, params: { mode: 'b' } }));
    expect(out.map((o) => o.seed)).toEqual([2, 5, 8, 11]);
    expect(out.map((o) => o.hash)).toEqual(['hash-0-b', 'hash-1-b', 'hash-0-b', 'hash-1-b']);
  }, 60_000);

  it('a scenario that throws is an error outcome, not a crash', async () => {
    const out = await explore(options({ scenario: 'throws', seeds: 4, workers: 2 }));
    expect(out.map((o) => [o.seed, o.ok, o.outcome])).toEqual([
      [1, false, 'error'],
      [2, true, 'all fences signalled'],
      [3, false, 'error'],
      [4, true, 'all fences signalled'],
    ]);
    expect(out[0]!.detail).toBe('boom 1');
  }, 60_000);

  it('a trace that differs between two runs of the same seed breaks same-trace on the re-checked seeds', async () => {
    const out = await explore(options({ scenario: 'nondeterministic', seeds: 4, recheckEvery: 2 }));
    expect(out.map((o) => [o.seed, o.rechecked, o.violations.map((v) => v.invariant)])).toEqual([
      [1, true, ['same-trace']],
      [2, false, []],
      [3, true, ['same-trace']],
      [4, false, []],
    ]);
  }, 60_000);

  it('on the real registry (TypeScript source in the worker): the kernel scenario gives what it gives in-process', async () => {
    const out = await explore({ scenario: 'kernel', seeds: 6, firstSeed: 1, shard: { index: 1, count: 1 }, faults: { type: 'off' }, params: {}, workers: 2 });
    const inProcess = [];
    for (let seed = 1; seed <= 6; seed++) {
      const r = (await kernelScenario.run({ seed, log: () => undefined, colors }))!;
      inProcess.push({ seed, ok: r.verdict.ok, outcome: r.verdict.outcome, hash: r.traceHash });
    }
    expect(out.map((o) => ({ seed: o.seed, ok: o.ok, outcome: o.outcome, hash: o.hash }))).toEqual(inProcess);
    expect(out.some((o) => o.outcome === 'deadlock')).toBe(true); // seed 2 deadlocks (kernel.test.ts)
    // Its lockdep splats and a deadlocked seed's leaks are what it demonstrates: no violation.
    expect(out.flatMap((o) => o.violations)).toEqual([]);
  }, 60_000);

  it('conformance/<driver> runs the conformance kit with that adapter in the worker: unfaulted, then with allocation failures', async () => {
    const out = await explore({ scenario: 'conformance/amdxdna', seeds: 1, firstSeed: 2, shard: { index: 1, count: 1 }, faults: { type: 'matrix', kinds: ['alloc', 'kill'] }, params: {}, workers: 1, recheckEvery: 0 });
    expect(out.map((o) => [o.seed, o.faults, o.outcome, o.violations])).toEqual([
      [2, { type: 'none' }, 'conformance passed', []],
      [2, { type: 'kind', kind: 'alloc' }, 'conformance passed', []],
    ]);
    expect(out[0]!.unsupported).toEqual(['kill']);
    expect(out[0]!.detail).toMatch(/^\d+\/\d+ check\(s\) passed$/);
  }, 60_000);

  it('the fault matrix on a real scenario: a recording run, then one run per allocation site reached, each failing that site once', async () => {
    const out = await explore({ scenario: 'teardown-under-load', seeds: 1, firstSeed: 1, shard: { index: 1, count: 1 }, faults: { type: 'matrix', kinds: ['alloc', 'kill'] }, params: {}, workers: 1 });
    const [first, ...faulted] = out;
    expect(first!.faults).toEqual({ type: 'none' });
    expect(first!.armed).toBe(2); // the sync and the async variant
    expect(first!.sites!.alloc).toContain('drm_dep_job_init');
    expect(first!.unsupported).toEqual(['kill']);
    expect(faulted.map((o) => o.faults)).toEqual(first!.sites!.alloc!.map((site) => ({ type: 'site', kind: 'alloc', site })));
    for (const o of faulted) {
      expect(o.injected).toBeGreaterThan(0);
      expect(o.violations).toEqual([]);
      expect(o.hash).not.toBe(first!.hash);
    }
  }, 60_000);
});
