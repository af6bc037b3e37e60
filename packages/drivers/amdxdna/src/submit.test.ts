import { describe, expect, it } from 'vitest';
import { ErtCmdState } from './uapi.js';
import { getCmdState } from './hwctx.js';
import { client, cmdBo, setup, shutdownReports } from './__fixtures__/setup.js';

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
      for (const s of seqs) expect((await f.waitCmd({ hwctx: ctx, seq: s })).status).toBe(1);
      expect(done).toEqual([1n, 2n, 3n]);
      for (const c of cmds) expect(getCmdState(f.gem.lookup(c)!)).toBe(ErtCmdState.COMPLETED);
      expect(hw.stats).toMatchObject({ submitted: 3, completed: 3, errors: 0 });
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});
