// The kit's self-test: a correct toy adapter passes every check; each deliberately broken
// toy is caught by the check that stands for the contract it breaks, with a reason that
// names the bug.
import { describe, expect, it } from 'vitest';
import { toyAdapter, type ToyBug } from './__fixtures__/toy-adapter.js';
import { formatConformanceReport, listChecks, runConformance, type CheckName } from './runner.js';

describe('runConformance', () => {
  it('a correct toy adapter passes every check (errors-propagate on hangs only), on plain and chaos seeds', async () => {
    for (const [seed, chaos] of [[1, false], [7, true]] as const) {
      const report = await runConformance(toyAdapter(), { seed, chaos });
      expect(report.results.filter((r) => r.status === 'fail').map((r) => `${r.name}: ${r.reason}`)).toEqual([]);
      expect(report.results.map((r) => r.name)).toEqual(listChecks().map((c) => c.name));
      expect(report.passed).toBe(true);
      expect(report.results.every((r) => r.status === 'pass')).toBe(true);
    }
  });

  const caught: Array<[ToyBug, CheckName, RegExp]> = [
    ['leak-fence', 'no-leaks', /leak: fence .+ of \S+\/q\d+ still has 1 reference\(s\) besides the kit's/],
    ['reorder', 'per-queue-order', /signalled at .* before job/],
    ['skip-validation', 'ioctl-mutations', /DRM_IOCTL_TOY_SUBMIT with .*expected EINVAL/],
    ['global-handles', 'cross-client', /DRM_IOCTL_TOY_SUBMIT with queue = \d+ .*succeeded — reached another client's object/],
    ['swallow-run-alloc-failure', 'fault-injection', /allocation \d+ of \d+ failed after the job's fence was published, yet the fence signalled with status 1/],
    ['kill-forgets-jobs', 'kill-under-load', /killed with a hung head job: fence .* did not signal within/],
  ];
  for (const [bug, check, reason] of caught) {
    it(`a toy that breaks the contract (${bug}) fails ${check}, saying why`, async () => {
      const report = await runConformance(toyAdapter(bug), { seed: 3, only: [check] });
      expect(report.passed).toBe(false);
      const r = report.results[0]!;
      expect(r.name).toBe(check);
      expect(r.status).toBe('fail');
      expect(r.reason).toMatch(reason);
      expect(formatConformanceReport(report)).toContain(`✗ ${check}: `);
    });
  }

  it("a failure carries the runtime's reports as evidence (the forgotten queue leaks)", async () => {
    const report = await runConformance(toyAdapter('kill-forgets-jobs'), { seed: 3, only: ['kill-under-load'] });
    expect(report.results[0]!.details.some((d) => /^leak in .*drm_dep_queue/.test(d))).toBe(true);
  });

  it('same seed, same report: a chaos run of a broken toy fails the same way twice, and another seed still fails', async () => {
    const run = (seed: number) => runConformance(toyAdapter('reorder'), { seed, chaos: true, only: ['per-queue-order', 'fences-signal'] });
    const a = await run(11);
    const b = await run(11);
    expect(b.results).toEqual(a.results);
    expect(a.results.map((r) => r.status)).toEqual(['pass', 'fail']);
    expect((await run(12)).results[1]!.status).toBe('fail');
  });

  it('a feature the adapter lacks is a skip with its reason, not a pass', async () => {
    const base = toyAdapter();
    const report = await runConformance({ ...base, features: { ...base.features, hangingJobs: false } }, { only: ['errors-propagate'] });
    expect(report.results.map((r) => [r.status, r.reason])).toEqual([['skip', 'the adapter can make neither failing nor hanging jobs']]);
    expect(report.passed).toBe(true);
    expect(formatConformanceReport(report)).toContain('- errors-propagate (skipped: ');
  });

  it('rejects bad options before running anything', async () => {
    await expect(runConformance(toyAdapter(), { seed: 1.5 })).rejects.toThrow(RangeError);
    await expect(runConformance(toyAdapter(), { jobs: 0 })).rejects.toThrow(/jobs 0/);
    await expect(runConformance(toyAdapter(), { faults: { probability: 2 } })).rejects.toThrow(/probability/);
    await expect(runConformance(toyAdapter(), { only: ['nope' as CheckName] })).rejects.toThrow(/unknown check nope/);
    await expect(runConformance({} as never)).rejects.toThrow(TypeError);
  });
});
