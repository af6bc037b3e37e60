// The file: close semantics (EBADF at once, release deferred past ioctls in flight), a
// driver's subclasses (own table, own ioctl through the validator, postclose), features,
// and the drm:* tracepoints (emitted only while tracing).
import { errnoOf, MemoryTraceSink } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { newFence, setup } from './__fixtures__/setup.js';
import { DrmDevice } from './device.js';
import { DrmFile } from './file.js';
import { OutSyncs } from './submit.js';
import { DRM_TIMEOUT_INFINITE } from './uapi.js';
import { defineIoctl, flags, handle, pad, u32 } from './validate.js';

describe('close', () => {
  it('EBADF at once for new ioctls; the release waits for the ioctl in flight', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.syncobjCreate();
      const fence = newFence(rt);
      let waitResult: unknown = null;
      const waiter = rt.spawn('waiter', async () => {
        waitResult = await f.syncobjWait({ handles: [handle], timeoutNsec: DRM_TIMEOUT_INFINITE, flags: 2 });
      });
      await rt.sleep(1);
      expect(f.inflight).toBe(1);
      await f.close();
      expect([f.closed, f.released]).toEqual([true, false]);
      expect(await errnoOf(f.syncobjCreate())).toBe('EBADF');
      const s = f.syncobjs.lookup(handle)!;
      expect(s.refcount, 'the wait holds its own reference, the handle is not put yet').toBeGreaterThan(1);
      OutSyncs.prepare(f, [{ handle }]).install(fence);
      await rt.sleep(2);
      fence.signal();
      await f.whenReleased();
      expect(waiter.finished).toBe(true);
      expect(waitResult).toEqual({ firstSignaled: 0 });
      expect(f.released).toBe(true);
      expect(s.refcount).toBe(0);
      expect(dev.files).toEqual([]);
      fence.put();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });
});

