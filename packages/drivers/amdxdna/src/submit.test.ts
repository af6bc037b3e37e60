import { describe, expect, it } from 'vitest';
import { DmaResvUsage } from '@dep/dma-resv';
import { DRM_TIMEOUT_INFINITE } from '@dep/drm';
import { AmdxdnaBoType, ErtCmdState, HWCTX_MAX_CMDS } from './uapi.js';
import { getCmdState } from './hwctx.js';
import { client, cmdBo, errnoOf, setup, shutdownReports } from './__fixtures__/setup.js';

describe('submit', () => {
  it('commands complete in order; seq numbers 1, 2, 3; the command BOs read COMPLETED', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const cmds = [await cmdBo(f, 5), await cmdBo(f, 1), await cmdBo(f, 3)];
      const seqs: bigint[] = [];
      for (const c of cmds) seqs.push((await f.execCmd({ hwctx: ctx, cmdHandles: c, cmdCount: 1 })).seq);
      expect(seqs).toEqual([1n, 2n, 3n]);
      const hw = f.hwctxs.lookup(ctx)!;
      const done: bigint[] = [];
      for (const s of seqs) {
        const fence = hw.outFence(s)!;
        fence.addCallback(() => done.push(s));
        fence.put();
      }
      for (const s of seqs) await f.waitCmd({ hwctx: ctx, seq: s });
      expect(done).toEqual([1n, 2n, 3n]);
      for (const c of cmds) expect(getCmdState(f.gem.lookup(c)!)).toBe(ErtCmdState.COMPLETED);
      expect(hw.stats).toMatchObject({ submitted: 3, completed: 3, errors: 0 });
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('out-fence', () => {
  it('is the timeline point at seq of the context syncobj, and WRITE in every argument BO resv', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx, syncobj } = await client(dev);
      const { handle: arg } = await f.createBo({ size: 8192n, type: AmdxdnaBoType.SHMEM });
      const c1 = await cmdBo(f, 4);
      const c2 = await cmdBo(f, 4);
      await f.execCmd({ hwctx: ctx, cmdHandles: c1, cmdCount: 1, args: [arg] });
      const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: c2, cmdCount: 1, args: [arg] });
      expect(seq).toBe(2n);
      const hw = f.hwctxs.lookup(ctx)!;
      const out = hw.outFence(2n)!;
      const inResv = f.gem.lookup(arg)!.resv.getFences(DmaResvUsage.WRITE);
      expect(inResv).toContain(out);
      for (const x of inResv) x.put();
      expect(out.isSignaled()).toBe(false);
      const t0 = rt.now();
      const r = await f.syncobjTimelineWait({ handles: [syncobj], points: [2n], timeoutNsec: DRM_TIMEOUT_INFINITE });
      expect(r.firstSignaled).toBe(0);
      expect(rt.now()).toBeGreaterThan(t0);
      expect(out.getStatus()).toBe(1);
      expect((await f.syncobjQuery({ handles: [syncobj] })).points).toEqual([2n]);
      out.put();
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('job_sem', () => {
  it('blocks the fifth submitter until a command completes; an aborted down changes nothing (EINTR)', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const hw = f.hwctxs.lookup(ctx)!;
      const cmds: number[] = [];
      for (let i = 0; i < HWCTX_MAX_CMDS + 2; i++) cmds.push(await cmdBo(f, 10));
      for (let i = 0; i < HWCTX_MAX_CMDS; i++) await f.execCmd({ hwctx: ctx, cmdHandles: cmds[i]!, cmdCount: 1 });
      expect(hw.sem.count).toBe(0);
      let fifth: { seq: bigint; at: number } | null = null;
      const t = rt.spawn('fifth', async () => {
        const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: cmds[HWCTX_MAX_CMDS]!, cmdCount: 1 });
        fifth = { seq, at: rt.now() };
      });
      const ac = new AbortController();
      let sixth: string | null = null;
      const t6 = rt.spawn('sixth', async () => {
        sixth = await errnoOf(f.execCmd({ hwctx: ctx, cmdHandles: cmds[HWCTX_MAX_CMDS + 1]!, cmdCount: 1 }, { signal: ac.signal }));
      });
      await rt.yield();
      expect(fifth).toBeNull();
      expect(hw.sem.waiters).toBe(2);
      ac.abort();
      await t6.join();
      expect(sixth).toBe('EINTR');
      expect(hw.sem.waiters).toBe(1);
      expect(hw.nextSeq).toBe(BigInt(HWCTX_MAX_CMDS + 1));
      await f.waitCmd({ hwctx: ctx, seq: 1n });
      const firstDone = rt.now();
      await t.join();
      expect(fifth).not.toBeNull();
      expect(fifth!.seq).toBe(BigInt(HWCTX_MAX_CMDS + 1));
      expect(fifth!.at).toBe(firstDone);
      await f.waitCmd({ hwctx: ctx, seq: fifth!.seq });
      expect(hw.sem.count).toBe(HWCTX_MAX_CMDS);
      expect(hw.stats).toMatchObject({ submitted: HWCTX_MAX_CMDS + 1, completed: HWCTX_MAX_CMDS + 1 });
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('argument BOs', () => {
  it('the same BO twice: one resv, one fence slot, the out-fence once', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const { handle: arg } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.SHMEM });
      const { handle: arg2 } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.DEV });
      const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: await cmdBo(f, 1), cmdCount: 1, args: [arg, arg2, arg] });
      const out = f.hwctxs.lookup(ctx)!.outFence(seq)!;
      for (const h of [arg, arg2]) {
        const fences = f.gem.lookup(h)!.resv.getFences(DmaResvUsage.BOOKKEEP);
        expect(fences).toEqual([out]);
        for (const x of fences) x.put();
      }
      await f.waitCmd({ hwctx: ctx, seq });
      out.put();
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});
