// The GPU VM: map/unmap with alignment, range and overlap checks, splits (remap ops),
// VM-private objects sharing the VM resv, external objects, lockAll/execLock, lifetimes.
import { DmaResvUsage } from '@dep/dma-resv';
import { DepError, type ErrnoName } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { newFence, secondDevice, setup } from './__fixtures__/setup.js';
import type { DrmDevice } from './device.js';
import type { GemObject } from './gem.js';
import { GpuVm, type GpuVaOp } from './gpuvm.js';
import { U64_MAX } from './validate.js';

const P = 4096n;

function errnoOf(fn: () => unknown): ErrnoName | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof DepError) return e.code;
    throw e;
  }
}

function layout(vm: GpuVm): string[] {
  return vm.mappings().map((m) => `${m.va / P}+${m.range / P}@${m.offset / P}:${m.bo.id}`);
}

function opNames(ops: readonly GpuVaOp[]): string[] {
  return ops.map((o) => o.op);
}

async function bo(dev: DrmDevice, pages: bigint, vm: GpuVm | null = null): Promise<GemObject> {
  return dev.gemObjectCreate({ size: pages * P, vm });
}

describe('GpuVm map/unmap', () => {
  it('maps, rejects overlaps (EEXIST), misalignment and bad ranges (EINVAL) without changing anything', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const vm = new GpuVm(dev, { start: 0x1000n, range: 0x100000n, reserveStart: 0x80000n, reserveRange: 0x10000n });
      const a = await bo(dev, 4n);
      const ops = vm.map(a, 0x2000n, 0n, 4n * P);
      expect(opNames(ops)).toEqual(['map']);
      expect(a.refcount, 'the mapping holds a reference').toBe(2);
      const before = layout(vm);
      expect(errnoOf(() => vm.map(a, 0x4000n, 0n, P)), 'overlap').toBe('EEXIST');
      expect(errnoOf(() => vm.map(a, 0x10001n, 0n, P)), 'misaligned va').toBe('EINVAL');
      expect(errnoOf(() => vm.map(a, 0x10000n, 1n, P)), 'misaligned offset').toBe('EINVAL');
      expect(errnoOf(() => vm.map(a, 0x10000n, 0n, P + 1n)), 'misaligned range').toBe('EINVAL');
      expect(errnoOf(() => vm.map(a, 0x10000n, 0n, 0n)), 'empty').toBe('EINVAL');
      expect(errnoOf(() => vm.map(a, 0x10000n, 2n * P, 3n * P)), 'beyond the object').toBe('EINVAL');
      expect(errnoOf(() => vm.map(a, 0n, 0n, P)), 'below start').toBe('EINVAL');
      expect(errnoOf(() => vm.map(a, 0x100000n, 0n, 2n * P)), 'past the end').toBe('EINVAL');
      expect(errnoOf(() => vm.map(a, 0x7f000n, 0n, 2n * P)), 'touches the reserved node').toBe('EINVAL');
      expect(errnoOf(() => vm.map(a, U64_MAX - P + 1n, 0n, 2n * P)), 'overflows u64').toBe('EINVAL');
      expect(errnoOf(() => vm.map(a, -P, 0n, P))).toBe('EINVAL');
      expect(errnoOf(() => vm.unmap(0x10001n, P))).toBe('EINVAL');
      expect(layout(vm)).toEqual(before);
      expect(a.refcount).toBe(2);
      vm.close();
      expect(a.refcount).toBe(1);
      a.put();
      vm.put();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('unmap removes, splits straddling mappings (remap), and is a no-op where nothing is mapped', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const vm = new GpuVm(dev);
      const a = await bo(dev, 8n);
      vm.map(a, 10n * P, 0n, 8n * P);
      const ops = vm.unmap(12n * P, 2n * P);
      expect(opNames(ops)).toEqual(['remap']);
      expect(layout(vm)).toEqual([`10+2@0:${a.id}`, `14+4@4:${a.id}`]);
      expect(a.refcount, 'two mappings, one reference each, plus ours').toBe(3);
      expect(vm.unmap(100n * P, P)).toEqual([]);
      expect(opNames(vm.unmap(9n * P, 20n * P))).toEqual(['unmap', 'unmap']);
      expect(layout(vm)).toEqual([]);
      expect(a.refcount).toBe(1);
      a.put();
      vm.close();
      vm.put();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('map with replace: sm_map semantics split or drop what it overlaps', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const vm = new GpuVm(dev);
      const a = await bo(dev, 10n);
      const b = await bo(dev, 2n);
      vm.map(a, 0n, 0n, 10n * P);
      const ops = vm.map(b, 3n * P, 0n, 2n * P, { replace: true });
      expect(opNames(ops)).toEqual(['remap', 'map']);
      expect(layout(vm)).toEqual([`0+3@0:${a.id}`, `3+2@0:${b.id}`, `5+5@5:${a.id}`]);
      const r = ops[0]!;
      expect(r.op === 'remap' && r.prev !== null && r.next !== null).toBe(true);
      vm.map(b, 0n, 0n, 2n * P, { replace: true });
      expect(layout(vm)[0]).toBe(`0+2@0:${b.id}`);
      vm.close();
      a.put();
      b.put();
      vm.put();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('allocation failure in map/unmap (split) changes nothing', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const vm = new GpuVm(dev);
      const a = await bo(dev, 8n);
      vm.map(a, 0n, 0n, 8n * P);
      const before = layout(vm);
      rt.faults.failAlloc({ site: 'drm_gpuva_alloc', nth: 2 });
      expect(errnoOf(() => vm.unmap(2n * P, P)), 'the split needs two new mappings').toBe('ENOMEM');
      expect(layout(vm)).toEqual(before);
      expect(a.refcount).toBe(2);
      vm.close();
      a.put();
      vm.put();
    });
  });
});

