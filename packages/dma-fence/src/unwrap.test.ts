// unwrap / dedup / merge beyond the KUnit port (kernel-api.md A4; rules B7, B15, B17):
// fast-check properties of merge and dedup, the private stub's timestamp, the 32-bit
// seqno rule in dedup, cursor use, INACTIVE and allocation failures.
import { Runtime } from '@dep/kernel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  DmaFenceArray,
  DmaFenceChain,
  contextAlloc,
  dedupArray,
  isDmaFenceArray,
  unwrapCursor,
  unwrapFirst,
  unwrapForEach,
  unwrapMerge,
  unwrapNext,
  type DmaFenceOps,
  type Fence,
} from './index.js';

const mockOps: DmaFenceOps = { getDriverName: () => 'mock', getTimelineName: () => 'mock' };

function fenceAt(rt: Runtime, context: bigint, seqno: bigint): DmaFence {
  return new DmaFence(mockOps, context, seqno, { runtime: rt });
}

const leaves = (f: Fence): Fence[] => [...unwrapForEach(f)];

/** A fence of the pool: context index, seqno, signalled?, timestamp. */
interface FenceSpec {
  ctx: number;
  seqno: number;
  signaled: boolean;
  ts: number;
}
type InputSpec = { kind: 'plain'; f: number } | { kind: 'array'; fs: number[] } | { kind: 'chain'; fs: number[] };

/** Up to 4 contexts × distinct seqnos, some signalled; 1–4 inputs made of them. */
const scenario = fc
  .array(fc.record({ ctx: fc.integer({ min: 0, max: 3 }), seqno: fc.integer({ min: 1, max: 6 }), signaled: fc.boolean(), ts: fc.integer({ min: 1, max: 1000 }) }), { minLength: 1, maxLength: 10 })
  .map((specs) => specs.filter((s, i) => specs.findIndex((t) => t.ctx === s.ctx && t.seqno === s.seqno) === i))
  .chain((pool) => {
    const idx = fc.integer({ min: 0, max: pool.length - 1 });
    const input: fc.Arbitrary<InputSpec> = fc.oneof(
      idx.map((f) => ({ kind: 'plain' as const, f })),
      fc.array(idx, { minLength: 1, maxLength: 3 }).map((fs) => ({ kind: 'array' as const, fs })),
      fc.array(idx, { minLength: 1, maxLength: 3 }).map((fs) => ({ kind: 'chain' as const, fs })),
    );
    return fc.tuple(fc.constant(pool), fc.array(input, { minLength: 1, maxLength: 4 }));
  });

function build(rt: Runtime, pool: FenceSpec[], inputs: InputSpec[]): { fences: DmaFence[]; heads: Fence[] } {
  const ctxs = [0, 1, 2, 3].map(() => contextAlloc(1, rt));
  const fences = pool.map((s) => fenceAt(rt, ctxs[s.ctx]!, BigInt(s.seqno)));
  const heads: Fence[] = inputs.map((inp) => {
    if (inp.kind === 'plain') return fences[inp.f]!.get();
    if (inp.kind === 'array') return DmaFenceArray.create(inp.fs.map((i) => fences[i]!.get()), contextAlloc(1, rt), 1n);
    let prev: DmaFenceChain | null = null;
    inp.fs.forEach((i, k) => {
      prev = DmaFenceChain.create(prev, fences[i]!.get(), BigInt(k + 1));
    });
    return prev!;
  });
  pool.forEach((s, i) => {
    if (s.signaled) fences[i]!.signalTimestamp(s.ts);
  });
  return { fences, heads };
}

