// Every syncobj ioctl through DrmFile: create/destroy, fd export/import, sync_file
// export/import, waits (any/all, first index, virtual-time timeouts, WAIT_FOR_SUBMIT,
// WAIT_AVAILABLE, deadlines, interrupts), reset, signal, timeline signal/query/transfer,
// driver features, fault injection.
import { DmaFence, SyncFile, Syncobj, SyncobjQueryFlags, SyncobjWaitFlags, contextAlloc, toDmaFenceChain, type DmaFenceOps } from '@dep/dma-fence';
import { errnoOf, isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { newFence, setup, timelineFences } from './__fixtures__/setup.js';
import type { DrmFile } from './file.js';
import { OutSyncs } from './submit.js';
import { SyncobjFd } from './syncobj-fd.js';
import { DRM_TIMEOUT_INFINITE, SyncobjFdToHandleFlags, SyncobjHandleToFdFlags, absTimeoutNs } from './uapi.js';
import { U32_MAX } from './validate.js';

const { WAIT_ALL, WAIT_FOR_SUBMIT, WAIT_AVAILABLE, WAIT_DEADLINE } = SyncobjWaitFlags;

/** Install `fence` into the syncobj `handle` of `file` the way a driver's submit does. */
function install(file: DrmFile, handle: number, fence: DmaFence, point = 0n): void {
  OutSyncs.prepare(file, [{ handle, point }]).install(fence);
}

function fenceOf(file: DrmFile, handle: number): DmaFence | null {
  const f = file.syncobjs.lookup(handle)!.fenceGet();
  f?.put();
  return f as DmaFence | null;
}

describe('SYNCOBJ_CREATE / DESTROY', () => {
  it('create with and without SIGNALED; unknown flags EINVAL; destroy drops the handle', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const a = await f.syncobjCreate();
      const b = await f.syncobjCreate({ flags: 1 });
      expect([a.handle, b.handle]).toEqual([1, 2]);
      expect(fenceOf(f, a.handle)).toBeNull();
      expect(fenceOf(f, b.handle)!.isSignaled()).toBe(true);
      expect(await errnoOf(f.syncobjCreate({ flags: 2 }))).toBe('EINVAL');
      const s = f.syncobjs.lookup(a.handle)!;
      expect(await errnoOf(f.syncobjDestroy({ handle: a.handle, pad: 1 }))).toBe('EINVAL');
      expect(s.refcount).toBe(1);
      await f.syncobjDestroy({ handle: a.handle });
      expect(s.refcount).toBe(0);
      expect(await errnoOf(f.syncobjDestroy({ handle: a.handle })), 'the kernel says EINVAL').toBe('EINVAL');
      expect((await f.syncobjCreate()).handle, 'the freed handle is reused').toBe(1);
      await f.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('allocation failures in create change nothing', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const before = dev.snapshot();
      for (const site of ['drm_syncobj_create', 'drm_syncobj_get_handle', 'dma_fence_allocate_private_stub']) {
        rt.faults.failAlloc({ site, times: 1 });
        expect(await errnoOf(f.syncobjCreate({ flags: 1 })), site).toBe('ENOMEM');
        expect(dev.snapshot(), site).toEqual(before);
      }
      await f.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('EOPNOTSUPP without the syncobj / timeline features', async () => {
    const { rt, dev } = setup({ features: ['gem', 'syncobj'] });
    const { dev: bare } = setup({ features: ['gem'] });
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.syncobjCreate();
      expect(await errnoOf(f.syncobjQuery({ handles: [handle] }))).toBe('EOPNOTSUPP');
      expect(await errnoOf(f.syncobjTimelineSignal({ handles: [handle] }))).toBe('EOPNOTSUPP');
      expect(await errnoOf(f.syncobjTimelineWait({ handles: [handle] }))).toBe('EOPNOTSUPP');
      expect(await errnoOf(f.syncobjTransfer({ srcHandle: handle, dstHandle: handle }))).toBe('EOPNOTSUPP');
      // EOPNOTSUPP comes before argument checks, as the feature check does in the kernel
      expect(await errnoOf(f.syncobjQuery({ flags: 99 }))).toBe('EOPNOTSUPP');
      await f.close();
    });
    const g = bare.open();
    expect(await errnoOf(g.syncobjCreate())).toBe('EOPNOTSUPP');
  });
});

describe('SYNCOBJ_HANDLE_TO_FD / FD_TO_HANDLE', () => {
  it('a syncobj fd imports the very same syncobj in another file, a new handle per import', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const b = dev.open();
      const { handle } = await a.syncobjCreate();
      const { fd } = await a.syncobjHandleToFd({ handle });
      expect(fd).toBeInstanceOf(SyncobjFd);
      const s = a.syncobjs.lookup(handle)!;
      expect(s.refcount).toBe(2);
      const h1 = (await b.syncobjFdToHandle({ fd })).handle;
      const h2 = (await b.syncobjFdToHandle({ fd })).handle;
      expect([h1, h2]).toEqual([1, 2]);
      expect(b.syncobjs.lookup(h1)).toBe(s);
      expect(b.syncobjs.lookup(h2)).toBe(s);
      await b.syncobjSignal({ handles: [h1] });
      expect(fenceOf(a, handle)!.isSignaled(), "b's signal is a's").toBe(true);
      fd.close();
      expect(await errnoOf(b.syncobjFdToHandle({ fd })), 'closed fd: EINVAL, as fdget failing').toBe('EINVAL');
      await a.close();
      expect(s.refcount).toBe(2);
      await b.close();
      expect(s.refcount).toBe(0);
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('flag, pad, point and fd-kind errors are EINVAL', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const { handle } = await a.syncobjCreate({ flags: 1 });
      const { fd: sf } = await a.syncobjHandleToFd({ handle, flags: SyncobjHandleToFdFlags.EXPORT_SYNC_FILE });
      const { fd } = await a.syncobjHandleToFd({ handle });
      const before = dev.snapshot();
      expect(await errnoOf(a.syncobjHandleToFd({ handle, flags: 4 }))).toBe('EINVAL');
      expect(await errnoOf(a.syncobjHandleToFd({ handle, pad: 1 }))).toBe('EINVAL');
      expect(await errnoOf(a.syncobjHandleToFd({ handle, point: 3n }))).toBe('EINVAL');
      expect(await errnoOf(a.syncobjHandleToFd({ handle, flags: SyncobjHandleToFdFlags.TIMELINE, point: 3n }))).toBe('EINVAL');
      expect(await errnoOf(a.syncobjFdToHandle({ fd: sf })), 'a sync_file without IMPORT_SYNC_FILE').toBe('EINVAL');
      expect(await errnoOf(a.syncobjFdToHandle({ fd, handle, flags: SyncobjFdToHandleFlags.IMPORT_SYNC_FILE })), 'a syncobj fd with IMPORT_SYNC_FILE').toBe('EINVAL');
      expect(await errnoOf(a.syncobjFdToHandle({ fd, point: 1n }))).toBe('EINVAL');
      expect(await errnoOf(a.syncobjFdToHandle({ fd, pad: 2 }))).toBe('EINVAL');
      expect(await errnoOf(a.syncobjFdToHandle({ fd: {} as never }))).toBe('EINVAL');
      expect(await errnoOf(a.syncobjFdToHandle({ fd: sf, handle: 77, flags: SyncobjFdToHandleFlags.IMPORT_SYNC_FILE }))).toBe('ENOENT');
      expect(dev.snapshot()).toEqual(before);
      sf.close();
      fd.close();
      await a.close();
    });
  });

  it('sync_file round trip: export snapshots the fence, import installs it (binary and timeline)', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const b = dev.open();
      const { handle } = await a.syncobjCreate();
      expect(await errnoOf(a.syncobjHandleToFd({ handle, flags: SyncobjHandleToFdFlags.EXPORT_SYNC_FILE })), 'no fence to export').toBe('EINVAL');
      const fence = newFence(rt);
      install(a, handle, fence);
      const { fd: sf } = await a.syncobjHandleToFd({ handle, flags: SyncobjHandleToFdFlags.EXPORT_SYNC_FILE });
      expect(sf).toBeInstanceOf(SyncFile);
      expect(sf.fence).toBe(fence);
      await a.syncobjReset({ handles: [handle] });
      expect(sf.fence, 'a snapshot: the reset does not touch it').toBe(fence);
      const { handle: bh } = await b.syncobjCreate();
      const r = await b.syncobjFdToHandle({ fd: sf, handle: bh, flags: SyncobjFdToHandleFlags.IMPORT_SYNC_FILE });
      expect(r.handle).toBe(bh);
      expect(fenceOf(b, bh)).toBe(fence);
      // timeline: import at point 5, export point 5
      const { handle: th } = await b.syncobjCreate();
      await b.syncobjFdToHandle({ fd: sf, handle: th, flags: SyncobjFdToHandleFlags.IMPORT_SYNC_FILE | SyncobjFdToHandleFlags.TIMELINE, point: 5n });
      expect((await b.syncobjQuery({ handles: [th], flags: SyncobjQueryFlags.LAST_SUBMITTED })).points).toEqual([5n]);
      const { fd: sf5 } = await b.syncobjHandleToFd({ handle: th, flags: 3, point: 5n }); // EXPORT_SYNC_FILE | TIMELINE
      expect(toDmaFenceChain(sf5.fence)!.fence, 'the chain node of point 5, holding the fence').toBe(fence);
      expect(sf5.fence.seqno).toBe(5n);
      expect(await errnoOf(b.syncobjHandleToFd({ handle: th, flags: 3, point: 6n })), 'point 6 was never submitted').toBe('EINVAL');
      fence.signal();
      fence.put();
      sf.close();
      sf5.close();
      await a.close();
      await b.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('fd export and sync_file export under fault injection change nothing', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const { handle } = await a.syncobjCreate({ flags: 1 });
      const before = dev.snapshot();
      rt.faults.failAlloc({ site: 'anon_inode_getfile', times: 1 });
      expect(await errnoOf(a.syncobjHandleToFd({ handle }))).toBe('ENOMEM');
      rt.faults.failAlloc({ site: 'sync_file_alloc', times: 1 });
      expect(await errnoOf(a.syncobjHandleToFd({ handle, flags: 1 }))).toBe('ENOMEM');
      expect(dev.snapshot()).toEqual(before);
      expect(a.syncobjs.lookup(handle)!.refcount).toBe(1);
      await a.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });
});

