import { describe, expect, it } from 'vitest';
import { client, fenceOf, qs, queue, setup, signal, teardown, waitAll } from './__fixtures__/setup.js';

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
});