describe('close during a sleeping release', () => {
  it('an ioctl arriving while postclose sleeps fails with EBADF and does not release twice', async () => {
    const { rt, memory } = setup();
    let releases = 0;
    class SlowFile extends DrmFile {
      protected override async postclose(): Promise<void> {
        releases++;
        await rt.sleep(5);
      }
    }
    class SlowDevice extends DrmDevice<SlowFile> {
      protected override createFile(id: number): SlowFile {
        return new SlowFile(this, id);
      }
    }
    const dev = new SlowDevice({ runtime: rt, memory });
    await rt.run(async () => {
      const f = dev.open();
      await f.gemCreate({ size: 4096n });
      const closing = rt.spawn('close', () => f.close(), { joinable: true });
      await rt.sleep(1);
      expect([f.closed, f.released]).toEqual([true, false]);
      expect(await errnoOf(f.syncobjCreate())).toBe('EBADF');
      await closing.join();
      expect([releases, f.released, rt.now()]).toEqual([1, true, 5]);
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });
});

/** A toy driver: a per-file table of "contexts", a CTX_CREATE/DESTROY ioctl, a postclose. */
class ToyContext {
  destroyed = false;
  constructor(readonly priority: number) {}
}

const CTX_CREATE = defineIoctl('DRM_IOCTL_TOY_CTX_CREATE', { priority: u32({ max: 3 }), flags: flags(0), pad: pad() });
const CTX_DESTROY = defineIoctl('DRM_IOCTL_TOY_CTX_DESTROY', { ctxId: handle('ctx'), pad: pad() });

class ToyFile extends DrmFile {
  readonly contexts = this.createTable<ToyContext>('ctx', { release: (c) => void (c.destroyed = true) });
  postcloseRan = false;

  async ctxCreate(args: { priority?: number; flags?: number; pad?: number }): Promise<{ ctxId: number }> {
    return this.ioctl(CTX_CREATE, args, (a) => ({ ctxId: this.contexts.alloc(new ToyContext(a.priority)) }));
  }

  async ctxDestroy(args: { ctxId?: number; pad?: number }): Promise<void> {
    return this.ioctl(CTX_DESTROY, args, (a) => {
      const c = this.contexts.remove(a.ctxId);
      if (c === undefined) throw new Error('unreachable in this test');
      c.destroyed = true;
    });
  }

  protected override async postclose(): Promise<void> {
    this.postcloseRan = true;
    expect(this.gem.size, 'GEM handles are released before postclose').toBe(0);
    expect(this.contexts.size, 'driver tables after postclose').toBe(1);
  }
}

class ToyDevice extends DrmDevice<ToyFile> {
  protected override createFile(id: number): ToyFile {
    return new ToyFile(this, id);
  }
}

describe('a driver built on DrmDevice/DrmFile', () => {
  it('own file class, own table, own validated ioctls, postclose, and the snapshot sees its table', async () => {
    const { rt, memory } = setup();
    const dev = new ToyDevice({ runtime: rt, memory, name: 'toy0', driverName: 'toy', features: ['gem'] });
    await rt.run(async () => {
      const f = dev.open();
      expect(f).toBeInstanceOf(ToyFile);
      const { ctxId } = await f.ctxCreate({ priority: 2 });
      expect(ctxId).toBe(1);
      expect(f.table('ctx')).toBe(f.contexts);
      expect(await errnoOf(f.ctxCreate({ priority: 4 }))).toBe('EINVAL');
      expect(await errnoOf(f.ctxCreate({ flags: 1 }))).toBe('EINVAL');
      expect(await errnoOf(f.syncobjCreate()), 'no syncobj feature').toBe('EOPNOTSUPP');
      const ctx = f.contexts.lookup(ctxId)!;
      expect(dev.snapshot().files[0]!.tables).toEqual({ ctx: [[1, dev.idOf(ctx)]] });
      expect(() => f.createTable('ctx')).toThrow(/EEXIST/);
      expect(() => f.table('nope')).toThrow(/ENOENT/);
      await f.gemCreate({ size: 4096n });
      await f.close();
      expect(f.postcloseRan).toBe(true);
      expect(ctx.destroyed, 'the table release ran for what was left').toBe(true);
    });
  });

  it('new DrmDevice validates its options', () => {
    const { rt, memory } = setup();
    expect(() => new DrmDevice({ runtime: rt, memory, features: ['bogus' as never] })).toThrow(/EINVAL/);
    expect(() => new DrmDevice({ runtime: rt } as never)).toThrow(/EINVAL/);
  });
});

describe('tracepoints', () => {
  it('drm:ioctl slices with the return code, syncobj and GEM events — only while tracing', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      await f.syncobjCreate();
      const sink = new MemoryTraceSink();
      const detach = rt.trace.attach(sink);
      const { handle } = await f.syncobjCreate({ flags: 1 });
      await f.syncobjWait({ handles: [handle], timeoutNsec: 0n });
      await errnoOf(f.syncobjDestroy({ handle: 99 }));
      await f.gemCreate({ size: 4096n });
      detach();
      await f.syncobjCreate();
      const ioctls = sink.named('drm:ioctl').map((r) => [r.args.ioctl, r.args.ret, r.ph]);
      expect(ioctls).toEqual([
        ['DRM_IOCTL_SYNCOBJ_CREATE', 0, 'X'],
        ['DRM_IOCTL_SYNCOBJ_WAIT', 0, 'X'],
        ['DRM_IOCTL_SYNCOBJ_DESTROY', -22, 'X'],
        ['DRM_IOCTL_GEM_CREATE', 0, 'X'],
      ]);
      expect(sink.named('drm:syncobj_create').map((r) => r.args)).toEqual([{ file: f.label, handle: 2, signaled: true }]);
      expect(sink.named('drm:syncobj_wait')).toHaveLength(1);
      expect(sink.named('drm:gem_create')).toHaveLength(1);
      await f.close();
    });
  });
});
