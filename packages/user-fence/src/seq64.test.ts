// The seq64 area (rfc-designs C.3): 64-bit slots, writable for the device, read-only for
// the user; an allocator with ENOSPC when full.
import { DepError, IosysMap, Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { Seq64Area } from './index.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof DepError ? e.code : `not a DepError: ${String(e)}`;
  }
  return undefined;
}

describe('Seq64Area', () => {
  it('hands out distinct zeroed 8-byte slots; the device writes, the user reads, the user cannot write', () => {
    const area = new Seq64Area({ runtime: new Runtime(), slots: 4 });
    const a = area.alloc();
    const b = area.alloc();
    expect([a.index, b.index]).toEqual([0, 1]);
    expect([a.offset, b.offset]).toEqual([0, 8]);
    a.device.store64(0, 0xdead_beef_0000_0001n);
    expect(a.user.load64(0)).toBe(0xdead_beef_0000_0001n);
    expect(area.user.rd(0, 'u64')).toBe(0xdead_beef_0000_0001n);
    expect(b.user.load64(0)).toBe(0n);
    expect(code(() => a.user.store64(0, 1n))).toBe('EACCES');
    expect(code(() => area.user.wr(8, 'u64', 1n))).toBe('EACCES');
    expect(code(() => a.user.sub(0, 8).wr(0, 'u32', 1))).toBe('EACCES');
    expect(code(() => a.device.store64(8, 1n))).toBe('EFAULT'); // a slot's view is its 8 bytes
    expect(area.used).toBe(2);
  });

  it('the user view covers only the values, not the waiter counts behind them', () => {
    const area = new Seq64Area({ slots: 3 });
    const s = area.alloc();
    expect(area.user.length).toBe(24);
    expect(s.waitersOffset).toBe(24);
    expect(area.buffer.byteLength).toBeGreaterThanOrEqual(36);
    expect(code(() => area.user.rd(24, 'u32'))).toBe('EFAULT');
  });

  it('ENOSPC when full; free makes a slot reusable, zeroed again', () => {
    const area = new Seq64Area({ slots: 2 });
    const a = area.alloc();
    area.alloc();
    expect(code(() => area.alloc())).toBe('ENOSPC');
    a.device.store64(0, 5n);
    area.free(a);
    expect(area.used).toBe(1);
    const c = area.alloc();
    expect(c.index).toBe(a.index);
    expect(c.user.load64(0)).toBe(0n);
  });

  it('free: twice, or a slot of another area, is EINVAL and changes nothing', () => {
    const area = new Seq64Area({ slots: 2 });
    const other = new Seq64Area({ slots: 2 });
    const a = area.alloc();
    const o = other.alloc();
    expect(code(() => area.free(o))).toBe('EINVAL');
    area.free(a);
    expect(code(() => area.free(a))).toBe('EINVAL');
    expect(area.used).toBe(0);
    expect(other.used).toBe(1);
  });

  it('shared by default (another thread can write it), or a plain ArrayBuffer on request', () => {
    expect(new Seq64Area().buffer).toBeInstanceOf(SharedArrayBuffer);
    const plain = new Seq64Area({ shared: false });
    expect(plain.buffer).toBeInstanceOf(ArrayBuffer);
    expect(plain.user).toBeInstanceOf(IosysMap);
    expect(plain.slots).toBe(64);
  });

  it('bad options are EINVAL; the area allocates (ENOMEM under fault injection)', () => {
    expect(code(() => new Seq64Area({ slots: 0 }))).toBe('EINVAL');
    expect(code(() => new Seq64Area({ slots: 1.5 }))).toBe('EINVAL');
    expect(code(() => new Seq64Area({ slots: 1 << 20 }))).toBe('EINVAL');
    expect(code(() => new Seq64Area({ shared: 'yes' as unknown as boolean }))).toBe('EINVAL');
    const rt = new Runtime();
    rt.faults.failAlloc({ site: 'amdgpu_seq64_init' });
    expect(code(() => new Seq64Area({ runtime: rt }))).toBe('ENOMEM');
  });
});
