// DmaFenceChain beyond the KUnit port (kernel-api.md A3; rules B15, B16): context reuse,
// completion order as a property, iterative release of long chains, deadlines,
// for_each/walk garbage collection, INACTIVE, the nesting rule and allocation failures.
import { DepWarning, Runtime } from '@dep/kernel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHAIN_LOCK_CLASS,
  DmaFence,
  DmaFenceArray,
  DmaFenceChain,
  contextAlloc,
  isDmaFenceChain,
  toDmaFenceChain,
  type DmaFenceOps,
  type Fence,
} from './index.js';

const mockOps: DmaFenceOps = { getDriverName: () => 'mock', getTimelineName: () => 'mock' };

function mockFence(rt: Runtime, context = 0n, seqno = 0n): DmaFence {
  return new DmaFence(mockOps, context, seqno, { runtime: rt });
}

/** A timeline of `n` nodes (seqnos 1…n) over references of its own to new fences. */
function timeline(rt: Runtime, n: number, seqno = (i: number) => BigInt(i + 1)): { fences: DmaFence[]; chains: DmaFenceChain[] } {
  const fences: DmaFence[] = [];
  const chains: DmaFenceChain[] = [];
  let prev: DmaFenceChain | null = null;
  for (let i = 0; i < n; i++) {
    const f = mockFence(rt);
    const c: DmaFenceChain = DmaFenceChain.create(prev?.get() ?? null, f.get(), seqno(i));
    fences.push(f);
    chains.push(c);
    prev = c;
  }
  return { fences, chains };
}

