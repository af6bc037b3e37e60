// Port of the kernel's suite "dma-buf-fence-unwrap" (drivers/dma-buf/st-dma-fence-unwrap.c,
// kernel-api.md C4), one test per kernel case, same names, plus the proposed
// test_dedup_empty. Mock fences get a fresh context and seqno 1 and are only enabled,
// never signalled. Each test also checks the reference counts the kernel test leaves
// implicit, and that nothing was reported.
import { Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  DmaFenceArray,
  DmaFenceChain,
  contextAlloc,
  dedupArray,
  getStub,
  unwrapForEach,
  unwrapMerge,
  type DmaFenceOps,
  type Fence,
} from './index.js';

const mockOps: DmaFenceOps = { getDriverName: () => 'mock', getTimelineName: () => 'mock' };

/** `__mock_fence(context, seqno)`. */
function mockFenceAt(rt: Runtime, context: bigint, seqno: bigint): DmaFence {
  return new DmaFence(mockOps, context, seqno, { runtime: rt });
}

/** `mock_fence()`: a fresh context, seqno 1. */
function mockFence(rt: Runtime): DmaFence {
  return mockFenceAt(rt, contextAlloc(1, rt), 1n);
}

/** `mock_array(n, …)`: takes the references passed in. */
function mockArray(rt: Runtime, ...fences: Fence[]): DmaFenceArray {
  return DmaFenceArray.create(fences, contextAlloc(1, rt), 1n);
}

/** `mock_chain(prev, fence)`: takes the references passed in; seqno 1. */
function mockChain(prev: Fence | null, fence: Fence): DmaFenceChain {
  return DmaFenceChain.create(prev, fence, 1n);
}

/** The leaves `dma_fence_unwrap_for_each` yields, in order. */
function leaves(head: Fence): Fence[] {
  return [...unwrapForEach(head)];
}

