// Seqno compare rules (kernel-api.md B 10): `init` fences compare the low 32 bits as a
// signed difference (wrapping), `init64` fences compare plain u64. Checked against a
// reference model with fast-check.
import { Runtime } from '@dep/kernel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DmaFence, U64_MAX, seqnoIsLater, type DmaFenceOps } from './index.js';

const ops: DmaFenceOps = { getDriverName: () => 'drv', getTimelineName: () => 'tl' };
const u64 = fc.bigInt({ min: 0n, max: U64_MAX });

/** Reference: `(int)(lower_32_bits(s1) - lower_32_bits(s2)) > 0`, with JS int32 arithmetic. */
function ref32(s1: bigint, s2: bigint): boolean {
  const a = Number(s1 & 0xffff_ffffn);
  const b = Number(s2 & 0xffff_ffffn);
  return ((a - b) | 0) > 0;
}

describe('seqno compare', () => {
  it('32-bit mode matches the reference model', () => {
    fc.assert(fc.property(u64, u64, (a, b) => seqnoIsLater(a, b, false) === ref32(a, b)), { numRuns: 2000 });
  });

  it('64-bit mode is a plain u64 compare', () => {
    fc.assert(fc.property(u64, u64, (a, b) => seqnoIsLater(a, b, true) === a > b), { numRuns: 2000 });
  });

  it('32-bit mode ignores the high 32 bits', () => {
    fc.assert(
      fc.property(u64, u64, fc.bigInt({ min: 0n, max: 0xffff_ffffn }), (a, b, hi) => {
        const a2 = (a & 0xffff_ffffn) | (hi << 32n);
        return seqnoIsLater(a2, b, false) === seqnoIsLater(a, b, false);
      }),
    );
  });

  it('32-bit mode is antisymmetric; neither is later only for equal low bits or a 2^31 gap', () => {
    fc.assert(
      fc.property(u64, u64, (a, b) => {
        const ab = seqnoIsLater(a, b, false);
        const ba = seqnoIsLater(b, a, false);
        if (ab && ba) return false;
        if (!ab && !ba) {
          const d = ((a - b) & 0xffff_ffffn);
          return d === 0n || d === 0x8000_0000n;
        }
        return true;
      }),
    );
  });

  it('wraps in 32-bit mode and not in 64-bit mode', () => {
    expect(seqnoIsLater(0n, 0xffff_ffffn, false)).toBe(true);
    expect(seqnoIsLater(0n, 0xffff_ffffn, true)).toBe(false);
    expect(seqnoIsLater(0x8000_0000n, 0n, false)).toBe(false); // a 2^31 gap flips
    expect(seqnoIsLater(0x7fff_ffffn, 0n, false)).toBe(true);
    expect(seqnoIsLater(0x1_0000_0001n, 0x2_0000_0000n, false)).toBe(true); // high bits ignored
    expect(seqnoIsLater(0x1_0000_0001n, 0x2_0000_0000n, true)).toBe(false);
  });

  it('fences compare in the mode of the first fence (init vs init64), as dma_fence_is_later', () => {
    fc.assert(
      fc.property(u64, u64, fc.boolean(), (s1, s2, wide) => {
        const rt = new Runtime();
        const a = new DmaFence(ops, 7n, s1, { runtime: rt, seqno64: wide });
        const b = new DmaFence(ops, 7n, s2, { runtime: rt });
        return a.isLater(b) === (wide ? s1 > s2 : ref32(s1, s2)) && a.isLaterSeqno(s1, s2) === a.isLater(b);
      }),
      { numRuns: 300 },
    );
  });

  it('isLaterOrSame is identity or isLater', () => {
    const rt = new Runtime();
    const a = new DmaFence(ops, 1n, 5n, { runtime: rt });
    const b = new DmaFence(ops, 1n, 5n, { runtime: rt });
    expect(a.isLaterOrSame(a)).toBe(true);
    expect(a.isLaterOrSame(b)).toBe(false); // same seqno, different fence: not later
    expect(new DmaFence(ops, 1n, 6n, { runtime: rt }).isLaterOrSame(a)).toBe(true);
  });

  it('later() returns the later fence, or null once that one signalled', () => {
    const rt = new Runtime();
    const a = new DmaFence(ops, 1n, 1n, { runtime: rt });
    const b = new DmaFence(ops, 1n, 2n, { runtime: rt });
    expect(a.later(b)).toBe(b);
    expect(b.later(a)).toBe(b);
    a.signal();
    expect(b.later(a)).toBe(b);
    b.signal();
    expect(a.later(b)).toBeNull();
  });

  it('different contexts: WARN, false / null', () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new DmaFence(ops, 1n, 2n, { runtime: rt });
    const b = new DmaFence(ops, 2n, 1n, { runtime: rt });
    expect(a.isLater(b)).toBe(false);
    expect(a.later(b)).toBeNull();
    expect(rt.reports.count('warn')).toBe(2);
    expect(rt.reports.list[0]!.message).toMatch(/different contexts/);
  });
});
