// GT-reset escalation: a GuC that does not answer a schedule disable/enable or a
// deregistration within 5 s (XE_G2H_TIMEOUT) is a stuck GuC — the queue is banned and the
// GT reset (xe_gt_reset_async) recovers everything else. Replies are dropped with hw-sim's
// dropReply fault.
import { describe, expect, it } from 'vitest';
import { BO_VA, client, errnoOf, execWithFence, setup, teardown } from './__fixtures__/setup.js';
import { XE_G2H_TIMEOUT } from './exec-queue.js';
import { XeEngineClass } from './uapi.js';

const EIO = -5;
const ECANCELED = -125;

describe('GT-reset escalation', () => {
  it('TDR: the schedule disable of a hung job gets no sched-done ⇒ ban + GT reset after 5 s; the hung job -EIO, the one behind -ECANCELED; another client survives the reset', async () => {
    const { rt, xe } = setup({ gpuConfig: { engines: { render: 1, copy: 1 }, defaults: { preemptTimeoutMs: 50 } } });
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe, XeEngineClass.COPY);
      const qa = a.f.execQueues.lookup(a.execQueueId)!;
      const qb = b.f.execQueues.lookup(b.execQueueId)!;
      const warm = await execWithFence(b.f, b.execQueueId, 2);
      await warm.wait();
      xe.gpu.faults.hang({ site: `guc${qa.gucId}` });
      const t0 = rt.now();
      const hung = await execWithFence(a.f, a.execQueueId, 5);
      const behind = await execWithFence(a.f, a.execQueueId, 5);
      await rt.sleep(10); // the enable's sched-done arrives
      expect(qa.state.pendingEnable).toBe(false);
      xe.gpu.faults.dropReply({ site: 'guc:sched-done', nth: 1 }); // the TDR's disable
      await hung.wait();
      await behind.wait();
      expect(hung.getStatus()).toBe(EIO);
      expect(behind.getStatus()).toBe(ECANCELED);
      expect(hung.timestamp() - t0, 'job timeout, then the 5 s wait for the reply').toBeGreaterThanOrEqual(100 + XE_G2H_TIMEOUT);
      expect(xe.g2hTimeouts).toBe(1);
      expect(xe.gtResets).toBe(1);
      expect(qa.state.banned).toBe(true);
      expect(await errnoOf(a.f.exec({ execQueueId: a.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1 }))).toBe('ECANCELED');
      // b was re-registered by the reset and still works.
      expect(qb.state.banned).toBe(false);
      const after = await execWithFence(b.f, b.execQueueId, 3);
      await after.wait();
      expect(after.getStatus()).toBe(1);
      for (const x of [warm, hung, behind, after]) x.put();
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('TDR: an enable the GuC never answers (still pending at the timeout) ⇒ GT reset after 5 s more', async () => {
    const { rt, xe } = setup({ gpuConfig: { engines: { render: 1 } } });
    await rt.run(async () => {
      const a = await client(xe);
      const qa = a.f.execQueues.lookup(a.execQueueId)!;
      xe.gpu.faults.hang({ site: `guc${qa.gucId}` });
      xe.gpu.faults.dropReply({ site: 'guc:sched-done', nth: 1 }); // the first job's enable
      const hung = await execWithFence(a.f, a.execQueueId, 5);
      await rt.sleep(50);
      expect(qa.state.pendingEnable, 'the reply was lost').toBe(true);
      await hung.wait();
      expect(hung.getStatus()).toBe(EIO);
      expect(hung.timestamp()).toBeGreaterThanOrEqual(100 + XE_G2H_TIMEOUT);
      expect([xe.g2hTimeouts, xe.gtResets]).toEqual([1, 1]);
      hung.put();
      await teardown(rt, xe, [a.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  for (const [what, site] of [
    ['deregister-done', 'guc:deregister-done'],
    ['schedule disable\'s sched-done', 'guc:sched-done'],
  ] as const) {
    it(`teardown: the ${what} never arrives (5 s) ⇒ GT reset; the GuC forgot the context, so its id is free again; the other queue survives`, async () => {
      const { rt, xe } = setup({ gpuConfig: { engines: { render: 1, copy: 1 } } });
      await rt.run(async () => {
        const a = await client(xe);
        const b = await client(xe, XeEngineClass.COPY);
        const qa = a.f.execQueues.lookup(a.execQueueId)!;
        const qb = b.f.execQueues.lookup(b.execQueueId)!;
        for (const x of [await execWithFence(a.f, a.execQueueId, 2), await execWithFence(b.f, b.execQueueId, 2)]) {
          await x.wait();
          x.put();
        }
        const free = xe.freeGucIds;
        xe.gpu.faults.dropReply({ site, nth: 1 });
        const t0 = rt.now();
        await a.f.execQueueDestroy({ execQueueId: a.execQueueId });
        await qa.dep.waitReleased();
        expect(rt.now() - t0).toBeGreaterThanOrEqual(XE_G2H_TIMEOUT);
        expect(qa.released).toBe(true);
        expect([xe.g2hTimeouts, xe.gtResets]).toEqual([1, 1]);
        expect(xe.freeGucIds, 'the id went back to the pool').toBe(free + 1);
        await rt.sleep(1);
        expect(xe.gpu.fw.contextIds(), 'only b is registered after the reset').toEqual([qb.gucId]);
        const after = await execWithFence(b.f, b.execQueueId, 3);
        await after.wait();
        expect(after.getStatus()).toBe(1);
        after.put();
        await teardown(rt, xe, [a.f, b.f]);
      });
      expect(rt.shutdown()).toEqual([]);
    });
  }

  it('an async reset requested while a direct gtReset() runs is satisfied by it: the flush returns once that reset finished', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const a = await client(xe);
      let resetDoneAt = -1;
      rt.spawn('direct', async () => {
        await xe.gtReset();
        resetDoneAt = rt.now();
      });
      await rt.sleep(0);
      xe.gtResetAsync();
      await xe.flushGtReset();
      const flushedAt = rt.now();
      await rt.sleep(10);
      expect(xe.gtResets, 'one reset').toBe(1);
      expect(resetDoneAt).toBeGreaterThanOrEqual(0);
      expect(flushedAt).toBeGreaterThanOrEqual(resetDoneAt);
      const f = await execWithFence(a.f, a.execQueueId, 1);
      await f.wait();
      expect(f.getStatus()).toBe(1);
      f.put();
      await teardown(rt, xe, [a.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('gtResetAsync coalesces: requests while the worker is queued are one reset', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const a = await client(xe);
      const done: number[] = [];
      rt.spawn('r1', async () => {
        xe.gtResetAsync();
        await xe.flushGtReset();
        done.push(1);
      });
      rt.spawn('r2', async () => {
        xe.gtResetAsync();
        await xe.flushGtReset();
        done.push(2);
      });
      await rt.sleep(100);
      expect(done.sort()).toEqual([1, 2]);
      expect([xe.gtResetRequests, xe.gtResets]).toEqual([2, 1]);
      const f = await execWithFence(a.f, a.execQueueId, 1);
      await f.wait();
      expect(f.getStatus()).toBe(1);
      f.put();
      await teardown(rt, xe, [a.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});
