// GEM objects and their handles: create/close, refcounts and lifetimes, per-file isolation,
// flink/open, PRIME export/import within and across devices, fault injection.
import { DepError, errnoOf } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { newFence, secondDevice, setup } from './__fixtures__/setup.js';
import { GemObject } from './gem.js';
import { GpuVm } from './gpuvm.js';
import { DmaBufFd } from './prime.js';
import { DRM_CLOEXEC, DRM_RDWR, GemCreateFlags } from './uapi.js';
import { DmaResvUsage } from '@dep/dma-resv';

function nonWarn(reports: readonly { kind: string }[]): unknown[] {
  return reports.filter((r) => r.kind !== 'warn');
}

describe('GEM create / close', () => {
  it('a handle holds the object; closing the last handle frees it and its memory', async () => {
    const { rt, dev, memory } = setup();
    const free0 = memory.region('system').allocator.free;
    await rt.run(async () => {
      const f = dev.open();
      const a = await f.gemCreate({ size: 3n * 4096n });
      const b = await f.gemCreate({ size: 4096n });
      expect([a.handle, b.handle]).toEqual([1, 2]);
      const obj = f.gem.lookup(a.handle)!;
      expect(obj).toBeInstanceOf(GemObject);
      expect([obj.size, obj.refcount, obj.handleCount]).toEqual([12288n, 1, 1]);
      expect(obj.buffer!.region).toBe('system');
      expect(memory.region('system').allocator.free).toBe(free0 - 4 * 4096);
      await f.gemClose({ handle: a.handle });
      expect(obj.released).toBe(true);
      expect(dev.objects.map((o) => o.id)).toEqual([f.gem.lookup(b.handle)!.id]);
      expect(await errnoOf(f.gemClose({ handle: a.handle })), 'GEM_CLOSE of a closed handle: EINVAL, as the kernel').toBe('EINVAL');
      const c = await f.gemCreate({ size: 4096n, flags: GemCreateFlags.VRAM });
      expect(c.handle, 'the freed handle is reused').toBe(1);
      expect(f.gem.lookup(c.handle)!.buffer!.region).toBe('vram');
      await f.close();
    });
    expect(dev.objects).toEqual([]);
    expect(memory.region('system').allocator.free).toBe(free0);
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('closing the file puts every handle: no leak report at shutdown', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      for (let i = 0; i < 5; i++) await f.gemCreate({ size: 4096n });
      await f.syncobjCreate();
      expect(dev.objects).toHaveLength(5);
      await f.close();
      expect(f.released).toBe(true);
      expect(dev.files).toEqual([]);
    });
    expect(dev.objects).toEqual([]);
    expect(() => rt.shutdown()).not.toThrow();
  });

  it('a reference never put is a leak report naming drm_gem_object', async () => {
    const { rt, dev } = setup({ checks: 'warn' });
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.gemCreate({ size: 4096n });
      f.gemLookup(handle); // a reference we "forget"
      await f.close();
    });
    const leaks = rt.shutdown().filter((r) => r.kind === 'leak');
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.message).toMatch(/drm_gem_object/);
  });

  it('ENOSPC when vram is full; EINVAL for a bad size; nothing left behind', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const before = dev.snapshot();
      expect(await errnoOf(f.gemCreate({ size: 128n << 20n, flags: GemCreateFlags.VRAM }))).toBe('ENOSPC');
      expect(await errnoOf(f.gemCreate({ size: 128n << 20n }))).toBe('ENOMEM');
      expect(await errnoOf(f.gemCreate({ size: 4095n }))).toBe('EINVAL');
      expect(await errnoOf(f.gemCreate({}))).toBe('EINVAL');
      expect(await errnoOf(f.gemCreate({ size: 4096n, vmId: 3 })), 'no such VM').toBe('ENOENT');
      expect(dev.snapshot()).toEqual(before);
      await f.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('allocation failures in every create path fail cleanly', async () => {
    const { rt, dev, memory } = setup();
    const free0 = memory.region('system').allocator.free;
    await rt.run(async () => {
      const f = dev.open();
      const before = dev.snapshot();
      for (const site of ['hw_sim_mem_alloc', 'drm_gem_object_init', 'drm_gem_handle_create']) {
        const rule = rt.faults.failAlloc({ site, times: 1 });
        expect(await errnoOf(f.gemCreate({ size: 8192n })), site).toBe('ENOMEM');
        expect(rule.injected, site).toBe(1);
        expect(dev.snapshot(), site).toEqual(before);
        expect(memory.region('system').allocator.free, site).toBe(free0);
      }
      expect((await f.gemCreate({ size: 8192n })).handle).toBe(1);
      await f.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('a driver open hook that throws makes the handle creation fail without a trace', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const obj = await dev.gemObjectCreate({ size: 4096n, funcs: { open: () => { throw new DepError('EACCES', 'no'); } } });
      expect(() => f.gemHandleCreate(obj)).toThrow(/EACCES/);
      expect([obj.handleCount, obj.refcount, f.gem.size]).toEqual([0, 1, 0]);
      obj.put();
      expect(obj.released).toBe(true);
      await f.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });
});

describe('handle isolation between files', () => {
  it("another file's handle names nothing: lookups ENOENT, GEM_CLOSE EINVAL, nothing changes", async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const b = dev.open();
      const { handle } = await a.gemCreate({ size: 4096n });
      const sync = await a.syncobjCreate();
      const before = dev.snapshot();
      expect(b.gemLookup(handle)).toBeNull();
      expect(await errnoOf(b.gemFlink({ handle }))).toBe('ENOENT');
      expect(await errnoOf(b.primeHandleToFd({ handle }))).toBe('ENOENT');
      expect(await errnoOf(b.gemClose({ handle }))).toBe('EINVAL');
      expect(await errnoOf(b.syncobjWait({ handles: [sync.handle], timeoutNsec: 0n }))).toBe('ENOENT');
      expect(await errnoOf(b.syncobjSignal({ handles: [sync.handle] }))).toBe('ENOENT');
      expect(await errnoOf(b.syncobjReset({ handles: [sync.handle] }))).toBe('ENOENT');
      expect(await errnoOf(b.syncobjQuery({ handles: [sync.handle] }))).toBe('ENOENT');
      expect(await errnoOf(b.syncobjDestroy({ handle: sync.handle }))).toBe('EINVAL');
      expect(await errnoOf(b.syncobjHandleToFd({ handle: sync.handle }))).toBe('EINVAL');
      expect(await errnoOf(b.syncobjHandleToFd({ handle: sync.handle, flags: 1 }))).toBe('ENOENT');
      expect(await errnoOf(b.syncobjTransfer({ srcHandle: sync.handle, dstHandle: sync.handle }))).toBe('ENOENT');
      expect(dev.snapshot()).toEqual(before);
      // b's own handle 1 is a different object
      const mine = await b.gemCreate({ size: 8192n });
      expect(mine.handle).toBe(handle);
      expect(b.gem.lookup(mine.handle)).not.toBe(a.gem.lookup(handle));
      await a.close();
      await b.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('a closed file fails every ioctl with EBADF; close twice is EBADF', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      await f.close();
      expect(await errnoOf(f.gemCreate({ size: 4096n }))).toBe('EBADF');
      expect(await errnoOf(f.syncobjCreate())).toBe('EBADF');
      expect(await errnoOf(f.close())).toBe('EBADF');
    });
  });
});