describe('SYNCOBJ_WAIT / TIMELINE_WAIT', () => {
  it('any: the first signalled index, at the virtual instant it signals', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const h = [];
      const fences = [newFence(rt), newFence(rt), newFence(rt)];
      for (const fence of fences) {
        const { handle } = await f.syncobjCreate();
        install(f, handle, fence);
        h.push(handle);
      }
      rt.spawn('signal', async () => {
        await rt.sleep(5);
        fences[2]!.signal();
        await rt.sleep(5);
        fences[0]!.signal();
      });
      const r = await f.syncobjWait({ handles: h, timeoutNsec: DRM_TIMEOUT_INFINITE });
      expect(r.firstSignaled).toBe(2);
      expect(rt.now()).toBe(5);
      const all = await f.syncobjWait({ handles: h, timeoutNsec: absTimeoutNs(rt, 100), flags: WAIT_ALL }).catch((e: unknown) => e);
      expect(isDepError(all, 'ETIME'), 'fence 1 never signals').toBe(true);
      expect(rt.now()).toBe(105);
      fences[1]!.signal();
      const done = await f.syncobjWait({ handles: h, timeoutNsec: 0n, flags: WAIT_ALL });
      expect(done.firstSignaled, 'all signalled up front: the first index').toBe(0);
      for (const x of fences) x.put();
      await f.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('WAIT_ALL waits for the last one; first_signaled is meaningless (~0) then', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const fences = [newFence(rt), newFence(rt)];
      const h = [];
      for (const fence of fences) {
        const { handle } = await f.syncobjCreate();
        install(f, handle, fence);
        h.push(handle);
      }
      rt.spawn('signal', async () => {
        await rt.sleep(3);
        fences[1]!.signal();
        await rt.sleep(4);
        fences[0]!.signal();
      });
      const r = await f.syncobjWait({ handles: h, timeoutNsec: absTimeoutNs(rt, 50), flags: WAIT_ALL });
      expect(rt.now()).toBe(7);
      expect(r.firstSignaled).toBe(U32_MAX);
      for (const x of fences) x.put();
      await f.close();
    });
  });

  it('timeouts are absolute in virtual time: 0 polls, a past time polls', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.syncobjCreate();
      const fence = newFence(rt);
      install(f, handle, fence);
      await rt.sleep(10);
      expect(await errnoOf(f.syncobjWait({ handles: [handle], timeoutNsec: 0n }))).toBe('ETIME');
      expect(await errnoOf(f.syncobjWait({ handles: [handle], timeoutNsec: 5_000_000n })), 'already past').toBe('ETIME');
      expect(rt.now()).toBe(10);
      expect(await errnoOf(f.syncobjWait({ handles: [handle], timeoutNsec: 12_500_000n }))).toBe('ETIME');
      expect(rt.now()).toBe(12.5);
      fence.signal();
      fence.put();
      expect((await f.syncobjWait({ handles: [handle], timeoutNsec: 0n })).firstSignaled).toBe(0);
      await f.close();
    });
  });

  it('no fence: EINVAL without WAIT_FOR_SUBMIT; with it the wait resolves when a fence is attached and signals', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.syncobjCreate();
      expect(await errnoOf(f.syncobjWait({ handles: [handle], timeoutNsec: DRM_TIMEOUT_INFINITE }))).toBe('EINVAL');
      const fence = newFence(rt);
      let attachedAt = -1;
      rt.spawn('submit', async () => {
        await rt.sleep(4);
        install(f, handle, fence);
        attachedAt = rt.now();
        await rt.sleep(2);
        fence.signal();
      });
      const r = await f.syncobjWait({ handles: [handle], timeoutNsec: DRM_TIMEOUT_INFINITE, flags: WAIT_FOR_SUBMIT });
      expect([r.firstSignaled, attachedAt, rt.now()]).toEqual([0, 4, 6]);
      fence.put();
      await f.close();
    });
  });

  it('WAIT_AVAILABLE returns at the virtual instant the point is added, before it signals', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.syncobjCreate();
      const [p1, p2] = timelineFences(rt, 2);
      install(f, handle, p1!, 1n);
      rt.spawn('submit', async () => {
        await rt.sleep(8);
        install(f, handle, p2!, 2n);
      });
      const r = await f.syncobjTimelineWait({ handles: [handle], points: [2n], timeoutNsec: DRM_TIMEOUT_INFINITE, flags: WAIT_AVAILABLE });
      expect([r.firstSignaled, rt.now()]).toEqual([0, 8]);
      expect(p2!.isSignaled()).toBe(false);
      expect(await errnoOf(f.syncobjTimelineWait({ handles: [handle], points: [1n], timeoutNsec: absTimeoutNs(rt, 3) }))).toBe('ETIME');
      p1!.signal();
      expect((await f.syncobjTimelineWait({ handles: [handle], points: [1n], timeoutNsec: 0n })).firstSignaled).toBe(0);
      expect(await errnoOf(f.syncobjTimelineWait({ handles: [handle], points: [2n], timeoutNsec: 0n }))).toBe('ETIME');
      expect(await errnoOf(f.syncobjTimelineWait({ handles: [handle], points: [3n], timeoutNsec: 0n })), 'point 3 not submitted').toBe('EINVAL');
      p2!.signal();
      p1!.put();
      p2!.put();
      await f.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('WAIT_FOR_SUBMIT with a timeout: ETIME when nothing is ever submitted', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.syncobjCreate();
      expect(await errnoOf(f.syncobjWait({ handles: [handle], timeoutNsec: absTimeoutNs(rt, 20), flags: WAIT_FOR_SUBMIT }))).toBe('ETIME');
      expect(rt.now()).toBe(20);
      await f.close();
    });
  });

  it('an AbortSignal interrupts the wait: ERESTARTSYS', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.syncobjCreate();
      const ac = new AbortController();
      rt.spawn('signal', async () => {
        await rt.sleep(2);
        ac.abort();
      });
      expect(await errnoOf(f.syncobjWait({ handles: [handle], timeoutNsec: DRM_TIMEOUT_INFINITE, flags: WAIT_FOR_SUBMIT }, { signal: ac.signal }))).toBe('ERESTARTSYS');
      expect(rt.now()).toBe(2);
      await f.close();
    });
  });

  it('WAIT_DEADLINE passes the deadline (ms of the runtime clock) to the fences', async () => {
    const { rt, dev } = setup();
    const deadlines: number[] = [];
    const ops: DmaFenceOps = { getDriverName: () => 'd', getTimelineName: () => 't', setDeadline: (_f, d) => void deadlines.push(d) };
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.syncobjCreate();
      const fence = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      install(f, handle, fence);
      expect(await errnoOf(f.syncobjWait({ handles: [handle], timeoutNsec: absTimeoutNs(rt, 1), flags: WAIT_DEADLINE, deadlineNsec: 7_000_000n }))).toBe('ETIME');
      expect(deadlines).toEqual([7]);
      fence.signal();
      fence.put();
      await f.close();
    });
  });

  it('count 0 returns at once; a count beyond the array is EFAULT; bad flags EINVAL', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.syncobjCreate({ flags: 1 });
      expect((await f.syncobjWait({ handles: [], timeoutNsec: DRM_TIMEOUT_INFINITE })).firstSignaled).toBe(U32_MAX);
      expect(await errnoOf(f.syncobjWait({ handles: [handle], countHandles: 2, timeoutNsec: 0n }))).toBe('EFAULT');
      expect(await errnoOf(f.syncobjWait({ handles: [handle], flags: WAIT_AVAILABLE }))).toBe('EINVAL');
      expect(await errnoOf(f.syncobjTimelineWait({ handles: [handle], points: [1n, 2n], countHandles: 1, flags: 16 }))).toBe('EINVAL');
      expect(await errnoOf(f.syncobjTimelineWait({ handles: [handle, handle], points: [1n] }))).toBe('EFAULT');
      expect((await f.syncobjWait({ handles: [handle, 99], countHandles: 1, timeoutNsec: 0n })).firstSignaled, 'only the first count handles').toBe(0);
      await f.close();
    });
  });
});

