// Priority 1: device open, VM/BO/exec queue, exec with in/out syncs, completion by the
// LRC seqno interrupt, async teardown waiting for the GuC's deregister reply.
import { MemoryTraceSink } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { DmaFenceArray, unwrapForEach } from '@dep/dma-fence';
import { BO_VA, client, errnoOf, execWithFence, setup, teardown } from './__fixtures__/setup.js';
import { XeEngineClass, XeSyncType, XE_SYNC_FLAG_SIGNAL } from './uapi.js';

describe('exec', () => {
  it('jobs complete in order, out-syncs (binary and timeline) signalled, the ring wrote each seqno', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const { f, execQueueId } = await client(xe);
      const q = f.execQueues.lookup(execQueueId)!;
      expect(q.state.registered).toBe(true);
      const fences = [];
      for (let i = 0; i < 3; i++) fences.push(await execWithFence(f, execQueueId, 2));
      const { handle: tl } = await f.syncobjCreate();
      await f.exec({ execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1, syncs: [{ type: XeSyncType.TIMELINE_SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: tl, timelineValue: 7n }] });
      expect(fences.map((x) => x.isSignaled())).toEqual([false, false, false]);
      for (const x of fences) expect(await x.waitTimeout(1000)).toBeGreaterThan(0);
      expect(fences.map((x) => x.getStatus())).toEqual([1, 1, 1]);
      expect(fences[0]!.timestamp()).toBeLessThan(fences[1]!.timestamp());
      expect(fences[1]!.timestamp()).toBeLessThan(fences[2]!.timestamp());
      expect(fences.map((x) => x.seqno)).toEqual([1n, 2n, 3n]);
      await f.syncobjTimelineWait({ handles: [tl], points: [7n], timeoutNsec: BigInt(1e9) * 10n + BigInt(Math.round(rt.now() * 1e6)), flags: 0 });
      expect((await f.syncobjQuery({ handles: [tl] })).points).toEqual([7n]);
      expect(xe.gpu.memory.read64(q.seqnoAddr)).toBe(4n);
      expect(q.state.enabled).toBe(true);
      expect(q.state.pendingEnable).toBe(false);
      for (const x of fences) x.put();
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('in-syncs are dependencies: the job waits for another queue\'s fence; the VM resv gets the finished fence (BOOKKEEP)', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe);
      const { handle: s } = await a.f.syncobjCreate();
      await a.f.exec({ execQueueId: a.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 20, syncs: [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: s }] });
      const fa = a.f.syncobjs.lookup(s)!.fenceGet()!;
      // Move the fence to b's syncobj through a sync_file, as a compositor would.
      const { fd } = await a.f.syncobjHandleToFd({ handle: s, flags: 1 });
      const { handle: sb } = await b.f.syncobjCreate();
      await b.f.syncobjFdToHandle({ fd, handle: sb, flags: 1 });
      fd.close();
      const { handle: outb } = await b.f.syncobjCreate();
      await b.f.exec({ execQueueId: b.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1, syncs: [{ type: XeSyncType.SYNCOBJ, flags: 0, handle: sb }, { type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: outb }] });
      const fb = b.f.syncobjs.lookup(outb)!.fenceGet()!;
      const vmB = b.f.vms.lookup(b.vmId)!;
      const inResv = vmB.resv.getFences(3);
      expect(inResv.includes(fb)).toBe(true);
      for (const x of inResv) x.put();
      await fb.wait();
      expect(fa.isSignaled()).toBe(true);
      expect(fb.timestamp()).toBeGreaterThanOrEqual(fa.timestamp());
      fa.put();
      fb.put();
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('async teardown: destroy returns at once; the GuC id comes back only after the deregister-done G2H', async () => {
    const { rt, xe } = setup({ gpuConfig: { engines: { render: 1 }, g2hLatencyMs: 2, h2gLatencyMs: 1 } });
    await rt.run(async () => {
      const { f, execQueueId } = await client(xe);
      const q = f.execQueues.lookup(execQueueId)!;
      const done = await execWithFence(f, execQueueId, 1);
      await done.wait();
      done.put();
      await rt.sleep(10); // the enable's sched-done G2H
      expect(q.state.pendingEnable).toBe(false);
      const sink = new MemoryTraceSink();
      const detach = rt.trace.attach(sink);
      const free = xe.freeGucIds;
      await f.execQueueDestroy({ execQueueId });
      expect(q.released, 'destroy does not wait for the firmware').toBe(false);
      expect(xe.freeGucIds).toBe(free);
      expect(xe.gpu.fw.contextIds()).toContain(q.gucId);
      expect(await q.dep.waitReleased({ timeout: 1000 })).toBe(true);
      detach();
      expect(q.released).toBe(true);
      expect(xe.freeGucIds).toBe(free + 1);
      expect(xe.gpu.fw.contextIds()).not.toContain(q.gucId);
      const fw = sink.named('hw:fw').map((r) => `${String(r.args.dir)}:${String(r.args.type)}`);
      expect(fw).toEqual(['h2g:disable-scheduling', 'g2h:sched-done', 'h2g:deregister', 'g2h:deregister-done']);
      expect(q.state.destroyed).toBe(true);
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('destroy with jobs on the hardware: cancelJob signals every one with -ECANCELED', async () => {
    const { rt, xe } = setup({ jobTimeoutMs: 10_000 });
    await rt.run(async () => {
      const { f, execQueueId } = await client(xe);
      const fences = [];
      for (let i = 0; i < 3; i++) fences.push(await execWithFence(f, execQueueId, 50));
      await rt.sleep(5);
      await f.execQueueDestroy({ execQueueId });
      for (const x of fences) await x.wait();
      expect(fences.map((x) => x.getStatus())).toEqual([-125, -125, -125]);
      for (const x of fences) x.put();
      await rt.sleep(100);
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('exec with no batch buffer', () => {
  it('signals the out-syncs with the in-fences and the queue\'s last fence (a composite), which becomes the last fence', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe);
      const q = a.f.execQueues.lookup(a.execQueueId)!;
      const job = await execWithFence(a.f, a.execQueueId, 10);
      const other = await execWithFence(b.f, b.execQueueId, 40);
      const { handle: sin } = await a.f.syncobjCreate();
      a.f.syncobjs.lookup(sin)!.replaceFence(other);
      const { handle: s2 } = await a.f.syncobjCreate();
      const r = await a.f.exec({ execQueueId: a.execQueueId, numBatchBuffer: 0, syncs: [{ type: XeSyncType.SYNCOBJ, handle: sin }, { type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: s2 }] });
      expect(r.seqno).toBe(0n);
      expect(q.dep.stats.pushed, 'no job').toBe(1);
      const composite = a.f.syncobjs.lookup(s2)!.fenceGet()!;
      expect(q.lastFence).toBe(composite);
      await job.wait();
      expect(composite.isSignaled(), 'waits for the in-fence too').toBe(false);
      await other.wait();
      expect(await composite.waitTimeout(10)).toBeGreaterThan(0);
      const { handle: s3 } = await a.f.syncobjCreate();
      await a.f.exec({ execQueueId: a.execQueueId, numBatchBuffer: 0, syncs: [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: s3 }] });
      const last = a.f.syncobjs.lookup(s3)!.fenceGet()!;
      expect(last, 'no in-fence: the last fence itself').toBe(composite);
      for (const x of [job, other, composite, last]) x.put();
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('exec with no batch buffer, composite after composite', () => {
  it('stays flat: the second composite holds the leaves of the first (dma_fence_array refuses containers)', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const a = await client(xe);
      const job = await execWithFence(a.f, a.execQueueId, 10);
      const { handle: sin } = await a.f.syncobjCreate();
      a.f.syncobjs.lookup(sin)!.replaceFence(job);
      for (let i = 0; i < 2; i++) await a.f.exec({ execQueueId: a.execQueueId, numBatchBuffer: 0, syncs: [{ type: XeSyncType.SYNCOBJ, handle: sin }] });
      const last = a.f.execQueues.lookup(a.execQueueId)!.lastFence!;
      const leaves = [...unwrapForEach(last)];
      expect(leaves.length).toBeGreaterThan(1);
      for (const leaf of leaves) expect(leaf instanceof DmaFenceArray, 'no array inside the composite').toBe(false);
      await job.wait();
      expect(await last.waitTimeout(10)).toBeGreaterThan(0);
      job.put();
      await teardown(rt, xe, [a.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('exec queue create failing after the GuC id was taken', () => {
  it('gives the id back once (the queue\'s teardown does it), so later queues get distinct ids', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const { f, vmId } = await client(xe);
      const free = xe.freeGucIds;
      const create = () => f.execQueueCreate({ vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] });
      const rule = rt.faults.failAlloc({ site: 'idr_alloc:exec_queue' });
      expect(await errnoOf(create())).toBe('ENOMEM');
      rule.remove();
      await rt.sleep(10);
      expect(xe.freeGucIds, 'the id is back, once').toBe(free);
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push(f.execQueues.lookup((await create()).execQueueId)!.gucId);
      expect(new Set(ids).size).toBe(3);
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('VM destroy with a dma-fence queue alive', () => {
  it('is allowed; the queue keeps the VM, closed: its execs fail with ECANCELED', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const { f, vmId, execQueueId } = await client(xe);
      await f.vmDestroy({ vmId });
      expect(f.execQueues.lookup(execQueueId)!.vm.closed).toBe(true);
      const r = await f.exec({ execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1 }).catch((e: { code: string }) => e.code);
      expect(r).toBe('ECANCELED');
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});