describe('flink / open', () => {
  it('a global name opens the same object in another file; the name dies with the last handle', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const b = dev.open();
      const { handle } = await a.gemCreate({ size: 8192n });
      const { name } = await a.gemFlink({ handle });
      expect(name).toBe(1);
      expect((await a.gemFlink({ handle })).name, 'the same name every time').toBe(name);
      const opened = await b.gemOpen({ name });
      expect(opened.size).toBe(8192n);
      const obj = a.gem.lookup(handle)!;
      expect(b.gem.lookup(opened.handle)).toBe(obj);
      expect([obj.handleCount, obj.refcount]).toEqual([2, 1]);
      expect(await errnoOf(b.gemOpen({ name: name + 1 }))).toBe('ENOENT');
      await a.gemClose({ handle });
      expect((await b.gemOpen({ name })).handle, 'b still has a handle: the name lives').toBe(2);
      await b.gemClose({ handle: 1 });
      await b.gemClose({ handle: 2 });
      expect(obj.released).toBe(true);
      expect(await errnoOf(b.gemOpen({ name }))).toBe('ENOENT');
      await a.close();
      await b.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('flink under fault injection changes nothing', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const { handle } = await a.gemCreate({ size: 4096n });
      const before = dev.snapshot();
      rt.faults.failAlloc({ site: 'drm_gem_flink', times: 1 });
      expect(await errnoOf(a.gemFlink({ handle }))).toBe('ENOMEM');
      expect(dev.snapshot()).toEqual(before);
      await a.close();
    });
  });
});

