// The RFC scenarios (rfc-designs B.2, B.3), in virtual time: which ordering design
// deadlocks (the wait-for graph reports the cycle, the 5 s user-fence TDR fires -ETIME and
// kills the VM, work is lost) and which completes with nothing lost.
import { Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { evictionScenario, foreignResvScenario, type ScenarioDesign, type ScenarioResult } from './scenarios.js';

function expectDeadlock(r: ScenarioResult, cycleReasons: RegExp[]): void {
  expect(r.deadlock).toBe(true);
  const text = [r.cycle!.message, ...r.cycle!.details].join('\n');
  for (const re of cycleReasons) expect(text).toMatch(re);
  expect(r.userFence).toEqual({ status: -62, signalledAt: 5000 }); // -ETIME from the TDR, 5 s after export
  expect(r.tdr).toEqual({ firedAt: 5000, fences: 1 });
  expect(r.vmKilled).toBe(true);
  expect(r.seqnos).toEqual({ expected: 10n, written: 2n, lost: 8n });
  expect(r.unsignalled).toEqual([]); // even so, every published fence signalled
  expect(r.reports.filter((x) => x.kind !== 'fence-cycle')).toEqual([]);
}

function expectSurvives(r: ScenarioResult): void {
  expect(r.deadlock).toBe(false);
  expect(r.userFence).toEqual({ status: 1, signalledAt: 50 });
  expect(r.tdr).toBe(null);
  expect(r.vmKilled).toBe(false);
  expect(r.seqnos).toEqual({ expected: 10n, written: 10n, lost: 0n });
  expect(r.unsignalled).toEqual([]);
  expect(r.reports).toEqual([]);
}

describe('B.2: eviction waits for the exported user fence while the preempt fence suspends its writer', () => {
  it('none: the wait-for graph reports the cycle; at 5 s the TDR signals U with -ETIME and kills the VM', async () => {
    const r = await evictionScenario({ design: 'none' });
    expectDeadlock(r, [
      /xe:vm0-q0-user-fence 1:5 waits on ttm:evict-bo-X \d+:1 \(vm0-q0 writes it only once resumed/,
      /ttm:evict-bo-X \d+:1 waits on xe:vm0-q0-user-fence 1:5 \(dma_resv_wait_timeout\(bo-X, bookkeep\)\)/,
    ]);
    expect(r.timeline.some((l) => /^\s+25ms {2}vm0-q0: preemption requested/.test(l))).toBe(true);
    expect(r.timeline.some((l) => /^\s+26ms {2}FENCE-CYCLE/.test(l))).toBe(true);
    expect(r.runtime.shutdown().filter((x) => x.kind === 'leak')).toEqual([]);
  });

  for (const design of ['slot', 'gate', 'manager'] as const) {
    it(`${design}: the queue writes U first (50 ms), then is preempted; eviction, rebind, resume; nothing lost`, async () => {
      const r = await evictionScenario({ design });
      expectSurvives(r);
      expect(r.timeline.some((l) => /^\s+50ms {2}vm0-q0: preemption requested/.test(l))).toBe(true);
      expect(r.runtime.shutdown().filter((x) => x.kind === 'leak')).toEqual([]);
    });
  }

  it('the surviving designs run clean under checks strict (no lockdep, WARN or cycle report at all)', async () => {
    for (const design of ['slot', 'gate', 'manager'] as const) {
      const r = await evictionScenario({ design, runtime: new Runtime({ checks: 'strict' }) });
      expect(r.seqnos.lost).toBe(0n);
    }
  });

  it('the AMD follow-up order (finishedBeforeSignal) survives too', async () => {
    expectSurvives(await evictionScenario({ design: 'gate', finishedBeforeSignal: true }));
    expectSurvives(await evictionScenario({ design: 'slot', finishedBeforeSignal: true }));
  });

  it('under chaos seeds (same-instant events in seeded order) the verdicts hold', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      for (const design of ['none', 'slot', 'gate', 'manager'] as const) {
        const r = await evictionScenario({ design, runtime: new Runtime({ checks: 'warn', chaos: true, seed }) });
        expect([design, seed, r.deadlock, r.seqnos.lost]).toEqual([design, seed, design === 'none', design === 'none' ? 8n : 0n]);
        expect(r.unsignalled).toEqual([]);
      }
    }
  });

  it('same seed, same timeline, byte for byte', async () => {
    const a = await evictionScenario({ design: 'none', seed: 3 });
    const b = await evictionScenario({ design: 'none', seed: 3 });
    expect(a.timeline).toEqual(b.timeline);
  });
});

describe('B.3: a kernel job in another client\'s resv waits on U through a syncobj', () => {
  for (const design of ['slot', 'none'] as const) {
    it(`${design}: P and U never share a resv, so nothing orders them — deadlock through bo-Z`, async () => {
      const r = await foreignResvScenario({ design });
      expectDeadlock(r, [
        /ttm:evict-bo-Z \d+:\d+ waits on client2:kernel-job \d+:1 \(dma_resv_wait_timeout\(bo-Z, write\)\)/,
        /client2:kernel-job \d+:1 waits on xe:vm0-q0-user-fence 1:5 \(kernel job of client 2 depends on the syncobj fence\)/,
        /xe:vm0-q0-user-fence 1:5 waits on ttm:evict-bo-Z/,
      ]);
      expect(r.timeline.some((l) => /client 2: kernel job client2:kernel-job \d+:1 done with error -62/.test(l))).toBe(true);
    });
  }

  for (const design of ['gate', 'manager'] as const) {
    it(`${design}: the preemption waits for the last exported fence wherever its waiters are; nothing lost`, async () => {
      const r = await foreignResvScenario({ design });
      expectSurvives(r);
      expect(r.timeline.some((l) => /^\s+52ms {2}client 2: kernel job client2:kernel-job \d+:1 done$/.test(l))).toBe(true);
      expect(r.runtime.shutdown().filter((x) => x.kind === 'leak')).toEqual([]);
    });
  }
});

describe('scenario options', () => {
  it('a bad design or a real-time runtime is EINVAL', async () => {
    await expect(evictionScenario({ design: 'fifo' as ScenarioDesign })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(evictionScenario({ design: 'gate', runtime: new Runtime({ executor: 'real' }) })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(foreignResvScenario({ design: 'gate', finishedBeforeSignal: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'EINVAL' });
  });
});