describe('SYNCOBJ_RESET / SIGNAL / TIMELINE_SIGNAL / QUERY / TRANSFER', () => {
  it('reset empties, signal installs a signalled fence; one bad handle changes nothing', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const a = (await f.syncobjCreate({ flags: 1 })).handle;
      const b = (await f.syncobjCreate()).handle;
      const before = dev.snapshot();
      expect(await errnoOf(f.syncobjSignal({ handles: [b, 42] }))).toBe('ENOENT');
      expect(await errnoOf(f.syncobjReset({ handles: [a, 42] }))).toBe('ENOENT');
      expect(await errnoOf(f.syncobjReset({ handles: [] }))).toBe('EINVAL');
      expect(await errnoOf(f.syncobjSignal({ handles: [a], pad: 1 }))).toBe('EINVAL');
      expect(dev.snapshot()).toEqual(before);
      await rt.sleep(3);
      await f.syncobjSignal({ handles: [b] });
      expect(fenceOf(f, b)!.isSignaled()).toBe(true);
      expect(fenceOf(f, b)!.timestamp()).toBe(3);
      await f.syncobjReset({ handles: [a, b] });
      expect([fenceOf(f, a), fenceOf(f, b)]).toEqual([null, null]);
      await f.close();
    });
  });

  it('timeline signal and query (last signalled vs LAST_SUBMITTED)', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const t = (await f.syncobjCreate()).handle;
      const bin = (await f.syncobjCreate({ flags: 1 })).handle;
      const [p1, p2] = timelineFences(rt, 2);
      install(f, t, p1!, 1n);
      install(f, t, p2!, 2n);
      expect((await f.syncobjQuery({ handles: [t, bin] })).points).toEqual([0n, 0n]);
      expect((await f.syncobjQuery({ handles: [t], flags: SyncobjQueryFlags.LAST_SUBMITTED })).points).toEqual([2n]);
      p1!.signal();
      expect((await f.syncobjQuery({ handles: [t] })).points).toEqual([1n]);
      await f.syncobjTimelineSignal({ handles: [t], points: [5n] });
      expect((await f.syncobjQuery({ handles: [t], flags: 1 })).points).toEqual([5n]);
      expect((await f.syncobjQuery({ handles: [t] })).points, 'point 5 waits for point 2 (chain order)').toEqual([1n]);
      p2!.signal();
      expect((await f.syncobjQuery({ handles: [t] })).points).toEqual([5n]);
      expect(await errnoOf(f.syncobjTimelineSignal({ handles: [t], points: [6n], flags: 1 }))).toBe('EINVAL');
      expect(await errnoOf(f.syncobjQuery({ handles: [t], flags: 2 }))).toBe('EINVAL');
      p1!.put();
      p2!.put();
      await f.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('timeline signal allocates every chain node first: ENOMEM changes nothing', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const a = (await f.syncobjCreate()).handle;
      const b = (await f.syncobjCreate()).handle;
      const before = dev.snapshot();
      rt.faults.failAlloc({ site: 'dma_fence_chain_alloc', nth: 2 });
      expect(await errnoOf(f.syncobjTimelineSignal({ handles: [a, b], points: [1n, 1n] }))).toBe('ENOMEM');
      expect(dev.snapshot()).toEqual(before);
      await f.close();
    });
  });

  it('transfer: timeline point → binary, binary → timeline point, WAIT_FOR_SUBMIT', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const t = (await f.syncobjCreate()).handle;
      const bin = (await f.syncobjCreate()).handle;
      const t2 = (await f.syncobjCreate()).handle;
      const [p1] = timelineFences(rt, 1);
      install(f, t, p1!, 3n);
      await f.syncobjTransfer({ srcHandle: t, srcPoint: 3n, dstHandle: bin });
      expect(toDmaFenceChain(fenceOf(f, bin))!.fence, 'the chain node of point 3').toBe(p1);
      await f.syncobjTransfer({ srcHandle: bin, dstHandle: t2, dstPoint: 7n });
      expect((await f.syncobjQuery({ handles: [t2], flags: 1 })).points).toEqual([7n]);
      expect(await errnoOf(f.syncobjTransfer({ srcHandle: t, srcPoint: 4n, dstHandle: bin })), 'point 4 not submitted').toBe('EINVAL');
      expect(await errnoOf(f.syncobjTransfer({ srcHandle: 99, dstHandle: bin }))).toBe('ENOENT');
      expect(await errnoOf(f.syncobjTransfer({ srcHandle: t, dstHandle: bin, flags: WAIT_ALL }))).toBe('EINVAL');
      expect(await errnoOf(f.syncobjTransfer({ srcHandle: t, dstHandle: bin, pad: 1 }))).toBe('EINVAL');
      // WAIT_FOR_SUBMIT: point 4 arrives later
      const p4 = newFence(rt);
      rt.spawn('submit', async () => {
        await rt.sleep(6);
        install(f, t, p4, 4n);
      });
      await f.syncobjTransfer({ srcHandle: t, srcPoint: 4n, dstHandle: bin, flags: WAIT_FOR_SUBMIT });
      expect(rt.now()).toBe(6);
      const got = fenceOf(f, bin)!;
      expect(got.seqno, 'the chain node of point 4').toBe(4n);
      p1!.signal();
      p4.signal();
      p1!.put();
      p4.put();
      await f.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('Syncobj objects behind handles are the dma-fence container', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.syncobjCreate();
      expect(f.syncobjs.lookup(handle)).toBeInstanceOf(Syncobj);
      await f.close();
    });
  });
});
