import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Runtime, WwAcquireCtx, WwClass, WwMutex } from './index.js';

interface CtxSpec {
  readonly order: readonly number[];
  readonly delays: readonly number[];
  readonly start: number;
}

async function runWaitDie(n: number, specs: readonly CtxSpec[], seed: number) {
  const rt = new Runtime({ chaos: true, seed });
  const cls = new WwClass('prop_ww');
  const locks = Array.from({ length: n }, (_, i) => new WwMutex(rt, cls, `obj${i}`));
  const holder: Array<WwAcquireCtx | null> = locks.map(() => null);
  const waitingOn = new Map<WwAcquireCtx, number>();
  const violations: string[] = [];
  let deadlks = 0;
  const acquired = (ctx: WwAcquireCtx, i: number): void => {
    if (holder[i] !== null) violations.push(`obj${i} held by #${holder[i]!.stamp} and #${ctx.stamp}`);
    holder[i] = ctx;
  };
  const released = (i: number): void => {
    holder[i] = null;
  };
  const handles = specs.map((spec, k) =>
    rt.spawn(`ctx${k}`, async () => {
      await rt.sleep(spec.start);
      const ctx = new WwAcquireCtx(rt, cls);
      const held = new Set<number>();
      const unlockAll = (): void => {
        for (const i of held) {
          released(i);
          locks[i]!.unlock();
        }
        held.clear();
      };
      retry: for (;;) {
        for (let j = 0; j < spec.order.length; j++) {
          const i = spec.order[j]!;
          if (held.has(i)) continue;
          waitingOn.set(ctx, i);
          const r = await locks[i]!.lock(ctx);
          waitingOn.delete(ctx);
          if (r === -35) {
            deadlks++;
            // wait-die: only the younger of a conflicting pair dies, and only when holding something
            if (held.size === 0) violations.push(`#${ctx.stamp} got EDEADLK holding nothing`);
            const h = locks[i]!.lockingCtx;
            const olderWaiting = [...waitingOn].some(([c, li]) => li === i && c.stamp < ctx.stamp);
            if (!((h !== null && h.stamp < ctx.stamp) || olderWaiting)) {
              violations.push(`#${ctx.stamp} got EDEADLK on obj${i} without an older holder or waiter (holder ${h?.stamp ?? 'none'})`);
            }
            unlockAll();
            await locks[i]!.lockSlow(ctx);
            acquired(ctx, i);
            held.add(i);
            continue retry;
          }
          if (r !== 0) violations.push(`unexpected ${r}`);
          acquired(ctx, i);
          held.add(i);
          const d = spec.delays[j] ?? 0;
          if (d > 0) await rt.sleep(d);
        }
        break;
      }
      ctx.done();
      await rt.sleep(1);
      unlockAll();
      ctx.fini();
    }),
  );
  const idle = await rt.runUntilIdle();
  return { idle, violations, finished: handles.every((h) => h.finished), deadlks, rt };
}

describe('ww_mutex wait-die', () => {
  it('property: contexts locking random subsets in random order all finish, only the younger dies, never two holders', async () => {
    let totalDeadlk = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            specs: fc.array(
              fc.record({
                order: fc.shuffledSubarray([...Array(n).keys()], { minLength: 1 }),
                delays: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
                start: fc.integer({ min: 0, max: 2 }),
              }),
              { minLength: 2, maxLength: 6 },
            ),
            seed: fc.integer({ min: 1, max: 0x7fffffff }),
          }),
        ),
        async ({ n, specs, seed }) => {
          const r = await runWaitDie(n, specs, seed);
          totalDeadlk += r.deadlks;
          expect(r.violations).toEqual([]);
          expect(r.idle.stalled).toEqual([]);
          expect(r.finished).toBe(true);
          expect(r.rt.reports.list).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
    expect(totalDeadlk).toBeGreaterThan(0);
  });
});