describe('GpuVm objects and locking', () => {
  it('VM-private objects share the VM resv and cannot be mapped elsewhere; external ones are tracked', async () => {
    const { rt, dev } = setup();
    const dev2 = secondDevice(rt);
    await rt.run(async () => {
      const vm = new GpuVm(dev);
      const other = new GpuVm(dev);
      const priv = await bo(dev, 1n, vm);
      const ext = await bo(dev, 1n);
      const foreign = await dev2.gemObjectCreate({ size: P });
      expect(priv.resv).toBe(vm.resv);
      expect(priv.vm).toBe(vm);
      expect(errnoOf(() => other.map(priv, 0n, 0n, P)), 'private to another VM').toBe('EINVAL');
      expect(errnoOf(() => vm.map(foreign, 0n, 0n, P)), 'another device').toBe('EINVAL');
      vm.map(priv, 0n, 0n, P);
      vm.map(ext, P, 0n, P);
      vm.map(ext, 2n * P, 0n, P);
      expect(vm.isExtobj(priv)).toBe(false);
      expect(vm.isExtobj(ext)).toBe(true);
      expect(vm.extobjs()).toEqual([ext]);
      vm.unmap(P, P);
      expect(vm.extobjs(), 'still mapped once').toEqual([ext]);
      vm.unmap(2n * P, P);
      expect(vm.extobjs()).toEqual([]);
      vm.close();
      other.close();
      for (const o of [priv, ext, foreign]) o.put();
      // the private object kept the VM's resv object alive, not the VM
      vm.put();
      other.put();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('a private object outliving its VM keeps the shared resv alive (no cycle, no leak)', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const vm = new GpuVm(dev);
      const priv = await bo(dev, 1n, vm);
      vm.map(priv, 0n, 0n, P);
      vm.close();
      vm.put();
      expect(vm.refcount).toBe(0);
      expect(vm.resvObj.released, 'the private object holds r_obj').toBe(false);
      expect(priv.resv.isFinished).toBe(false);
      priv.put();
      expect(vm.resvObj.released).toBe(true);
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('execLock locks the VM resv and every external object with slots; resvAddFence fills them', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const vm = new GpuVm(dev);
      const priv = await bo(dev, 1n, vm);
      const ext1 = await bo(dev, 1n);
      const ext2 = await bo(dev, 1n);
      const extra = await bo(dev, 1n);
      vm.map(priv, 0n, 0n, P);
      vm.map(ext1, P, 0n, P);
      vm.map(ext2, 2n * P, 0n, P);
      const exec = await vm.execLock({ numFences: 2, extra: [priv, ext1, extra] });
      expect(exec.objects.map((o) => o.id).sort()).toEqual([vm.resvObj.id, ext1.id, ext2.id, extra.id].sort());
      for (const o of [vm.resvObj, ext1, ext2, extra]) expect(o.resv.isLocked).toBe(true);
      const job = newFence(rt);
      vm.resvAddFence(job, DmaResvUsage.BOOKKEEP, DmaResvUsage.BOOKKEEP);
      exec.fini();
      for (const o of [vm.resvObj, ext1, ext2, extra]) expect(o.resv.isLocked).toBe(false);
      expect(vm.resv.testSignaled(DmaResvUsage.BOOKKEEP)).toBe(false);
      expect(ext2.resv.testSignaled(DmaResvUsage.BOOKKEEP)).toBe(false);
      expect(extra.resv.testSignaled(DmaResvUsage.BOOKKEEP), 'not part of the VM').toBe(true);
      expect(ext1.resv.testSignaled(DmaResvUsage.READ), 'BOOKKEEP is not implicit sync').toBe(true);
      job.signal();
      job.put();
      vm.close();
      for (const o of [priv, ext1, ext2, extra]) o.put();
      vm.put();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('closed VMs refuse maps (ENOENT); the file closes and puts its VMs', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const vm = new GpuVm(dev);
      const id = f.vms.alloc(vm);
      const { handle } = await f.gemCreate({ size: P, vmId: id });
      const obj = f.gem.lookup(handle)!;
      vm.map(obj, 0n, 0n, P);
      expect(dev.snapshot().files[0]!.vms).toEqual([[id, [`0+1000→${obj.id}@0`], []]]);
      vm.get();
      obj.get();
      await f.close();
      expect(vm.closed).toBe(true);
      expect(vm.refcount, 'only ours is left').toBe(1);
      expect(errnoOf(() => vm.map(obj, 0n, 0n, P))).toBe('ENOENT');
      expect(obj.refcount, 'the mapping was dropped at close').toBe(1);
      obj.put();
      vm.put();
      expect(obj.released).toBe(true);
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('a VM put with mappings left WARNs and still drops them', async () => {
    const { rt, dev } = setup({ checks: 'warn' });
    await rt.run(async () => {
      const vm = new GpuVm(dev);
      const a = await bo(dev, 1n);
      vm.map(a, 0n, 0n, P);
      vm.put();
      expect(a.refcount).toBe(1);
      a.put();
    });
    const reports = rt.shutdown();
    expect(reports.filter((r) => r.kind === 'warn').map((r) => r.message)).toEqual([expect.stringMatching(/GPUVA tree is not empty/)]);
    expect(reports.filter((r) => r.kind === 'leak')).toEqual([]);
  });

  it('bad VM ranges are EINVAL at init', () => {
    const { dev } = setup();
    expect(() => new GpuVm(dev, { range: 0n })).toThrow(/EINVAL/);
    expect(() => new GpuVm(dev, { start: 1n })).toThrow(/EINVAL/);
    expect(() => new GpuVm(dev, { start: U64_MAX - P + 1n, range: 2n * P })).toThrow(/EINVAL/);
    expect(() => new GpuVm(dev, { range: 16n * P, reserveStart: 15n * P, reserveRange: 2n * P })).toThrow(/EINVAL/);
    expect(() => new GpuVm(dev, { pageSize: 3000n })).toThrow(/EINVAL/);
  });
});