describe('PRIME', () => {
  it('export / import across files shares the same object and resv; re-import gives the same handle', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const b = dev.open();
      const { handle } = await a.gemCreate({ size: 4096n });
      const obj = a.gem.lookup(handle)!;
      const { fd } = await a.primeHandleToFd({ handle, flags: DRM_CLOEXEC | DRM_RDWR });
      expect(fd).toBeInstanceOf(DmaBufFd);
      expect([fd.cloexec, fd.rdwr]).toEqual([true, true]);
      expect(fd.dmaBuf.obj).toBe(obj);
      expect(fd.dmaBuf.resv).toBe(obj.resv);
      const again = await a.primeHandleToFd({ handle });
      expect(again.fd.dmaBuf, 'one dma-buf per object').toBe(fd.dmaBuf);
      const { handle: bh } = await b.primeFdToHandle({ fd: fd });
      expect(b.gem.lookup(bh)).toBe(obj);
      expect(b.gem.lookup(bh)!.resv).toBe(obj.resv);
      expect((await b.primeFdToHandle({ fd: again.fd })).handle, 'the prime cache dedups').toBe(bh);
      expect((await a.primeFdToHandle({ fd })).handle, 'the exporter gets its own handle back').toBe(handle);
      // a fence added through one file's view is seen through the other's
      const fence = newFence(rt);
      await obj.resv.lock();
      expect(obj.resv.reserveFences(1)).toBe(0);
      obj.resv.addFence(fence, DmaResvUsage.WRITE, { foreign: true });
      obj.resv.unlock();
      expect(b.gem.lookup(bh)!.resv.testSignaled(DmaResvUsage.READ)).toBe(false);
      fence.signal();
      fence.put();
      fd.close();
      again.fd.close();
      expect(await errnoOf(b.primeFdToHandle({ fd }))).toBe('EBADF');
      expect(() => fd.close()).toThrow(/EBADF/);
      await a.gemClose({ handle });
      expect(obj.released, 'b still holds a handle').toBe(false);
      await b.close();
      expect(obj.released).toBe(true);
      await a.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('two handles of one object in a file, both exported: closing one keeps the other in the prime cache', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const { handle: h1 } = await a.gemCreate({ size: 4096n });
      const { name } = await a.gemFlink({ handle: h1 });
      const { handle: h2 } = await a.gemOpen({ name });
      const e1 = await a.primeHandleToFd({ handle: h1 });
      const e2 = await a.primeHandleToFd({ handle: h2 });
      expect(e2.fd.dmaBuf).toBe(e1.fd.dmaBuf);
      expect((await a.primeFdToHandle({ fd: e1.fd })).handle, 'the first cached handle').toBe(h1);
      await a.gemClose({ handle: h1 });
      expect((await a.primeFdToHandle({ fd: e1.fd })).handle, 'still cached through h2: no new handle').toBe(h2);
      expect(a.gem.size).toBe(1);
      e1.fd.close();
      e2.fd.close();
      await a.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('the dma-buf outlives the handles while an fd is open', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const b = dev.open();
      const { handle } = await a.gemCreate({ size: 4096n });
      const obj = a.gem.lookup(handle)!;
      const { fd } = await a.primeHandleToFd({ handle });
      await a.close();
      expect(obj.released, 'the fd holds the dma-buf, which holds the object').toBe(false);
      expect(obj.dmaBuf, 'no handle left: the object dropped its dma_buf pointer').toBeNull();
      const { handle: bh } = await b.primeFdToHandle({ fd });
      expect(b.gem.lookup(bh)).toBe(obj);
      fd.close();
      await b.close();
      expect(obj.released).toBe(true);
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('import from another device attaches a new object sharing resv and backing', async () => {
    const { rt, dev } = setup();
    const dev2 = secondDevice(rt);
    await rt.run(async () => {
      const a = dev.open();
      const x = dev2.open();
      const { handle } = await a.gemCreate({ size: 8192n });
      const obj = a.gem.lookup(handle)!;
      const { fd } = await a.primeHandleToFd({ handle });
      const { handle: xh } = await x.primeFdToHandle({ fd });
      const imp = x.gem.lookup(xh)!;
      expect(imp).not.toBe(obj);
      expect(imp.dev).toBe(dev2);
      expect(imp.importAttach).toBe(fd.dmaBuf);
      expect(imp.resv).toBe(obj.resv);
      expect(imp.buffer).toBe(obj.buffer);
      expect(imp.size).toBe(8192n);
      // re-exporting the imported object gives the original dma-buf back
      const re = await x.primeHandleToFd({ handle: xh });
      expect(re.fd.dmaBuf).toBe(fd.dmaBuf);
      re.fd.close();
      fd.close();
      await a.close();
      expect(obj.released, 'the importer keeps the exporter alive').toBe(false);
      await x.close();
      expect([obj.released, imp.released]).toEqual([true, true]);
      expect(obj.buffer!.freed).toBe(true);
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('bad fds: EBADF for none / closed, EINVAL for another kind of file', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const s = await a.syncobjCreate();
      const { fd: sfd } = await a.syncobjHandleToFd({ handle: s.handle });
      expect(await errnoOf(a.primeFdToHandle({ fd: sfd as never }))).toBe('EINVAL');
      expect(await errnoOf(a.primeFdToHandle({ fd: 3 as never }))).toBe('EBADF');
      expect(await errnoOf(a.primeFdToHandle({}))).toBe('EBADF');
      sfd.close();
      await a.close();
    });
  });

  it('VM-private objects cannot be exported (EINVAL, or the driver veto)', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const vm = new GpuVm(dev);
      const vmId = a.vms.alloc(vm);
      const { handle } = await a.gemCreate({ size: 4096n, vmId });
      expect(a.gem.lookup(handle)!.resv).toBe(vm.resv);
      const before = dev.snapshot();
      expect(await errnoOf(a.primeHandleToFd({ handle }))).toBe('EINVAL');
      const vetoed = await dev.gemObjectCreate({ size: 4096n, vm, funcs: { export: () => { throw new DepError('EPERM', 'xe says no'); } } });
      const vh = a.gemHandleCreate(vetoed);
      vetoed.put();
      expect(await errnoOf(a.primeHandleToFd({ handle: vh }))).toBe('EPERM');
      await a.gemClose({ handle: vh });
      expect(dev.snapshot()).toEqual(before);
      await a.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('export and import under fault injection change nothing', async () => {
    const { rt, dev } = setup();
    const dev2 = secondDevice(rt);
    await rt.run(async () => {
      const a = dev.open();
      const b = dev.open();
      const x = dev2.open();
      const { handle } = await a.gemCreate({ size: 4096n });
      for (const site of ['drm_prime_add_buf_handle', 'dma_buf_export']) {
        const before = dev.snapshot();
        rt.faults.failAlloc({ site, times: 1 });
        expect(await errnoOf(a.primeHandleToFd({ handle })), site).toBe('ENOMEM');
        expect(dev.snapshot(), site).toEqual(before);
      }
      const { fd } = await a.primeHandleToFd({ handle });
      for (const [file, site] of [
        [b, 'drm_prime_add_buf_handle'],
        [b, 'drm_gem_handle_create'],
        [x, 'drm_gem_object_init'],
        [x, 'drm_gem_handle_create'],
      ] as const) {
        const before = [dev.snapshot(), dev2.snapshot()];
        rt.faults.failAlloc({ site, times: 1 });
        expect(await errnoOf(file.primeFdToHandle({ fd })), site).toBe('ENOMEM');
        expect([dev.snapshot(), dev2.snapshot()], site).toEqual(before);
      }
      fd.close();
      await a.close();
      await b.close();
      await x.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });
});
