import { describe, expect, it } from 'vitest';
import { DRM_TIMEOUT_INFINITE } from '@dep/drm';
import { client, fenceOf, qs, queue, setup, signal, teardown, wait, waitAll } from './__fixtures__/setup.js';

describe('group submit', () => {
  it('a batch across two queues of a group completes, each queue in order, signalled by seqno from the sync-update work', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const out = await rt.run(async () => {
      const { groupHandle } = await file.groupCreate({ vmId, priority: 1, queues: [queue(), queue()] });
      const s = [];
      for (let i = 0; i < 4; i++) s.push((await file.syncobjCreate()).handle);
      await file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 10, [signal(s[0]!)]), qs(1, 3, [signal(s[1]!)]), qs(0, 5, [signal(s[2]!)]), qs(1, 4, [signal(s[3]!)])] });
      const fences = s.map((h) => fenceOf(file, h));
      await waitAll(file, s);
      const t = rt.now();
      const r = fences.map((f) => ({ status: f.getStatus(), ts: f.timestamp() }));
      for (const f of fences) f.put();
      const st = await file.groupGetState({ groupHandle });
      return { r, t, st };
    });
    expect(out.r.map((x) => x.status)).toEqual([1, 1, 1, 1]);
    // q0: 10 then 5 ms; q1: 3 then 4 ms, in parallel on the group's two streams.
    const ts = out.r.map((x) => x.ts);
    expect(ts[0]!).toBeLessThan(ts[2]!);
    expect(ts[1]!).toBeLessThan(ts[3]!);
    expect(ts[2]! - ts[0]!).toBeCloseTo(5, 1);
    expect(out.st).toEqual({ state: 0, fatalQueues: 0 });
    expect(dev.stats.syncUpdates).toBeGreaterThan(0);
    const reports = await teardown(env, [file]);
    expect(reports).toEqual([]);
  });

  it('an empty stream takes no ring space and completes with the queue\'s last job; timeline out-syncs get their points', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const r = await rt.run(async () => {
      const { groupHandle } = await file.groupCreate({ vmId, queues: [queue()] });
      const g = file.groups.lookup(groupHandle)!;
      const tl = (await file.syncobjCreate()).handle;
      const wptr0 = g.queues[0]!.ring.wptr;
      await file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 20, [signal(tl, 1n)]), { ...qs(0, 0, [signal(tl, 2n)]), streamSize: 0 }] });
      await rt.sleep(1);
      const ringUse = g.queues[0]!.ring.wptr - wptr0;
      // A later submit waits on point 2 of the timeline.
      const out = (await file.syncobjCreate()).handle;
      await file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 1, [wait(tl, 2n), signal(out)])] });
      await file.syncobjTimelineWait({ handles: [tl], points: [2n], timeoutNsec: DRM_TIMEOUT_INFINITE });
      const t2 = rt.now();
      const { points } = await file.syncobjQuery({ handles: [tl] });
      await waitAll(file, [out]);
      return { ringUse, t2, points };
    });
    // One job's worth of ring (the call and the seqno write), none for the empty stream.
    expect(r.ringUse).toBe(4 + 6);
    expect(r.t2).toBeGreaterThanOrEqual(20);
    expect(r.t2).toBeLessThan(22);
    expect(r.points).toEqual([2n]);
    expect(await teardown(env, [file])).toEqual([]);
  });

  it('ring credits: 300 jobs on one 4 KiB ring wrap it many times; the queue holds back what does not fit and everything completes in order', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const r = await rt.run(async () => {
      const { groupHandle } = await file.groupCreate({ vmId, queues: [queue(4096)] });
      const g = file.groups.lookup(groupHandle)!;
      const out = (await file.syncobjCreate()).handle;
      let maxCredits = 0;
      for (let i = 0; i < 30; i++) {
        await file.groupSubmit({ groupHandle, queueSubmits: Array.from({ length: 10 }, (_, j) => qs(0, 1, i === 29 && j === 9 ? [signal(out)] : [])) });
        maxCredits = Math.max(maxCredits, g.queues[0]!.dq.creditsInFlight);
      }
      const f = fenceOf(file, out);
      await waitAll(file, [out]);
      const res = { seqno: f.seqno, status: f.getStatus(), maxCredits, limit: g.queues[0]!.dq.creditLimit, wraps: g.queues[0]!.ring.wptr / 1024, done: g.queues[0]!.doneSeqno };
      f.put();
      return res;
    });
    expect(r.status).toBe(1);
    expect(r.seqno).toBe(300n);
    expect(r.done).toBe(300n);
    expect(r.maxCredits).toBeLessThanOrEqual(r.limit);
    expect(r.wraps).toBeGreaterThan(2);
    expect(await teardown(env, [file])).toEqual([]);
  });
});
