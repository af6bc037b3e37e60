// The 60 s timeout (aie2_sched_job_timedout): destroy the firmware context, which aborts
// every pending message; re-create it; restart the queue. And teardown with jobs pending.
import { describe, expect, it } from 'vitest';
import { DRM_TIMEOUT_INFINITE } from '@dep/drm';
import { MemoryTraceSink } from '@dep/kernel';
import { ErtCmdState, HWCTX_MAX_TIMEOUT } from './uapi.js';
import { getCmdState } from './hwctx.js';
import { client, cmdBo, errnoOf, setup, shutdownReports } from './__fixtures__/setup.js';

const ETIMEDOUT = -110;
const ECANCELED = -125;

describe('timeout', () => {
  it('a hang: at 60 s the context is re-created, the aborted jobs carry errors, later jobs complete, the other client is unaffected', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = await client(dev);
      const b = await client(dev);
      const hwA = a.f.hwctxs.lookup(a.ctx)!;
      const hwB = b.f.hwctxs.lookup(b.ctx)!;
      const oldFw = hwA.fw!;
      dev.npu.faults.hang({ site: hwA.name, nth: 1 });
      const cmdsA = [await cmdBo(a.f, 1), await cmdBo(a.f, 1), await cmdBo(a.f, 1), await cmdBo(a.f, 1)];
      for (const c of cmdsA.slice(0, 3)) await a.f.execCmd({ hwctx: a.ctx, cmdHandles: c, cmdCount: 1 });
      const outs = [hwA.outFence(1n)!, hwA.outFence(2n)!, hwA.outFence(3n)!];
      const t0 = rt.now();
      // B's commands run meanwhile, at their own pace.
      const cmdB = await cmdBo(b.f, 1);
      const { seq: sb } = await b.f.execCmd({ hwctx: b.ctx, cmdHandles: cmdB, cmdCount: 1 });
      await b.f.waitCmd({ hwctx: b.ctx, seq: sb });
      expect(getCmdState(b.f.gem.lookup(cmdB)!)).toBe(ErtCmdState.COMPLETED);
      expect(rt.now() - t0).toBeLessThan(1000);
      // A's first command hangs; the second and third wait in the mailbox behind it.
      await a.f.waitCmd({ hwctx: a.ctx, seq: 3n });
      expect(rt.now() - t0).toBeGreaterThanOrEqual(HWCTX_MAX_TIMEOUT);
      expect(outs.map((x) => x.getStatus())).toEqual([ETIMEDOUT, ECANCELED, ECANCELED]);
      for (const x of outs) x.put();
      expect(cmdsA.slice(0, 3).map((c) => getCmdState(a.f.gem.lookup(c)!))).toEqual([ErtCmdState.TIMEOUT, ErtCmdState.ABORT, ErtCmdState.ABORT]);
      // The context was re-created in firmware; later commands complete on it.
      await rt.sleep(1);
      expect(hwA.status).toBe('ready');
      expect(hwA.stats.resets).toBe(1);
      expect(hwA.fw).not.toBe(oldFw);
      expect(oldFw.state).toBe('destroyed');
      const { seq: s4 } = await a.f.execCmd({ hwctx: a.ctx, cmdHandles: cmdsA[3]!, cmdCount: 1 });
      expect(s4).toBe(4n);
      await a.f.waitCmd({ hwctx: a.ctx, seq: s4 });
      expect(getCmdState(a.f.gem.lookup(cmdsA[3]!)!)).toBe(ErtCmdState.COMPLETED);
      expect(hwA.stats).toMatchObject({ submitted: 4, completed: 4, errors: 3, resets: 1, cuConfigs: 2 });
      // B never noticed.
      expect(hwB.stats).toMatchObject({ submitted: 1, completed: 1, errors: 0, resets: 0 });
      const { seq: sb2 } = await b.f.execCmd({ hwctx: b.ctx, cmdHandles: cmdB, cmdCount: 1 });
      await b.f.waitCmd({ hwctx: b.ctx, seq: sb2 });
      expect(getCmdState(b.f.gem.lookup(cmdB)!)).toBe(ErtCmdState.COMPLETED);
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });

  it('a submitter blocked on job_sem behind a hang proceeds after the recovery and its command completes', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const hw = f.hwctxs.lookup(ctx)!;
      dev.npu.faults.hang({ site: hw.name, nth: 1 });
      const cmds: number[] = [];
      for (let i = 0; i < 5; i++) cmds.push(await cmdBo(f, 1));
      for (let i = 0; i < 4; i++) await f.execCmd({ hwctx: ctx, cmdHandles: cmds[i]!, cmdCount: 1 });
      const outs = [1n, 2n, 3n, 4n].map((s) => hw.outFence(s)!);
      const fifth = rt.spawn('fifth', async () => (await f.execCmd({ hwctx: ctx, cmdHandles: cmds[4]!, cmdCount: 1 })).seq);
      const seq = await fifth.join();
      expect(seq).toBe(5n);
      expect(rt.now()).toBeGreaterThanOrEqual(HWCTX_MAX_TIMEOUT);
      await f.waitCmd({ hwctx: ctx, seq });
      expect(getCmdState(f.gem.lookup(cmds[4]!)!)).toBe(ErtCmdState.COMPLETED);
      expect(outs.map((x) => x.getStatus())).toEqual([ETIMEDOUT, ECANCELED, ECANCELED, ECANCELED]);
      for (const x of outs) x.put();
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('teardown', () => {
  it('DESTROY_HWCTX with jobs pending: every fence signals (aborted), the syncobj handle stays, nothing leaks', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx, syncobj } = await client(dev);
      const hw = f.hwctxs.lookup(ctx)!;
      dev.npu.faults.hang({ site: hw.name, nth: 1 });
      for (let i = 0; i < 3; i++) await f.execCmd({ hwctx: ctx, cmdHandles: await cmdBo(f, 1), cmdCount: 1 });
      const fences = [hw.outFence(1n)!, hw.outFence(2n)!, hw.outFence(3n)!];
      await rt.sleep(5);
      expect(fences.map((x) => x.getStatus())).toEqual([0, 0, 0]);
      await f.destroyHwctx({ handle: ctx });
      expect(fences.map((x) => x.getStatus())).toEqual([ECANCELED, ECANCELED, ECANCELED]);
      expect(rt.now()).toBeLessThan(1000);
      expect(hw.status).toBe('destroyed');
      expect(hw.queue.released).toBe(true);
      expect(dev.npu.fw.contexts).toEqual([]);
      expect(await errnoOf(f.waitCmd({ hwctx: ctx, seq: 1n }))).toBe('EINVAL');
      expect(await errnoOf(f.destroyHwctx({ handle: ctx }))).toBe('EINVAL');
      const r = await f.syncobjTimelineWait({ handles: [syncobj], points: [3n], timeoutNsec: DRM_TIMEOUT_INFINITE });
      expect(r.firstSignaled).toBe(0);
      for (const x of fences) x.put();
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });

  it('closing the file destroys its contexts with commands in flight; the other client goes on', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = await client(dev);
      const b = await client(dev);
      const hwA = a.f.hwctxs.lookup(a.ctx)!;
      for (let i = 0; i < 4; i++) await a.f.execCmd({ hwctx: a.ctx, cmdHandles: await cmdBo(a.f, 50), cmdCount: 1 });
      const last = hwA.outFence(4n)!;
      const { seq } = await b.f.execCmd({ hwctx: b.ctx, cmdHandles: await cmdBo(b.f, 1), cmdCount: 1 });
      await a.f.close();
      await a.f.whenReleased();
      expect(last.isSignaled()).toBe(true);
      expect(hwA.status).toBe('destroyed');
      last.put();
      await b.f.waitCmd({ hwctx: b.ctx, seq });
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('teardown races', () => {
  it('a submitter sleeping on job_sem when the context is destroyed gets EINVAL; nothing leaks', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const hw = f.hwctxs.lookup(ctx)!;
      dev.npu.faults.hang({ site: hw.name, nth: 1 });
      for (let i = 0; i < 4; i++) await f.execCmd({ hwctx: ctx, cmdHandles: await cmdBo(f, 1), cmdCount: 1 });
      const c5 = await cmdBo(f, 1);
      let r: string | null = 'pending';
      const t = rt.spawn('blocked', async () => {
        r = await errnoOf(f.execCmd({ hwctx: ctx, cmdHandles: c5, cmdCount: 1 }));
      });
      await rt.sleep(1);
      expect(r).toBe('pending');
      await f.destroyHwctx({ handle: ctx });
      await t.join();
      expect(r).toBe('EINVAL');
      expect(hw.stats).toMatchObject({ submitted: 4, completed: 4 });
      expect(f.gem.lookup(c5)!.refcount).toBe(1);
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('device lost', () => {
  it('every pending command signals -ENODEV at once; submits are EINVAL, new contexts ENODEV; teardown still works', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = await client(dev);
      const b = await client(dev);
      const hw = a.f.hwctxs.lookup(a.ctx)!;
      dev.npu.faults.hang({ site: hw.name, nth: 1 });
      for (let i = 0; i < 3; i++) await a.f.execCmd({ hwctx: a.ctx, cmdHandles: await cmdBo(a.f, 1), cmdCount: 1 });
      const outs = [1n, 2n, 3n].map((s) => hw.outFence(s)!);
      await rt.sleep(2);
      dev.npu.lose('surprise removal');
      await a.f.waitCmd({ hwctx: a.ctx, seq: 3n });
      expect(rt.now()).toBeLessThan(100);
      expect(outs.map((x) => x.getStatus())).toEqual([-19, -19, -19]);
      for (const x of outs) x.put();
      expect(hw.status).toBe('dead');
      expect(await errnoOf(a.f.execCmd({ hwctx: a.ctx, cmdHandles: await cmdBo(a.f, 1), cmdCount: 1 }))).toBe('EINVAL');
      expect(await errnoOf(b.f.createHwctx({ numTiles: 4 }))).toBe('ENODEV');
      await a.f.destroyHwctx({ handle: a.ctx });
      await dev.fini();
      expect(dev.contexts).toEqual([]);
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('tracepoints', () => {
  it('amdxdna:job and amdxdna:hwctx tell a job\'s life and the timeout recovery', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const hw = f.hwctxs.lookup(ctx)!;
      const sink = new MemoryTraceSink();
      const detach = rt.trace.attach(sink);
      dev.npu.faults.hang({ site: hw.name, nth: 1 });
      const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: await cmdBo(f, 1), cmdCount: 1 });
      await f.waitCmd({ hwctx: ctx, seq });
      await rt.sleep(1);
      detach();
      expect(sink.named('amdxdna:job').map((r) => [r.args.seq, r.args.what, r.args.status])).toEqual([
        [1n, 'submitted', undefined],
        [1n, 'sent to device', undefined],
        [1n, 'job timedout', undefined],
        [1n, 'signaled fence', ETIMEDOUT],
        [1n, 'job free', undefined],
      ]);
      expect(sink.named('amdxdna:hwctx').map((r) => r.args.op)).toEqual(['stop', 'config-cu', 'restart']);
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('suspend / resume', () => {
  it('suspend waits for the last command, destroys the firmware contexts; submits queue up; resume re-creates, reconfigures and runs them', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const hw = f.hwctxs.lookup(ctx)!;
      const c1 = await cmdBo(f, 10);
      const { seq: s1 } = await f.execCmd({ hwctx: ctx, cmdHandles: c1, cmdCount: 1 });
      const out1 = hw.outFence(s1)!;
      await dev.suspend();
      expect(out1.getStatus(), 'suspend waited for the last command').toBe(1);
      out1.put();
      expect(hw.status).toBe('suspended');
      expect(dev.npu.fw.contexts).toEqual([]);
      const c2 = await cmdBo(f, 1);
      const { seq: s2 } = await f.execCmd({ hwctx: ctx, cmdHandles: c2, cmdCount: 1 });
      const out2 = hw.outFence(s2)!;
      await rt.sleep(100);
      expect(out2.isSignaled()).toBe(false);
      await dev.resume();
      expect(hw.status).toBe('ready');
      expect(hw.stats.cuConfigs).toBe(2);
      await out2.wait();
      expect(out2.getStatus()).toBe(1);
      expect(getCmdState(f.gem.lookup(c2)!)).toBe(ErtCmdState.COMPLETED);
      out2.put();
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });

  it('a hung command: suspend gives up waiting after 2 s and aborts it', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const hw = f.hwctxs.lookup(ctx)!;
      dev.npu.faults.hang({ site: hw.name, nth: 1 });
      const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: await cmdBo(f, 1), cmdCount: 1 });
      const out = hw.outFence(seq)!;
      const t0 = rt.now();
      await dev.suspend();
      expect(rt.now() - t0).toBeGreaterThanOrEqual(2000);
      await out.wait();
      expect(out.getStatus()).toBe(ECANCELED);
      out.put();
      await dev.resume();
      const { seq: s2 } = await f.execCmd({ hwctx: ctx, cmdHandles: await cmdBo(f, 1), cmdCount: 1 });
      await f.waitCmd({ hwctx: ctx, seq: s2 });
      expect(hw.stats).toMatchObject({ completed: 2, errors: 1, resets: 0 });
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});
