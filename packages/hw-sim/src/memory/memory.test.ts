import { Runtime, isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { DeviceMemory } from './device-memory.js';
import { RangeAllocator } from './range-allocator.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isDepError(e) ? e.code : `not a DepError: ${String(e)}`;
  }
  return undefined;
}

describe('RangeAllocator', () => {
  it('allocates first fit with alignment and coalesces on release', () => {
    const a = new RangeAllocator(1024);
    const x = a.alloc(100)!;
    const y = a.alloc(100, 256)!;
    const z = a.alloc(50)!;
    expect(x).toEqual({ offset: 0, size: 100 });
    expect(y).toEqual({ offset: 256, size: 100 });
    // first fit: z lands in the alignment gap before y
    expect(z).toEqual({ offset: 100, size: 50 });
    expect(a.used).toBe(250);
    a.release(x);
    a.release(z);
    expect(a.holes()[0]).toEqual({ offset: 0, size: 256 });
    a.release(y);
    expect(a.holes()).toEqual([{ offset: 0, size: 1024 }]);
    expect(a.count).toBe(0);
  });

  it('returns null when nothing fits and refuses bad releases', () => {
    const a = new RangeAllocator(64);
    expect(a.alloc(65)).toBeNull();
    const r = a.alloc(64)!;
    expect(a.alloc(1)).toBeNull();
    expect(code(() => a.release({ offset: 0, size: 128 }))).toBe('EINVAL');
    a.release(r);
    expect(code(() => a.release(r))).toBe('EINVAL');
    expect(code(() => a.alloc(8, 3))).toBe('EINVAL');
    expect(a.free).toBe(64);
  });
});

describe('DeviceMemory', () => {
  const rt = new Runtime();
  const mem = () => new DeviceMemory(rt, 'gpu', { vram: 64 * 1024, system: 64 * 1024 });

  it('maps addresses to buffers, reads and writes 64/32-bit little-endian values', () => {
    const m = mem();
    const a = m.allocNow('vram', 4096, { name: 'a' });
    const b = m.allocNow('system', 4096, { name: 'b' });
    expect(m.resolve(a.addr + 8)).toBe(a);
    expect(m.resolve(b.addr + 4095, 1)).toBe(b);
    expect(m.resolve(b.addr + 4095, 2)).toBeNull();
    m.write64(a.addr + 16, 0x0102030405060708n);
    expect(a.read64(16)).toBe(0x0102030405060708n);
    expect(a.read32(16)).toBe(0x05060708);
    expect(a.bytes()[16]).toBe(0x08);
    b.write32(4, 0xdeadbeef);
    expect(m.read32(b.addr + 4)).toBe(0xdeadbeef);
    expect(a.populated).toBe(true);
  });

  it('maps buffers as IosysMap views (I/O memory for vram), sharing the backing store', () => {
    const m = mem();
    const a = m.allocNow('vram', 4096);
    const b = m.allocNow('system', 4096);
    const map = a.map();
    map.wr(8, 'u64', 0xabcdefn);
    expect(a.read64(8)).toBe(0xabcdefn);
    a.write32(16, 7);
    expect(map.rd(16, 'u32')).toBe(7);
    expect(map.isIomem).toBe(true);
    expect(b.map().isIomem).toBe(false);
    expect(code(() => a.map({ readonly: true }).wr(0, 'u32', 1))).toBe('EACCES');
    a.free();
    expect(code(() => a.map())).toBe('EFAULT');
  });

  it('goes through the runtime allocation hook: fault injection fails it with ENOMEM, nothing allocated', () => {
    const rt2 = new Runtime();
    const m = new DeviceMemory(rt2, 'gpu', { vram: 64 * 1024 });
    rt2.faults.failAlloc({ site: 'hw_sim_mem_alloc', nth: 2 });
    m.allocNow('vram', 4096);
    expect(code(() => m.allocNow('vram', 4096))).toBe('ENOMEM');
    expect(m.region('vram').allocator.count).toBe(1);
    m.allocNow('vram', 4096);
    expect(m.region('vram').allocator.count).toBe(2);
  });

  it('fails with ENOSPC in vram and ENOMEM in system memory, changing nothing', () => {
    const m = mem();
    m.allocNow('vram', 60 * 1024);
    m.allocNow('system', 60 * 1024);
    const before = [m.region('vram').allocator.used, m.region('system').allocator.used];
    expect(code(() => m.allocNow('vram', 8192))).toBe('ENOSPC');
    expect(code(() => m.allocNow('system', 8192))).toBe('ENOMEM');
    expect([m.region('vram').allocator.used, m.region('system').allocator.used]).toEqual(before);
  });

  it('calls eviction callbacks in order until the allocation fits', async () => {
    const m = mem();
    const victims = [m.allocNow('vram', 16 * 1024), m.allocNow('vram', 16 * 1024), m.allocNow('vram', 16 * 1024), m.allocNow('vram', 16 * 1024)];
    const calls: string[] = [];
    m.onEvict('vram', (req) => {
      calls.push(`first ${req.size}`);
      return false; // nothing of ours to evict
    });
    m.onEvict('vram', async (req) => {
      calls.push(`second ${req.size}`);
      const v = victims.shift();
      if (v === undefined) return false;
      await rt.sleep(1);
      v.free();
      return true;
    });
    const p = rt.run(() => m.alloc('vram', 16 * 1024, { name: 'new' }));
    const buf = await p;
    expect(buf.name).toBe('new');
    expect(calls).toEqual(['first 16384', 'second 16384']);
    expect(rt.now()).toBe(1);
    expect(victims.length).toBe(3);
  });

  it('gives up with ENOSPC when the evictors free nothing (or only claim to)', async () => {
    const m = mem();
    m.allocNow('vram', 64 * 1024);
    let asked = 0;
    m.onEvict('vram', () => {
      asked++;
      return true; // a liar: frees nothing
    });
    await expect(rt.run(() => m.alloc('vram', 4096))).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(asked).toBe(1);
  });

  it('rejects bad input with the right errno and no state change', () => {
    const m = mem();
    const a = m.allocNow('vram', 4096);
    const used = m.region('vram').allocator.used;
    expect(code(() => m.allocNow('vram', 0))).toBe('EINVAL');
    expect(code(() => m.allocNow('vram', 1.5))).toBe('EINVAL');
    expect(code(() => m.allocNow('gtt' as 'vram', 4096))).toBe('EINVAL');
    expect(code(() => m.allocNow('vram', 4096, { align: 3 }))).toBe('EINVAL');
    expect(code(() => m.read64(a.addr + 4))).toBe('EINVAL');
    expect(code(() => m.read64(12345 * 8))).toBe('EFAULT');
    expect(code(() => m.write64(a.addr, -1n))).toBe('EINVAL');
    expect(code(() => a.read64(4090))).toBe('EINVAL');
    expect(code(() => m.onEvict('vram', 1 as unknown as () => boolean))).toBe('EINVAL');
    expect(m.region('vram').allocator.used).toBe(used);
    a.free();
    expect(code(() => a.free())).toBe('EINVAL');
    expect(code(() => a.view())).toBe('EFAULT');
    expect(code(() => m.read64(a.addr))).toBe('EFAULT');
    expect(code(() => new DeviceMemory(rt, 'x', { vram: { size: 8192, base: 0 }, system: { size: 8192, base: 4096 } }))).toBe('EINVAL');
  });
});