describe('DmaFenceChain', () => {
  describe('init: context and seqno (dma_fence_chain_init)', () => {
    it('reuses the previous node context only when the seqno is later; else a new context, seqno = max', () => {
      const rt = new Runtime();
      const a = DmaFenceChain.create(null, mockFence(rt), 5n);
      expect([a.seqno, a.prevSeqno]).toEqual([5n, 0n]);
      const b = DmaFenceChain.create(a.get(), mockFence(rt), 7n);
      expect(b.context).toBe(a.context);
      expect([b.seqno, b.prevSeqno]).toEqual([7n, 5n]);
      const c = DmaFenceChain.create(b.get(), mockFence(rt), 3n);
      expect(c.context).not.toBe(b.context);
      expect([c.seqno, c.prevSeqno]).toEqual([7n, 0n]);
      const d = DmaFenceChain.create(c.get(), mockFence(rt), 7n);
      expect(d.context).not.toBe(c.context);
      expect(d.seqno).toBe(7n);
      // A non-chain prev: a new context, the seqno as given.
      const plain = mockFence(rt, 40n, 100n);
      const e = DmaFenceChain.create(plain, mockFence(rt), 2n);
      expect([e.context !== 40n, e.seqno, e.prevSeqno]).toEqual([true, 2n, 0n]);
    });

    it('compares seqnos in 64-bit mode (init64): no 32-bit wrap', () => {
      const rt = new Runtime();
      const a = DmaFenceChain.create(null, mockFence(rt), 1n);
      const far = (1n << 32n) + 1n;
      const b = DmaFenceChain.create(a.get(), mockFence(rt), far);
      expect(b.context).toBe(a.context);
      expect(b.testFlag(2 /* SEQNO64 */)).toBe(true);
      expect(b.isLaterSeqno(far, 1n)).toBe(true);
      expect(DmaFenceChain.findSeqno(b.get(), far).fence).toBe(b);
    });

    it('names, lock class, downcast, contained', () => {
      const rt = new Runtime();
      const f = mockFence(rt);
      const c = DmaFenceChain.create(null, f, 1n);
      expect([c.driverName(), c.timelineName()]).toEqual(['dma_fence_chain', 'unbound']);
      expect(toDmaFenceChain(c)).toBe(c);
      expect(toDmaFenceChain(f)).toBeNull();
      expect(isDmaFenceChain(c)).toBe(true);
      expect(DmaFenceChain.contained(c)).toBe(f);
      expect(DmaFenceChain.contained(f)).toBe(f);
      const locks: string[][] = [];
      c.addCallback(() => locks.push(rt.current.held.map((h) => h.className)));
      f.signal();
      expect(c.isSignaled()).toBe(true);
      expect(locks.map((held) => held.filter((n) => n !== 'dma_fence_map'))).toEqual([[CHAIN_LOCK_CLASS]]);
    });
  });

  it('property: a node is signalled iff every contained fence up to it is, for any signal order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }).chain((n) => fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }), fc.array(fc.boolean(), { minLength: n, maxLength: n }))),
        async ([n, order, enabled]) => {
          const rt = new Runtime();
          const { fences, chains } = timeline(rt, n);
          chains.forEach((c, i) => {
            if (enabled[i]) c.enableSwSignaling();
          });
          const signalled = new Array<boolean>(n).fill(false);
          for (const k of order) {
            fences[k]!.signal();
            signalled[k] = true;
            await rt.runUntilIdle();
            for (let i = 0; i < n; i++) {
              const expected = signalled.slice(0, i + 1).every(Boolean);
              // The deferred signal of an enabled node has run by now.
              if (enabled[i]) expect(chains[i]!.testSignaledFlag(), `node ${i} after ${order.join(',')}`).toBe(expected);
              expect(chains[i]!.isSignaled(), `node ${i} after ${order.join(',')}`).toBe(expected);
            }
          }
          expect(rt.reports.count()).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('release of a 100 000-node chain unlinks iteratively (no recursion, every node released once)', () => {
    const rt = new Runtime({ checks: 'warn' });
    const n = 100_000;
    const { fences, chains } = timeline(rt, n);
    for (const f of fences) {
      f.signal();
      f.put();
    }
    // Every node but the tail is now held only by its successor.
    for (let i = 0; i < n - 1; i++) chains[i]!.put();
    expect(chains[0]!.refcount).toBe(1);
    chains[n - 1]!.put();
    expect(chains.filter((c) => c.refcount !== 0)).toEqual([]);
    expect(fences.filter((f) => f.refcount !== 0)).toEqual([]);
    expect(rt.reports.count()).toBe(0);
  });

  it('release stops unlinking at a node someone else still holds', () => {
    const rt = new Runtime();
    const { fences, chains } = timeline(rt, 4);
    for (const c of chains.slice(0, 3)) c.put();
    const held = chains[1]!.get();
    chains[3]!.put();
    expect([chains[3]!.refcount, chains[2]!.refcount, chains[1]!.refcount, chains[0]!.refcount]).toEqual([0, 0, 1, 1]);
    held.put();
    expect(chains.map((c) => c.refcount)).toEqual([0, 0, 0, 0]);
    expect(fences.map((f) => f.refcount)).toEqual([1, 1, 1, 1]);
  });

  it('walk garbage-collects signalled predecessors; for_each puts its reference when the loop breaks', () => {
    const rt = new Runtime();
    const { fences, chains } = timeline(rt, 5);
    fences[1]!.signal();
    fences[2]!.signal();
    const seen = [...DmaFenceChain.forEach(chains[4]!)];
    // Nodes 2 and 1 were spliced out of node 3's prev link.
    expect(seen).toEqual([chains[4], chains[3], chains[0]]);
    expect(chains[3]!.prev).toBe(chains[0]);
    expect(chains[2]!.refcount).toBe(1);
    const before = chains.map((c) => c.refcount);
    for (const c of DmaFenceChain.forEach(chains[4]!)) if (c === chains[3]) break;
    expect(chains.map((c) => c.refcount)).toEqual(before);
    // A non-chain is put and ends the walk.
    const plain = mockFence(rt);
    expect(DmaFenceChain.walk(plain.get())).toBeNull();
    expect(plain.refcount).toBe(1);
  });

  it('findSeqno on a non-chain or a future point: -EINVAL, the reference stays with the caller', () => {
    const rt = new Runtime();
    const { chains } = timeline(rt, 2);
    const plain = mockFence(rt);
    const r1 = DmaFenceChain.findSeqno(plain, 1n);
    expect([r1.ret, r1.fence]).toEqual([-22, plain]);
    const r2 = DmaFenceChain.findSeqno(chains[1]!, 3n);
    expect([r2.ret, r2.fence]).toEqual([-22, chains[1]]);
    expect(chains[1]!.refcount).toBe(1);
    expect(() => DmaFenceChain.findSeqno(chains[1]!, -1n)).toThrow(/u64/);
  });

  it('forwards deadlines to every contained fence', () => {
    const rt = new Runtime();
    const got: [bigint, number][] = [];
    const ops: DmaFenceOps = { ...mockOps, setDeadline: (f, d) => void got.push([f.context, d]) };
    const a = DmaFenceChain.create(null, new DmaFence(ops, 21n, 1n, { runtime: rt }), 1n);
    const b = DmaFenceChain.create(a.get(), new DmaFence(ops, 22n, 1n, { runtime: rt }), 2n);
    b.setDeadline(30);
    expect(got).toEqual([
      [22n, 30],
      [21n, 30],
    ]);
  });

  it('waiting on the head resolves at the instant the last earlier fence signals', async () => {
    const rt = new Runtime();
    const { fences, chains } = timeline(rt, 3);
    let at = -1;
    await rt.run(async () => {
      const t = rt.spawn('waiter', async () => {
        await chains[2]!.wait();
        at = rt.now();
      }, { joinable: true });
      await rt.sleep(1);
      fences[2]!.signal();
      await rt.sleep(1);
      fences[1]!.signal();
      await rt.sleep(1);
      expect(chains[2]!.testSignaledFlag()).toBe(false);
      fences[0]!.signal();
      await t.join();
    });
    expect(at).toBe(3);
  });

  describe('bad input: nothing changed', () => {
    it('a chain as the contained fence: WARN and EINVAL (chains nest through prev only)', () => {
      const rt = new Runtime();
      const inner = DmaFenceChain.create(null, mockFence(rt), 1n);
      expect(() => DmaFenceChain.create(null, inner, 2n)).toThrow(DepWarning);
      const { reports } = rt.reports.capture(() => {
        expect(() => DmaFenceChain.create(null, inner, 2n)).toThrow(/unwrapMerge/);
      });
      expect(reports.map((r) => r.kind)).toEqual(['warn']);
      expect(inner.refcount).toBe(1);
      // An array may be contained.
      const arr = DmaFenceArray.create([mockFence(rt, contextAlloc(1, rt), 1n)], contextAlloc(1, rt), 1n);
      expect(DmaFenceChain.create(null, arr, 1n).fence).toBe(arr);
    });

    it('an INACTIVE fence or prev is rejected with EINVAL (rfc-designs E.2)', () => {
      const rt = new Runtime();
      const inactive = new DmaFence().initInactive(mockOps, 9n, 1n, { runtime: rt });
      const f = mockFence(rt);
      const node = DmaFenceChain.alloc(rt);
      expect(() => node.initChain(null, inactive, 1n)).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/INACTIVE/) as string }) as Error);
      expect(() => node.initChain(inactive, f, 1n)).toThrow(/INACTIVE/);
      expect(node.wasInitialized()).toBe(false);
      expect([inactive.refcount, f.refcount]).toEqual([1, 1]);
      inactive.setActive();
      expect(node.initChain(null, inactive, 1n).fence).toBe(inactive);
    });

    it('non-fences, foreign runtimes, bad seqnos, re-init, base init', () => {
      const rt = new Runtime();
      const f = mockFence(rt);
      expect(() => DmaFenceChain.create(null, {} as Fence, 1n)).toThrow(/expected a fence/);
      expect(() => DmaFenceChain.create(null, f, 1 as unknown as bigint)).toThrow(/seqno must be a bigint/);
      expect(() => DmaFenceChain.create(mockFence(new Runtime()), f, 1n)).toThrow(/another runtime/);
      const c = DmaFenceChain.create(null, f, 1n);
      expect(() => c.initChain(null, mockFence(rt), 2n)).toThrow(expect.objectContaining({ code: 'EBUSY' }) as Error);
      expect(() => DmaFenceChain.alloc(rt).init64(mockOps, 1n, 1n)).toThrow(/initChain/);
      expect(f.refcount).toBe(1);
    });
  });

  it('allocation failure: ENOMEM from DmaFenceChain.alloc/create, references untouched', () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    rt.faults.failAlloc({ site: 'dma_fence_chain_alloc', nth: 1 });
    expect(() => DmaFenceChain.create(null, f.get(), 1n)).toThrow(expect.objectContaining({ code: 'ENOMEM' }) as Error);
    expect(f.refcount).toBe(2);
    f.put();
    expect(DmaFenceChain.create(null, f, 1n).fence).toBe(f);
  });

  it('free() on a node that was never initialized is fine; on an initialized one it WARNs', () => {
    const rt = new Runtime({ checks: 'warn' });
    DmaFenceChain.alloc(rt).free();
    expect(rt.reports.count()).toBe(0);
    DmaFenceChain.create(null, mockFence(rt), 1n).free();
    expect(rt.reports.count('warn')).toBe(1);
  });
});