describe('dma-buf-fence-unwrap', () => {
  it('test_sanitycheck', () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    f.enableSwSignaling();
    const array = mockArray(rt, f);
    const chain = mockChain(null, array);
    expect(chain.fence).toBe(array);
    chain.put();
    // The chain owned the array, which owned f: all released.
    expect([chain.refcount, array.refcount, f.refcount]).toEqual([0, 0, 0]);
    expect(rt.reports.count()).toBe(0);
  });

  it('test_unwrap_array', () => {
    const rt = new Runtime();
    const f1 = mockFence(rt);
    f1.enableSwSignaling();
    const f2 = mockFence(rt);
    f2.enableSwSignaling();
    const array = mockArray(rt, f1, f2);
    expect(leaves(array), 'Not all fences seen, or an unexpected fence!').toEqual([f1, f2]);
    expect(array.refcount, 'the iterator put its reference back').toBe(1);
    array.put();
    expect([f1.refcount, f2.refcount]).toEqual([0, 0]);
    expect(rt.reports.count()).toBe(0);
  });

  it('test_unwrap_chain', () => {
    const rt = new Runtime();
    const f1 = mockFence(rt);
    f1.enableSwSignaling();
    const f2 = mockFence(rt);
    f2.enableSwSignaling();
    const chain = mockChain(f1, f2);
    expect(new Set(leaves(chain)), 'Not all fences seen, or an unexpected fence!').toEqual(new Set([f1, f2]));
    expect(leaves(chain)).toHaveLength(2);
    chain.put();
    expect([chain.refcount, f1.refcount, f2.refcount]).toEqual([0, 0, 0]);
    expect(rt.reports.count()).toBe(0);
  });

  it('test_unwrap_chain_array', () => {
    const rt = new Runtime();
    const f1 = mockFence(rt);
    f1.enableSwSignaling();
    const f2 = mockFence(rt);
    f2.enableSwSignaling();
    const array = mockArray(rt, f1, f2);
    const chain = mockChain(null, array);
    expect(leaves(chain), 'Not all fences seen, or an unexpected fence!').toEqual([f1, f2]);
    chain.put();
    expect([array.refcount, f1.refcount, f2.refcount]).toEqual([0, 0, 0]);
    expect(rt.reports.count()).toBe(0);
  });

  it('test_unwrap_merge', () => {
    const rt = new Runtime();
    const f1 = mockFence(rt);
    f1.enableSwSignaling();
    const f2 = mockFence(rt);
    f2.enableSwSignaling();
    const f3 = unwrapMerge(f1, f2);
    expect(new Set(leaves(f3)), 'Not all fences seen, or an unexpected fence!').toEqual(new Set([f1, f2]));
    expect(leaves(f3)).toHaveLength(2);
    // The merge took references of its own.
    expect([f1.refcount, f2.refcount]).toEqual([2, 2]);
    f3.put();
    expect([f1.refcount, f2.refcount]).toEqual([1, 1]);
    f2.put();
    f1.put();
    expect(rt.reports.count()).toBe(0);
  });

  it('test_unwrap_merge_duplicate', () => {
    const rt = new Runtime();
    const f1 = mockFence(rt);
    f1.enableSwSignaling();
    const f2 = unwrapMerge(f1, f1);
    expect(leaves(f2), 'Not all fences seen, or an unexpected fence!').toEqual([f1]);
    // One unsignalled leaf: the merge is that fence itself.
    expect(f2).toBe(f1);
    expect(f1.refcount).toBe(2);
    f2.put();
    f1.put();
    expect(f1.refcount).toBe(0);
    expect(rt.reports.count()).toBe(0);
  });

  it('test_unwrap_merge_seqno', () => {
    const rt = new Runtime();
    const ctx0 = contextAlloc(1, rt);
    const ctx1 = contextAlloc(1, rt);
    const f1 = mockFenceAt(rt, ctx1, 1n);
    f1.enableSwSignaling();
    const f2 = mockFenceAt(rt, ctx1, 2n);
    f2.enableSwSignaling();
    const f3 = mockFenceAt(rt, ctx0, 1n);
    f3.enableSwSignaling();
    const f4 = unwrapMerge(f1, f2, f3);
    // Sorted by context, only the latest per context: f3 then f2; f1 dropped.
    expect(leaves(f4), 'Unexpected fence or order!').toEqual([f3, f2]);
    expect(f1.refcount, 'the older fence of ctx1 was put by dedup').toBe(1);
    f4.put();
    for (const f of [f1, f2, f3]) {
      expect(f.refcount).toBe(1);
      f.put();
    }
    expect(rt.reports.count()).toBe(0);
  });

  it('test_unwrap_merge_order', () => {
    const rt = new Runtime();
    const f1 = mockFence(rt);
    f1.enableSwSignaling();
    const f2 = mockFence(rt);
    f2.enableSwSignaling();
    const a1 = mockArray(rt, f1, f2);
    const c1 = mockChain(null, f1.get());
    const c2 = mockChain(c1, f2.get());
    // The chain holds the fences in the opposite order; the merge sorts them.
    expect(leaves(c2)).toEqual([f2, f1]);
    const a2 = unwrapMerge(a1, c2);
    expect(leaves(a2), 'Unexpected order!').toEqual([f1, f2]);
    a2.put();
    a1.put();
    c2.put();
    expect([a1.refcount, c1.refcount, c2.refcount, f1.refcount, f2.refcount]).toEqual([0, 0, 0, 0, 0]);
    expect(rt.reports.count()).toBe(0);
  });

  it('test_unwrap_merge_complex', () => {
    const rt = new Runtime();
    const f1 = mockFence(rt);
    f1.enableSwSignaling();
    const f2 = mockFence(rt);
    f2.enableSwSignaling();
    const f3 = unwrapMerge(f1, f2);
    // The resulting array has the fences in reverse.
    const f4 = mockArray(rt, f2.get(), f1.get());
    // Signalled fences are filtered, the two arrays merged.
    const stub = getStub(rt);
    const f5 = unwrapMerge(f3, f4, stub);
    expect(new Set(leaves(f5)), 'Not all fences seen, or an unexpected fence!').toEqual(new Set([f1, f2]));
    expect(leaves(f5)).toHaveLength(2);
    expect(leaves(f5)).not.toContain(stub);
    for (const f of [f5, f4, f3, stub]) f.put();
    expect([f1.refcount, f2.refcount]).toEqual([1, 1]);
    f2.put();
    f1.put();
    expect(rt.reports.count()).toBe(0);
  });

  it('test_unwrap_merge_complex_seqno', () => {
    const rt = new Runtime();
    const ctx0 = contextAlloc(1, rt);
    const ctx1 = contextAlloc(1, rt);
    const f1 = mockFenceAt(rt, ctx0, 2n);
    const f2 = mockFenceAt(rt, ctx1, 1n);
    const f3 = mockFenceAt(rt, ctx0, 1n);
    const f4 = mockFenceAt(rt, ctx1, 2n);
    for (const f of [f1, f2, f3, f4]) f.enableSwSignaling();
    const f5 = mockArray(rt, f1.get(), f2.get());
    const f6 = mockArray(rt, f3.get(), f4.get());
    const f7 = unwrapMerge(f5, f6);
    expect(leaves(f7), 'Unexpected fence or order!').toEqual([f1, f4]);
    for (const f of [f7, f6, f5]) f.put();
    for (const f of [f1, f2, f3, f4]) {
      expect(f.refcount).toBe(1);
      f.put();
    }
    expect(rt.reports.count()).toBe(0);
  });

  it('test_dedup_empty', () => {
    // Proposed on dri-devel: dedup of no fences returns 0 (the kernel's loop returns 1).
    const fences: Fence[] = [];
    expect(dedupArray(fences)).toBe(0);
    expect(fences).toEqual([]);
  });
});
