// Chaos seeds: two clients submitting from several tasks, random command sizes, a random
// hang, a destroy in the middle, a suspend/resume, a device loss. Every out-fence
// signals, per-context completion follows seq order, nothing leaks, no lockdep or
// context report.
import { describe, expect, it } from 'vitest';
import { Prng, Runtime } from '@dep/kernel';
import type { Fence } from '@dep/dma-fence';
import { AmdxdnaDevice } from './device.js';
import { client, cmdBo } from './__fixtures__/setup.js';

describe('chaos seeds', () => {
  for (let seed = 1; seed <= 24; seed++) {
    it(`seed ${seed}`, async () => {
      const rt = new Runtime({ seed, chaos: true, checks: 'strict' });
      const dev = new AmdxdnaDevice({ runtime: rt, npuConfig: { columns: 4 }, timeoutMs: 500 });
      const prng = new Prng(seed * 7919);
      const outs: Array<{ ctx: string; seq: bigint; fence: Fence }> = [];
      await rt.run(async () => {
        const clients = [await client(dev, 1), await client(dev, 2)];
        const victim = clients[prng.int(2)]!;
        const hw = victim.f.hwctxs.lookup(victim.ctx)!;
        if (prng.int(2) === 0) dev.npu.faults.hang({ site: hw.name, nth: 1 + prng.int(4) });
        const tasks = [];
        for (const [i, c] of clients.entries()) {
          for (let t = 0; t < 2; t++) {
            tasks.push(
              rt.spawn(`submit${i}.${t}`, async () => {
                for (let k = 0; k < 5; k++) {
                  const h = c.f.hwctxs.lookup(c.ctx);
                  if (h === undefined) return;
                  try {
                    const cmd = await cmdBo(c.f, 1 + prng.int(20));
                    const { seq } = await c.f.execCmd({ hwctx: c.ctx, cmdHandles: cmd, cmdCount: 1 });
                    const fence = h.outFence(seq);
                    if (fence !== null) outs.push({ ctx: h.name, seq, fence });
                  } catch {
                    return; // the context was destroyed under us, or the device lost
                  }
                  if (prng.int(3) === 0) await rt.sleep(prng.int(5));
                }
              }),
            );
          }
        }
        if (prng.int(3) === 0) {
          tasks.push(
            rt.spawn('pm', async () => {
              await rt.sleep(prng.int(20));
              await dev.suspend();
              await rt.sleep(prng.int(20));
              await dev.resume();
            }),
          );
        }
        const lose = prng.int(4) === 0;
        if (lose) {
          tasks.push(
            rt.spawn('unplug', async () => {
              await rt.sleep(prng.int(40));
              dev.npu.lose('chaos');
            }),
          );
        }
        if (prng.int(2) === 0) {
          await rt.sleep(prng.int(30));
          await clients[0]!.f.destroyHwctx({ handle: clients[0]!.ctx });
        }
        for (const t of tasks) await t.join();
        for (const o of outs) await o.fence.wait();
        const byCtx = new Map<string, Array<{ seq: bigint; ts: number; ok: boolean }>>();
        for (const o of outs) {
          const list = byCtx.get(o.ctx) ?? [];
          list.push({ seq: o.seq, ts: o.fence.timestamp(), ok: o.fence.getStatus() === 1 });
          byCtx.set(o.ctx, list);
        }
        if (lose) expect(dev.contexts.every((c) => c.status === 'dead' || c.status === 'destroyed')).toBe(true);
        for (const list of byCtx.values()) {
          const ok = list.filter((x) => x.ok).sort((a, b) => (a.seq < b.seq ? -1 : 1));
          for (let i = 1; i < ok.length; i++) expect(ok[i]!.ts).toBeGreaterThanOrEqual(ok[i - 1]!.ts);
        }
        for (const o of outs) {
          expect(o.fence.isSignaled()).toBe(true);
          o.fence.put();
        }
        await dev.fini();
      });
      expect(outs.length).toBeGreaterThan(0);
      expect(rt.shutdown().map((r) => `${r.kind}: ${r.message}`)).toEqual([]);
    });
  }
});
