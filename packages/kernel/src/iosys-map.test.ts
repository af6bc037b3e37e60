import { describe, expect, it } from 'vitest';
import { IosysMap, isDepError } from './index.js';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function bytes(map: IosysMap, n = map.length): number[] {
  const out = new Uint8Array(n);
  map.memcpyFrom(out, 0, n);
  return [...out];
}

describe('IosysMap reads and writes', () => {
  it('round-trips 8- to 32-bit values, little-endian', () => {
    const m = new IosysMap(new ArrayBuffer(16));
    m.wr(0, 'u32', 0x11223344);
    expect(bytes(m, 4)).toEqual([0x44, 0x33, 0x22, 0x11]);
    expect(m.rd(0, 'u32')).toBe(0x11223344);
    expect(m.rd(0, 'u16')).toBe(0x3344);
    expect(m.rd(3, 'u8')).toBe(0x11);
    m.wr(4, 's32', -2);
    expect(m.rd(4, 'u32')).toBe(0xfffffffe);
    expect(m.rd(4, 's32')).toBe(-2);
    m.wr(8, 'u8', 255);
    expect(m.rd(8, 's8')).toBe(-1);
    m.wr(10, 's16', -32768);
    expect(m.rd(10, 'u16')).toBe(0x8000);
  });

  it('keeps 64-bit values exact above 2^53 and reads all-ones u64 as unsigned', () => {
    const m = new IosysMap(new ArrayBuffer(32));
    const big = (1n << 60n) + 1n;
    m.wr(0, 'u64', big);
    expect(m.rd(0, 'u64')).toBe(big);
    const allOnes = 0xffff_ffff_ffff_ffffn;
    m.wr(8, 'u64', allOnes);
    expect(m.rd(8, 'u64')).toBe(allOnes);
    expect(m.rd(8, 's64')).toBe(-1n);
    const topBit = 1n << 63n;
    m.wr(16, 'u64', topBit);
    expect(m.rd(16, 'u64')).toBe(topBit);
    expect(bytes(m.sub(16, 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0x80]);
    m.wr(24, 's64', -(1n << 63n));
    expect(m.rd(24, 'u64')).toBe(topBit);
  });

  it('rejects values that do not fit the type with EINVAL and writes nothing', () => {
    const m = new IosysMap(new ArrayBuffer(8));
    const bad: Array<() => void> = [
      () => m.wr(0, 'u8', 256),
      () => m.wr(0, 'u8', -1),
      () => m.wr(0, 'u32', 2 ** 32),
      () => m.wr(0, 's32', 2 ** 31),
      () => m.wr(0, 'u32', 1.5),
      () => m.wr(0, 'u64', -1n),
      () => m.wr(0, 'u64', 1n << 64n),
      () => m.wr(0, 's64', 1n << 63n),
      () => m.wr(0, 'u64', 1 as unknown as bigint),
      () => m.rd(0, 'u128' as 'u8'),
    ];
    for (const f of bad) expect(isDepError(errorOf(f), 'EINVAL')).toBe(true);
    expect(bytes(m)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('bounds-checks every access: EFAULT outside the view, EINVAL for a non-integer offset', () => {
    const m = new IosysMap(new ArrayBuffer(16), { offset: 4, length: 8 });
    expect(m.rd(4, 'u32')).toBe(0);
    expect(isDepError(errorOf(() => m.rd(5, 'u32')), 'EFAULT')).toBe(true);
    expect(isDepError(errorOf(() => m.rd(8, 'u8')), 'EFAULT')).toBe(true);
    expect(isDepError(errorOf(() => m.rd(-1, 'u8')), 'EFAULT')).toBe(true);
    expect(isDepError(errorOf(() => m.rd(1, 'u64')), 'EFAULT')).toBe(true);
    expect(isDepError(errorOf(() => m.rd(0.5, 'u8')), 'EINVAL')).toBe(true);
    expect(isDepError(errorOf(() => m.wr(6, 'u32', 1)), 'EFAULT')).toBe(true);
    expect(isDepError(errorOf(() => m.memset(4, 0xff, 5)), 'EFAULT')).toBe(true);
    expect(isDepError(errorOf(() => m.memcpyTo(0, new Uint8Array(9))), 'EFAULT')).toBe(true);
    expect(isDepError(errorOf(() => m.memcpyFrom(new Uint8Array(4), 0, 5)), 'EFAULT')).toBe(true);
    expect(isDepError(errorOf(() => new IosysMap(new ArrayBuffer(4), { offset: 2, length: 4 })), 'EFAULT')).toBe(true);
    expect(isDepError(errorOf(() => new IosysMap({} as ArrayBuffer)), 'EINVAL')).toBe(true);
    expect(bytes(new IosysMap(m.buffer))).toEqual(new Array<number>(16).fill(0));
  });
});

describe('IosysMap views', () => {
  it('sub views share memory, keep isIomem, and are bounds-checked against the parent', () => {
    const buf = new ArrayBuffer(16);
    const m = new IosysMap(buf, { isIomem: true });
    const s = m.sub(8, 4);
    expect(s.isIomem).toBe(true);
    expect(s.offset).toBe(8);
    s.wr(0, 'u32', 0xdeadbeef);
    expect(m.rd(8, 'u32')).toBe(0xdeadbeef);
    expect(isDepError(errorOf(() => s.rd(4, 'u8')), 'EFAULT')).toBe(true);
    expect(isDepError(errorOf(() => m.sub(12, 8)), 'EFAULT')).toBe(true);
    expect(s.isEqual(m.sub(8))).toBe(true);
    expect(s.isEqual(m)).toBe(false);
  });

  it('incr moves the start forward; clone keeps the old position', () => {
    const m = new IosysMap(new ArrayBuffer(8));
    m.wr(4, 'u32', 7);
    const before = m.clone();
    m.incr(4);
    expect(m.offset).toBe(4);
    expect(m.length).toBe(4);
    expect(m.rd(0, 'u32')).toBe(7);
    expect(before.rd(4, 'u32')).toBe(7);
    expect(isDepError(errorOf(() => m.incr(5)), 'EFAULT')).toBe(true);
    expect(m.offset).toBe(4);
    m.incr(4);
    expect(m.length).toBe(0);
  });

  it('read-only views refuse every write with EACCES, and so do views made from them', () => {
    const buf = new ArrayBuffer(16);
    const rw = new IosysMap(buf);
    rw.wr(0, 'u32', 42);
    const ro = new IosysMap(buf, { readonly: true });
    expect(ro.rd(0, 'u32')).toBe(42);
    const writes: Array<() => void> = [
      () => ro.wr(0, 'u32', 1),
      () => ro.memset(0, 0, 4),
      () => ro.memcpyTo(0, new Uint8Array(4)),
      () => ro.store64(8, 1n),
      () => ro.sub(4).wr(0, 'u8', 1),
    ];
    for (const f of writes) expect(isDepError(errorOf(f), 'EACCES')).toBe(true);
    expect(rw.rd(0, 'u32')).toBe(42);
    expect(rw.rd(8, 'u64')).toBe(0n);
    expect(rw.sub(0, 8, { readonly: true }).readonly).toBe(true);
  });

  it('memcpyTo, memcpyFrom and memset move bytes at the given offsets', () => {
    const m = new IosysMap(new ArrayBuffer(8));
    m.memset(0, 0xaa, 8);
    m.memcpyTo(2, new Uint8Array([1, 2, 3, 4]), 3);
    expect(bytes(m)).toEqual([0xaa, 0xaa, 1, 2, 3, 0xaa, 0xaa, 0xaa]);
    const out = new Uint8Array(4);
    m.memcpyFrom(out, 1, 2);
    expect([...out]).toEqual([0xaa, 1, 0, 0]);
    expect(isDepError(errorOf(() => m.memset(0, 256, 1)), 'EINVAL')).toBe(true);
  });
});

describe('IosysMap 64-bit atomics', () => {
  it('atomic load/store on a SharedArrayBuffer view, unsigned, visible to plain reads', () => {
    const sab = new SharedArrayBuffer(32);
    const m = new IosysMap(sab, { offset: 8 });
    expect(m.isShared).toBe(true);
    const v = 0xffff_ffff_0000_0001n;
    m.store64(8, v);
    expect(m.load64(8)).toBe(v);
    expect(m.rd(8, 'u64')).toBe(v);
    expect(new BigUint64Array(sab)[2]).toBe(v);
    m.wr(0, 'u64', 1n << 62n);
    expect(m.load64(0)).toBe(1n << 62n);
  });

  it('needs 8-byte alignment in the buffer, and bounds', () => {
    const m = new IosysMap(new SharedArrayBuffer(24), { offset: 4 });
    expect(isDepError(errorOf(() => m.load64(0)), 'EINVAL')).toBe(true);
    expect(m.load64(4)).toBe(0n);
    expect(isDepError(errorOf(() => m.load64(16)), 'EFAULT')).toBe(true);
    expect(isDepError(errorOf(() => m.store64(4, -1n)), 'EINVAL')).toBe(true);
  });

  it('works on a plain ArrayBuffer too', () => {
    const m = new IosysMap(new ArrayBuffer(8));
    m.store64(0, 5n);
    expect(m.load64(0)).toBe(5n);
    expect(m.isShared).toBe(false);
  });
});