describe('unwrap / merge / dedup', () => {
  it('property: merge is sorted by context, one per context, the latest, no signalled leaf; idempotent', () => {
    fc.assert(
      fc.property(scenario, ([pool, inputs]) => {
        const rt = new Runtime();
        const { fences, heads } = build(rt, pool, inputs);
        // What the merge sees: every leaf of every input.
        const seen = heads.flatMap(leaves);
        const pending = [...new Set(seen.filter((f) => !f.testSignaledFlag()))];
        const latestTs = Math.max(0, ...seen.filter((f) => f.testSignaledFlag()).map((f) => f.timestamp()));
        const expected = [...new Set(pending.map((f) => f.context))]
          .sort((a, b) => (a < b ? -1 : 1))
          .map((ctx) => pending.filter((f) => f.context === ctx).reduce((a, b) => (b.seqno > a.seqno ? b : a)));

        const merged = unwrapMerge(...heads);
        const got = leaves(merged);
        if (expected.length === 0) {
          // A private stub carrying the latest timestamp of the dropped leaves.
          expect(merged.isSignaled()).toBe(true);
          expect([merged.context, merged.seqno]).toEqual([0n, 0n]);
          expect(merged.timestamp()).toBe(latestTs);
          expect(fences).not.toContain(merged);
        } else if (expected.length === 1) {
          expect(merged).toBe(expected[0]);
        } else {
          expect(isDmaFenceArray(merged)).toBe(true);
          expect(merged.seqno).toBe(1n);
        }
        if (expected.length > 0) expect(got).toEqual(expected);
        for (let i = 1; i < got.length; i++) expect(got[i - 1]!.context < got[i]!.context).toBe(true);
        expect(got.some((f) => f.isSignaled() && expected.length > 0)).toBe(false);

        const again = unwrapMerge(merged);
        expect(leaves(again)).toEqual(expected.length === 0 ? [again] : got);
        if (expected.length === 0) expect(again.timestamp()).toBe(latestTs);
        for (const f of [again, merged, ...heads]) f.put();
        // Every reference taken by the containers and the merges was given back.
        expect(fences.map((f) => f.refcount)).toEqual(fences.map(() => 1));
        expect(rt.reports.count()).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('property: dedup keeps exactly the latest fence of each context, sorted by context, and puts the rest', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 1000 })), { maxLength: 20 }), (specs) => {
        const rt = new Runtime();
        const byKey = new Map<string, DmaFence>();
        const list: Fence[] = specs.map(([c, s]) => {
          const key = `${c}:${s}`;
          let f = byKey.get(key);
          if (f === undefined) {
            f = fenceAt(rt, BigInt(c + 1), BigInt(s));
            byKey.set(key, f);
          } else f.get();
          return f;
        });
        const n = dedupArray(list);
        const contexts = [...new Set(specs.map(([c]) => c))].sort((a, b) => a - b);
        expect(n).toBe(contexts.length);
        expect(list).toHaveLength(n);
        expect(list.map((f) => f.context)).toEqual(contexts.map((c) => BigInt(c + 1)));
        for (const f of list) {
          const max = Math.max(...specs.filter(([c]) => BigInt(c + 1) === f.context).map(([, s]) => s));
          expect(f.seqno).toBe(BigInt(max));
        }
        // The list owned one reference per entry: the entries dropped were put.
        for (const f of byKey.values()) expect(f.refcount).toBe(list.filter((x) => x === f).length);
      }),
      { numRuns: 300 },
    );
  });

  it('dedup compares seqnos of 32-bit fences with the wrap rule (is_later)', () => {
    const rt = new Runtime();
    const old = fenceAt(rt, 5n, 0xffff_ffffn);
    const wrapped = fenceAt(rt, 5n, 1n);
    const list: Fence[] = [old, wrapped];
    expect(dedupArray(list)).toBe(1);
    expect(list).toEqual([wrapped]);
    expect(old.refcount).toBe(0);
  });

  it('the cursor primitives hold a reference to the head until the end; a plain fence yields itself', () => {
    const rt = new Runtime();
    const f = fenceAt(rt, 3n, 1n);
    const g = fenceAt(rt, 4n, 1n);
    const chain = DmaFenceChain.create(f.get(), g.get(), 1n);
    const cursor = unwrapCursor();
    expect(unwrapFirst(chain, cursor)).toBe(g);
    expect(chain.refcount).toBe(2);
    expect(unwrapNext(cursor)).toBe(f);
    expect(unwrapNext(cursor)).toBeNull();
    expect(cursor.chain).toBeNull();
    expect([chain.refcount, f.refcount]).toEqual([1, 2]);
    expect(leaves(f)).toEqual([f]);
    // Breaking out of unwrapForEach releases the iterator's reference.
    for (const leaf of unwrapForEach(chain)) if (leaf === g) break;
    expect(chain.refcount).toBe(1);
  });

  it('a merge of only signalled fences is a new private stub with the latest timestamp', () => {
    const rt = new Runtime();
    const a = fenceAt(rt, 3n, 1n);
    const b = fenceAt(rt, 4n, 1n);
    a.signalTimestamp(70);
    b.signalTimestamp(40);
    const s = unwrapMerge(a, b);
    expect(s.isSignaled()).toBe(true);
    expect(s.timestamp()).toBe(70);
    expect(s).not.toBe(unwrapMerge(a, b));
  });

  describe('bad input and failures change nothing', () => {
    it('no input, a non-fence, an INACTIVE input, several runtimes: EINVAL', () => {
      const rt = new Runtime();
      const a = fenceAt(rt, 3n, 1n);
      const inactive = new DmaFence().initInactive(mockOps, 4n, 1n, { runtime: rt });
      expect(() => unwrapMerge()).toThrow(/at least one/);
      expect(() => unwrapMerge(a, 5 as unknown as Fence)).toThrow(/expected a fence/);
      expect(() => unwrapMerge(a, inactive)).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/INACTIVE/) as string }) as Error);
      expect(() => unwrapMerge(a, fenceAt(new Runtime(), 1n, 1n))).toThrow(/another runtime/);
      expect([a.refcount, inactive.refcount]).toEqual([1, 1]);
    });

    for (const site of ['dma_fence_unwrap_merge', 'dma_fence_array_alloc'] as const) {
      it(`ENOMEM at ${site}: no reference taken, no context consumed`, () => {
        const rt = new Runtime();
        const fs = [fenceAt(rt, 3n, 1n), fenceAt(rt, 4n, 1n), fenceAt(rt, 4n, 2n)];
        const array = DmaFenceArray.create([fs[0]!.get(), fs[1]!.get()], contextAlloc(1, rt), 1n);
        const nextContext = contextAlloc(1, rt) + 1n;
        rt.faults.failAlloc({ site, nth: 1 });
        expect(() => unwrapMerge(array, fs[2]!)).toThrow(expect.objectContaining({ code: 'ENOMEM' }) as Error);
        expect(fs.map((f) => f.refcount)).toEqual([2, 2, 1]);
        expect(contextAlloc(1, rt)).toBe(nextContext);
        const merged = unwrapMerge(array, fs[2]!);
        expect(leaves(merged)).toEqual([fs[0], fs[2]]);
      });
    }

    it('ENOMEM for the private stub', () => {
      const rt = new Runtime();
      const a = fenceAt(rt, 3n, 1n);
      a.signal();
      rt.faults.failAlloc({ site: 'dma_fence_allocate_private_stub', nth: 1 });
      expect(() => unwrapMerge(a)).toThrow(expect.objectContaining({ code: 'ENOMEM' }) as Error);
      expect(a.refcount).toBe(1);
    });

    it('dedupArray rejects non-fences before sorting', () => {
      const rt = new Runtime();
      const list = [fenceAt(rt, 2n, 1n), null as unknown as Fence];
      expect(() => dedupArray(list)).toThrow(/entry 1/);
      expect(list).toHaveLength(2);
    });
  });
});
