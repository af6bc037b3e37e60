// DmaFenceArray (kernel-api.md A2; rules B2, B6, B15): all-signal, first error wins,
// deferred signal through irq_work, the flat rule, deadline forwarding, ownership of the
// member references, iteration, INACTIVE and allocation failures.
import { DepError, DepWarning, Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import {
  ARRAY_LOCK_CLASS,
  DmaFence,
  DmaFenceArray,
  DmaFenceChain,
  contextAlloc,
  isDmaFenceArray,
  isDmaFenceContainer,
  toDmaFenceArray,
  type DmaFenceOps,
  type Fence,
} from './index.js';

const mockOps: DmaFenceOps = { getDriverName: () => 'mock', getTimelineName: () => 'mock' };

function fences(rt: Runtime, n: number): DmaFence[] {
  return Array.from({ length: n }, () => new DmaFence(mockOps, contextAlloc(1, rt), 1n, { runtime: rt }));
}

/** An array over references of its own to `members` (the test keeps its references). */
function arrayOf(rt: Runtime, members: Fence[], options?: { signalOnAny?: boolean }): DmaFenceArray {
  return DmaFenceArray.create(
    members.map((f) => f.get()),
    contextAlloc(1, rt),
    1n,
    options,
  );
}

describe('DmaFenceArray', () => {
  it('signals only when every member has, through irq_work (deferred, never under a member lock)', async () => {
    const rt = new Runtime();
    const m = fences(rt, 3);
    const array = arrayOf(rt, m);
    const seen: { context: string; locks: string[] }[] = [];
    expect(
      array.addCallback(() => {
        seen.push({ context: rt.context, locks: rt.current.held.map((h) => h.className) });
      }),
    ).toBe(true);
    m[0]!.signal();
    m[2]!.signal();
    expect(array.numPending).toBe(1);
    expect(array.isSignaled()).toBe(false);
    m[1]!.signal();
    // Counted down to 0 under m[1]'s lock: the signal itself is queued, not run there.
    expect(array.numPending).toBe(0);
    expect(array.testSignaledFlag()).toBe(false);
    expect(seen).toEqual([]);
    await rt.runUntilIdle();
    expect(array.testSignaledFlag()).toBe(true);
    expect(array.getStatus()).toBe(1);
    // The array's callbacks ran in irq context under the array's own lock only.
    expect(seen).toEqual([{ context: 'irq', locks: [ARRAY_LOCK_CLASS] }]);
    expect(rt.reports.count()).toBe(0);
  });

  it('the signaled op answers before signalling is enabled by counting signalled members', () => {
    const rt = new Runtime();
    const m = fences(rt, 2);
    const array = arrayOf(rt, m);
    m[0]!.signal();
    expect(array.isSignaled()).toBe(false);
    expect(array.testFlag(5 /* ENABLE_SIGNAL */)).toBe(false);
    m[1]!.signal();
    expect(array.isSignaled()).toBe(true);
    expect(array.testSignaledFlag()).toBe(true);
  });

  it('a member already signalled when signalling is enabled counts down at once; all signalled signals the array inline', () => {
    const rt = new Runtime();
    const m = fences(rt, 2);
    for (const f of m) f.signal();
    const array = arrayOf(rt, m);
    array.enableSwSignaling();
    expect(array.testSignaledFlag()).toBe(true);
    expect(array.numPending).toBe(0);
    // No callback reference left behind: only the creator's.
    expect(array.refcount).toBe(1);
  });

  it('first member error wins; later errors are ignored', async () => {
    const rt = new Runtime();
    const m = fences(rt, 3);
    const array = arrayOf(rt, m);
    array.enableSwSignaling();
    m[1]!.setError(-5); // -EIO
    m[1]!.signal();
    m[0]!.setError(-110); // -ETIMEDOUT
    m[0]!.signal();
    expect(array.getStatus(), 'status is 0 until the array signals').toBe(0);
    m[2]!.signal();
    await rt.runUntilIdle();
    expect(array.getStatus()).toBe(-5);
    expect(array.error).toBe(-5);
  });

  it('an error of a member signalled before enabling is propagated by enable_signaling', () => {
    const rt = new Runtime();
    const m = fences(rt, 2);
    m[0]!.setError(-125); // -ECANCELED
    m[0]!.signal();
    const array = arrayOf(rt, m);
    array.enableSwSignaling();
    m[1]!.signal();
    expect(array.isSignaled()).toBe(true);
    expect(array.getStatus()).toBe(-125);
  });

  it('as in the kernel, signalling through the signaled op (nothing enabled) does not see member errors', () => {
    const rt = new Runtime();
    const m = fences(rt, 2);
    m[0]!.setError(-5);
    for (const f of m) f.signal();
    const array = arrayOf(rt, m);
    expect(array.isSignaled()).toBe(true);
    expect(array.getStatus()).toBe(1);
  });

  it('signalOnAny (the dropped 5th argument) signals on the first member', async () => {
    const rt = new Runtime();
    const m = fences(rt, 3);
    const array = arrayOf(rt, m, { signalOnAny: true });
    expect(array.isSignaled()).toBe(false);
    array.enableSwSignaling();
    m[2]!.signal();
    await rt.runUntilIdle();
    expect(array.testSignaledFlag()).toBe(true);
    // The other callbacks still hold array references until their members signal.
    expect(array.refcount).toBe(3);
    m[0]!.signal();
    m[1]!.signal();
    expect(array.refcount).toBe(1);
    array.put();
    expect(m.map((f) => f.refcount)).toEqual([1, 1, 1]);
  });

  it('signalOnAny with a member already signalled at enable: signals inline, callbacks only on the members before it', () => {
    const rt = new Runtime();
    const m = fences(rt, 3);
    m[1]!.signal();
    const array = arrayOf(rt, m, { signalOnAny: true });
    array.enableSwSignaling();
    expect(array.testSignaledFlag()).toBe(true);
    // m[0] got a callback (holding a reference) before m[1] was found signalled; m[2] none.
    expect(array.refcount).toBe(2);
    m[2]!.signal();
    expect(array.refcount).toBe(2);
    m[0]!.signal();
    expect(array.refcount).toBe(1);
    expect(rt.reports.count()).toBe(0);
  });

  it('owns the member references: release puts every member; pending callbacks keep the array alive', async () => {
    const rt = new Runtime();
    const m = fences(rt, 2);
    const array = arrayOf(rt, m);
    expect(m.map((f) => f.refcount)).toEqual([2, 2]);
    array.enableSwSignaling();
    expect(array.refcount).toBe(3);
    array.put();
    expect(array.refcount, 'the member callbacks still hold the array').toBe(2);
    for (const f of m) f.signal();
    await rt.runUntilIdle();
    expect(array.refcount).toBe(0);
    expect(array.fences).toEqual([]);
    expect(m.map((f) => f.refcount)).toEqual([1, 1]);
    expect(rt.reports.count()).toBe(0);
  });

  it('forwards deadlines to every unsignalled member, not after the array signalled', async () => {
    const rt = new Runtime();
    const deadlines: [bigint, number][] = [];
    const dlOps: DmaFenceOps = {
      ...mockOps,
      setDeadline: (f, d) => {
        deadlines.push([f.context, d]);
      },
    };
    const m = [new DmaFence(dlOps, 11n, 1n, { runtime: rt }), new DmaFence(dlOps, 12n, 1n, { runtime: rt })];
    const array = arrayOf(rt, m);
    array.setDeadline(100);
    expect(deadlines).toEqual([
      [11n, 100],
      [12n, 100],
    ]);
    m[0]!.signal();
    array.setDeadline(50);
    expect(deadlines.slice(2)).toEqual([[12n, 50]]);
    m[1]!.signal();
    array.enableSwSignaling();
    await rt.runUntilIdle();
    array.setDeadline(10);
    expect(deadlines).toHaveLength(3);
  });

  it('names, downcast, first/next, matchContext', () => {
    const rt = new Runtime();
    const [a, b] = fences(rt, 2) as [DmaFence, DmaFence];
    const array = arrayOf(rt, [a, b]);
    expect(array.driverName()).toBe('dma_fence_array');
    expect(array.timelineName()).toBe('unbound');
    expect(toDmaFenceArray(array)).toBe(array);
    expect(toDmaFenceArray(a)).toBeNull();
    expect(isDmaFenceArray(array) && isDmaFenceContainer(array) && !isDmaFenceContainer(a)).toBe(true);
    expect(array.numFences).toBe(2);
    expect(DmaFenceArray.first(array)).toBe(a);
    expect(DmaFenceArray.next(array, 1)).toBe(b);
    expect(DmaFenceArray.next(array, 2)).toBeNull();
    // A plain fence is an array of one.
    expect(DmaFenceArray.first(a)).toBe(a);
    expect(DmaFenceArray.next(a, 1)).toBeNull();
    expect(DmaFenceArray.first(null)).toBeNull();
    expect(DmaFenceArray.matchContext(a, a.context)).toBe(true);
    expect(DmaFenceArray.matchContext(array, a.context)).toBe(false);
    const same = [new DmaFence(mockOps, 7n, 1n, { runtime: rt }), new DmaFence(mockOps, 7n, 2n, { runtime: rt })];
    expect(DmaFenceArray.matchContext(arrayOf(rt, same), 7n)).toBe(true);
  });

  it('takes the fences array: frozen in checked mode', () => {
    const rt = new Runtime();
    const list = fences(rt, 2);
    const array = DmaFenceArray.create(list, 1n, 1n);
    expect(Object.isFrozen(list)).toBe(true);
    expect(array.fences).toBe(list);
  });

  it('alloc + initArray: preallocated outside, initialized without allocating', () => {
    const rt = new Runtime();
    const array = DmaFenceArray.alloc(2, rt);
    expect(array.wasInitialized()).toBe(false);
    const rule = rt.faults.failAlloc({});
    // init never allocates, so the armed fault does not hit it.
    array.initArray(fences(rt, 2), 5n, 9n);
    expect(rule.injected).toBe(0);
    rule.remove();
    expect([array.context, array.seqno]).toEqual([5n, 9n]);
    expect(() => array.initArray(fences(rt, 1), 5n, 9n)).toThrow(expect.objectContaining({ code: 'EBUSY' }) as Error);
    expect(() => DmaFenceArray.alloc(1, rt).initArray(fences(rt, 2), 1n, 1n)).toThrow(/allocated for 1/);
    expect(() => DmaFenceArray.alloc(1, rt).init(mockOps, 1n, 1n)).toThrow(/initArray/);
  });

  describe('flat rule (B15)', () => {
    it('an array inside an array: WARN, EINVAL, nothing taken', () => {
      const rt = new Runtime();
      const m = fences(rt, 2);
      const inner = arrayOf(rt, m);
      const leaf = fences(rt, 1)[0]!;
      const { reports } = rt.reports.capture(() => {
        expect(() => DmaFenceArray.create([leaf, inner], 1n, 1n)).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
      });
      expect(reports.map((r) => r.kind)).toEqual(['warn']);
      expect(reports[0]!.message).toMatch(/must be flat/);
      expect([leaf.refcount, inner.refcount]).toEqual([1, 1]);
      expect(Object.isFrozen([leaf, inner])).toBe(false);
    });

    it('a chain inside an array: WARN (a DepWarning in strict mode)', () => {
      const rt = new Runtime();
      const f = fences(rt, 1)[0]!;
      const chain = DmaFenceChain.create(null, f.get(), 1n);
      expect(() => DmaFenceArray.create([chain], 1n, 1n)).toThrow(DepWarning);
      const warnRt = new Runtime({ checks: 'warn' });
      const g = fences(warnRt, 1)[0]!;
      const c2 = DmaFenceChain.create(null, g.get(), 1n);
      expect(() => DmaFenceArray.create([c2], 1n, 1n)).toThrow(DepError);
      expect(warnRt.reports.count('warn')).toBe(1);
    });

    it('an empty array: WARN and EINVAL', () => {
      const rt = new Runtime({ checks: 'warn' });
      expect(() => DmaFenceArray.create([], 1n, 1n, { runtime: rt })).toThrow(/at least one member/);
      expect(rt.reports.count('warn')).toBe(1);
    });
  });

  describe('bad input: EINVAL, nothing changed', () => {
    it('an INACTIVE member is rejected (rfc-designs E.2)', () => {
      const rt = new Runtime();
      const [a] = fences(rt, 1) as [DmaFence];
      const inactive = new DmaFence().initInactive(mockOps, 3n, 1n, { runtime: rt });
      expect(() => DmaFenceArray.create([a, inactive], 1n, 1n)).toThrow(/INACTIVE/);
      expect([a.refcount, inactive.refcount]).toEqual([1, 1]);
      expect(rt.faults.calls('dma_fence_array_alloc')).toBe(0);
      inactive.setActive();
      const array = DmaFenceArray.create([a, inactive], 1n, 1n);
      expect(array.numFences).toBe(2);
    });

    it('non-fences, foreign runtimes, bad seqnos', () => {
      const rt = new Runtime();
      const other = new Runtime();
      const [a] = fences(rt, 1) as [DmaFence];
      const [b] = fences(other, 1) as [DmaFence];
      expect(() => DmaFenceArray.create([a, {} as Fence], 1n, 1n)).toThrow(/member 1 is not a fence/);
      expect(() => DmaFenceArray.create([a, b], 1n, 1n)).toThrow(/another runtime/);
      expect(() => DmaFenceArray.create([a], 1n, -1n)).toThrow(/seqno must be a bigint/);
      expect(() => DmaFenceArray.create([a], 1 as unknown as bigint, 1n)).toThrow(/context must be a bigint/);
      expect(a.refcount).toBe(1);
    });
  });

  it('allocation failure (fault injection): ENOMEM, the caller keeps its references', () => {
    const rt = new Runtime();
    const m = fences(rt, 2);
    rt.faults.failAlloc({ site: 'dma_fence_array_alloc', nth: 1 });
    const list = m.map((f) => f.get());
    expect(() => DmaFenceArray.create(list, 1n, 1n)).toThrow(expect.objectContaining({ code: 'ENOMEM' }) as Error);
    expect(m.map((f) => f.refcount)).toEqual([2, 2]);
    expect(Object.isFrozen(list)).toBe(false);
    expect(rt.faults.injected).toHaveLength(1);
    // The next try succeeds.
    expect(DmaFenceArray.create(list, 1n, 1n).numFences).toBe(2);
  });

  it('waiting on an array resolves when the last member signals (virtual time)', async () => {
    const rt = new Runtime();
    const m = fences(rt, 8);
    const array = arrayOf(rt, m);
    let woke = -1;
    await rt.run(async () => {
      const waiter = rt.spawn('waiter', async () => {
        const r = await array.wait();
        woke = rt.now();
        return r;
      }, { joinable: true });
      for (let i = 0; i < m.length; i++) {
        await rt.sleep(1);
        m[i]!.signal();
      }
      expect(await waiter.join()).toBe(0);
    });
    expect(woke).toBe(8);
  });
});
