// The fence wait-for graph: cycle reports the moment an edge closes a cycle, edges dropped
// on signal, the stall watchdog with wait-for chains, nothing at all with checks off.
import { Runtime, isDepWarning } from '@dep/kernel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DmaFence, contextAlloc, fenceWaitsOf, fenceWaitsOn, removeFenceWait, type DmaFenceOps } from './index.js';

function timeline(rt: Runtime, driver: string, name: string): (seqno: bigint) => DmaFence {
  const ops: DmaFenceOps = { getDriverName: () => driver, getTimelineName: () => name };
  const ctx = contextAlloc(1, rt);
  return (seqno) => new DmaFence(ops, ctx, seqno, { runtime: rt });
}

describe('fence wait-for graph: cycles', () => {
  it('a 2-cycle is reported when the closing edge is added, naming each fence and reason', () => {
    const rt = new Runtime({ checks: 'warn' });
    const job = timeline(rt, 'xe', 'exec-queue-1');
    const preempt = timeline(rt, 'xe', 'preempt');
    const a = job(7n);
    const p = preempt(1n);
    fenceWaitsOn(p, a, 'preempt fence waits for the last exported job');
    expect(rt.reports.count('fence-cycle')).toBe(0);
    const w = fenceWaitsOn(a, p, 'job waits on the preempt fence in the resv');
    expect(w.cyclic).toBe(true);
    const reports = rt.reports.list.filter((r) => r.kind === 'fence-cycle');
    expect(reports).toHaveLength(1);
    const text = [reports[0]!.message, ...reports[0]!.details].join('\n');
    expect(text).toContain('xe:exec-queue-1 1:7');
    expect(text).toContain('xe:preempt 2:1');
    expect(text).toContain('(preempt fence waits for the last exported job)');
    expect(text).toContain('(job waits on the preempt fence in the resv)');
  });

  it('a 3-cycle through three timelines, under strict: the report throws at the closing edge', () => {
    const rt = new Runtime();
    const [x, y, z] = [timeline(rt, 'drv', 'x')(1n), timeline(rt, 'drv', 'y')(1n), timeline(rt, 'drv', 'z')(1n)];
    fenceWaitsOn(x, y, 'x needs y');
    fenceWaitsOn(y, z, 'y needs z');
    let err: unknown;
    try {
      fenceWaitsOn(z, x, 'z needs x');
    } catch (e) {
      err = e;
    }
    expect(isDepWarning(err)).toBe(true);
    const r = rt.reports.list.find((q) => q.kind === 'fence-cycle')!;
    expect(r.message).toMatch(/drv:z 3:1 -> drv:x 1:1 -> drv:y 2:1 -> drv:z 3:1/);
    expect(r.details.slice(0, 3)).toEqual([
      'drv:z 3:1 waits on drv:x 1:1 (z needs x)',
      'drv:x 1:1 waits on drv:y 2:1 (x needs y)',
      'drv:y 2:1 waits on drv:z 3:1 (y needs z)',
    ]);
  });

  it('a fence waiting on itself is a cycle of one', () => {
    const rt = new Runtime({ checks: 'warn' });
    const f = timeline(rt, 'd', 't')(1n);
    fenceWaitsOn(f, f, 'self');
    expect(rt.reports.list[0]!.details[0]).toBe('d:t 1:1 waits on d:t 1:1 (self)');
  });

  it('edges against the creation order are fine while acyclic, and the repaired order still finds cycles', () => {
    const rt = new Runtime({ checks: 'warn' });
    const t = timeline(rt, 'd', 't');
    const [a, b, c, d] = [t(1n), t(2n), t(3n), t(4n)];
    fenceWaitsOn(a, b, 'a-b'); // older waits on newer: the order is repaired
    fenceWaitsOn(b, c, 'b-c');
    fenceWaitsOn(d, a, 'd-a');
    fenceWaitsOn(c, t(5n), 'c-e');
    expect(rt.reports.count()).toBe(0);
    fenceWaitsOn(c, d, 'c-d'); // d -> a -> b -> c -> d
    const r = rt.reports.list.find((q) => q.kind === 'fence-cycle')!;
    expect(r.details.slice(0, 4)).toEqual([
      'd:t 1:3 waits on d:t 1:4 (c-d)',
      'd:t 1:4 waits on d:t 1:1 (d-a)',
      'd:t 1:1 waits on d:t 1:2 (a-b)',
      'd:t 1:2 waits on d:t 1:3 (b-c)',
    ]);
  });

  it('matches a reference cycle check on random edge sequences', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(7), fc.nat(7)), { maxLength: 40 }), (edges) => {
        const rt = new Runtime({ checks: 'warn' });
        const t = timeline(rt, 'd', 't');
        const fences = Array.from({ length: 8 }, (_, i) => t(BigInt(i)));
        const adj: number[][] = fences.map(() => []);
        const reaches = (from: number, to: number): boolean => {
          const seen = new Set<number>();
          const stack = [from];
          while (stack.length > 0) {
            const n = stack.pop()!;
            if (n === to) return true;
            if (seen.has(n)) continue;
            seen.add(n);
            stack.push(...adj[n]!);
          }
          return false;
        };
        for (const [w, e] of edges) {
          const before = rt.reports.count('fence-cycle');
          const closes = reaches(e, w);
          fenceWaitsOn(fences[w]!, fences[e]!, `${w}->${e}`);
          const reported = rt.reports.count('fence-cycle') > before;
          if (reported !== closes) return false;
          if (!closes) adj[w]!.push(e); // a reported edge stays outside the order
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('fence wait-for graph: edge lifetime', () => {
  it('edges go away when either fence signals, or with remove()', () => {
    const rt = new Runtime();
    const t = timeline(rt, 'd', 't');
    const [a, b, c] = [t(1n), t(2n), t(3n)];
    const ab = fenceWaitsOn(a, b, 'a-b');
    fenceWaitsOn(b, c, 'b-c');
    expect(fenceWaitsOf(a).map((w) => w.reason)).toEqual(['a-b']);
    c.signal();
    expect(fenceWaitsOf(b)).toEqual([]);
    removeFenceWait(ab);
    expect(ab.active).toBe(false);
    expect(fenceWaitsOf(a)).toEqual([]);
    // After removal the reverse edge is no cycle.
    fenceWaitsOn(b, a, 'b-a');
    expect(rt.reports.count()).toBe(0);
    b.signal();
    expect(fenceWaitsOf(b)).toEqual([]);
    // An edge to or from a signalled fence is not recorded.
    const late = fenceWaitsOn(a, b, 'late');
    expect(late.active).toBe(false);
    fenceWaitsOn(b, a, 'from signalled');
    expect(rt.reports.count()).toBe(0);
  });

  it('checks off: nothing is recorded, nothing reported', () => {
    const rt = new Runtime({ checks: 'off' });
    const t = timeline(rt, 'd', 't');
    const [a, b] = [t(1n), t(2n)];
    const w = fenceWaitsOn(a, b, 'x');
    fenceWaitsOn(b, a, 'y');
    expect(w.active).toBe(false);
    expect(w.waiter).toBeNull();
    expect(fenceWaitsOf(a)).toEqual([]);
    expect(rt.reports.count()).toBe(0);
  });

  it('bad arguments are EINVAL', () => {
    const rt = new Runtime();
    const a = timeline(rt, 'd', 't')(1n);
    const b = timeline(new Runtime(), 'd', 't')(1n);
    expect(() => fenceWaitsOn(a, b, 'x')).toThrow(/different runtimes/);
    expect(() => fenceWaitsOn(a, a, '')).toThrow(/non-empty string/);
    expect(() => fenceWaitsOn(a, {} as never, 'x')).toThrow(/must be fences/);
  });
});

describe('fence wait-for graph: the stall watchdog', () => {
  it('lists each waited-on unsignalled fence with its wait-for chain when nothing can run', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const job = timeline(rt, 'panthor', 'queue0');
    const hw = timeline(rt, 'panthor', 'csg-slot');
    const j1 = job(1n);
    const j2 = job(2n);
    const h = hw(9n);
    fenceWaitsOn(j2, j1, 'job dependency');
    fenceWaitsOn(j1, h, 'hardware fence of the job');
    const view = j2.publish();
    rt.spawn('waiter', () => view.wait());
    const idle = await rt.runUntilIdle();
    expect(idle.stalled).toHaveLength(1);
    const stall = rt.reports.list.find((r) => r.kind === 'stall')!;
    expect(stall).toBeDefined();
    const text = stall.details.join('\n');
    expect(text).toMatch(/fence panthor:queue0 1:2 \(published, unsignalled\) is waited on by waiter\/\d+ \(dma_fence_default_wait\)/);
    expect(text).toContain('panthor:queue0 1:2 waits on panthor:queue0 1:1 (job dependency)');
    expect(text).toContain('panthor:queue0 1:1 waits on panthor:csg-slot 2:9 (hardware fence of the job)');
    expect(text).toMatch(/panthor:csg-slot 2:9 waits on no recorded fence/);
  });

  it('says nothing about fences that signalled', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const t = timeline(rt, 'd', 't');
    const f = t(1n);
    const g = t(2n);
    rt.spawn('w1', () => f.wait());
    rt.spawn('w2', () => g.wait());
    rt.queueIrq(() => f.signal());
    await rt.runUntilIdle();
    const stall = rt.reports.list.find((r) => r.kind === 'stall')!;
    expect(stall.details.join('\n')).toContain('d:t 1:2');
    expect(stall.details.join('\n')).not.toContain('d:t 1:1 (');
  });
});
