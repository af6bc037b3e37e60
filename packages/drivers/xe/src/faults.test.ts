// Fault injection: ENOMEM at every allocation an exec makes before its point of no return,
// and chaos seeds over a hang with two clients.
import { Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { BO_VA, client, errnoOf, execWithFence, setup, teardown } from './__fixtures__/setup.js';
import { XE_SYNC_FLAG_SIGNAL, XeEngineClass, XeSyncType } from './uapi.js';

function sitesTotal(rt: Runtime): Map<string, number> {
  return new Map(rt.faults.sites());
}

describe('fault injection', () => {
  it('ENOMEM at each allocation of an exec (job, chain node, user fence …): ENOMEM, nothing changed; then it works', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const { f, execQueueId } = await client(xe);
      const q = f.execQueues.lookup(execQueueId)!;
      const { handle: bin } = await f.syncobjCreate();
      const { handle: tl } = await f.syncobjCreate();
      let point = 1n;
      const args = () => ({
        execQueueId,
        numBatchBuffer: 1,
        address: BO_VA,
        units: 1,
        syncs: [
          { type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: bin },
          { type: XeSyncType.TIMELINE_SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: tl, timelineValue: point },
          { type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA + 8n, timelineValue: 9n },
        ],
      });
      // Probe: the allocations one exec makes inside the ioctl.
      const before = sitesTotal(rt);
      await f.exec(args());
      const after = sitesTotal(rt);
      const n = [...after].reduce((s, [site, c]) => s + c - (before.get(site) ?? 0), 0);
      const sites = [...after].filter(([site, c]) => c > (before.get(site) ?? 0)).map(([site]) => site);
      expect(sites).toEqual(expect.arrayContaining(['drm_dep_job_init', 'dma_fence_chain_alloc', 'dma_fence_user_fence_alloc']));
      point++;
      await rt.sleep(20);
      for (let nth = 1; nth <= n; nth++) {
        const snap = { s: xe.snapshot(), pushed: q.dep.stats.pushed, jobs: q.dep.liveJobs };
        const rule = rt.faults.failAlloc({ nth });
        const errno = await errnoOf(f.exec(args()));
        rt.faults.remove(rule);
        expect([nth, errno]).toEqual([nth, 'ENOMEM']);
        expect({ s: xe.snapshot(), pushed: q.dep.stats.pushed, jobs: q.dep.liveJobs }).toEqual(snap);
      }
      const ok = await execWithFence(f, execQueueId, 1);
      await ok.wait();
      expect(ok.getStatus()).toBe(1);
      ok.put();
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('chaos seeds: a hang next to a busy client — every fence signals, the hang errors, the rest completes, nothing leaks', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const { rt, xe } = setup({ seed, chaos: true, gpuConfig: { engines: { render: 1, copy: 1 }, defaults: { preemptTimeoutMs: 30 } } });
      await rt.run(async () => {
        const a = await client(xe);
        const b = await client(xe, seed % 2 === 0 ? XeEngineClass.RENDER : XeEngineClass.COPY);
        const qa = a.f.execQueues.lookup(a.execQueueId)!;
        xe.gpu.faults.hang({ site: `guc${qa.gucId}` });
        const fa = [];
        const fb = [];
        for (let i = 0; i < 3; i++) {
          fa.push(await execWithFence(a.f, a.execQueueId, 5 + rt.randomInt(10)));
          fb.push(await execWithFence(b.f, b.execQueueId, 5 + rt.randomInt(10)));
        }
        for (const x of [...fa, ...fb]) await x.wait();
        expect(fa[0]!.getStatus(), `seed ${seed}`).toBe(-62);
        expect(fa.slice(1).map((x) => x.getStatus()), `seed ${seed}`).toEqual([-125, -125]);
        expect(fb.map((x) => x.getStatus()), `seed ${seed}`).toEqual([1, 1, 1]);
        for (const x of [...fa, ...fb]) x.put();
        await teardown(rt, xe, [a.f, b.f]);
      });
      expect(rt.shutdown(), `seed ${seed}`).toEqual([]);
    }
  });
});
