/**
 * Fuzz commands of the core uAPI every driver shares (drm_gem.c, drm_prime.c,
 * drm_syncobj.c): GEM close, flink/open, PRIME across devices, syncobj create / destroy /
 * signal / reset / wait / transfer / fd and sync_file sharing, and reopening a client. Each
 * has valid and invalid variants; an invalid one expects the kernel's errno and nothing
 * changed anywhere.
 */
import { SyncobjFdToHandleFlags, SyncobjHandleToFdFlags, type DmaBufFd, type DrmFile } from '@dep/drm';
import { expect } from 'vitest';
import { call, checkModel, expectErrno, objKey, type Cmd } from './harness.js';
import { bogus, chainPoint, dropNames, emptyFile, handleOf, lowestFree, otherFiles, pick, type Model } from './model.js';
import { DEVICE_NAMES, deviceIndex, fileOf, type DeviceIndex, type World } from './world.js';

/** A client: device and file index. */
export interface Target {
  readonly d: DeviceIndex;
  readonly f: number;
}

export function label(t: Target): string {
  return `${DEVICE_NAMES[t.d]}/${t.f}`;
}

/** `DRM_IOCTL_GEM_CLOSE`: EINVAL for a handle naming nothing in this file. */
export class GemClose implements Cmd {
  constructor(readonly t: Target, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.t.d];
    const fm = dm.files[this.t.f]!;
    const h = handleOf(dm, this.t.f, 'gem', this.i, this.bad);
    const file = fileOf(w, this.t.d, this.t.f);
    if (h === undefined || !fm.gem.has(h)) {
      await expectErrno(w, 'EINVAL', this.toString(), () => file.gemClose({ handle: h ?? 1 }));
    } else {
      await call(w, () => file.gemClose({ handle: h }));
      fm.gem.delete(h);
      fm.prime.delete(h);
      dropNames(dm);
    }
    checkModel(m, w);
  }
  toString = (): string => `GemClose(${label(this.t)}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

/** `GEM_FLINK` in one file, `GEM_OPEN` of the name in another of the same device. */
export class FlinkOpen implements Cmd {
  constructor(readonly t: Target, readonly to: number, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.t.d];
    const fm = dm.files[this.t.f]!;
    const from = fileOf(w, this.t.d, this.t.f);
    const to = fileOf(w, this.t.d, this.to);
    const h = handleOf(dm, this.t.f, 'gem', this.i, this.bad);
    if (h === undefined || !fm.gem.has(h)) {
      await expectErrno(w, 'ENOENT', `${this.toString()} flink`, () => from.gemFlink({ handle: h ?? 1 }));
      await expectErrno(w, 'ENOENT', `${this.toString()} open`, () => to.gemOpen({ name: lowestFree(dm.names) }));
    } else {
      const obj = fm.gem.get(h)!;
      const existing = [...dm.names].find(([, o]) => o === obj)?.[0];
      const { name } = await call(w, () => from.gemFlink({ handle: h }));
      expect(name, 'flink name').toBe(existing ?? lowestFree(dm.names));
      dm.names.set(name, obj);
      const tm = dm.files[this.to]!;
      const { handle, size } = await call(w, () => to.gemOpen({ name }));
      expect(handle, 'GEM_OPEN handle').toBe(lowestFree(tm.gem));
      expect(size, 'GEM_OPEN size').toBe(dm.objects.get(obj)!.size);
      tm.gem.set(handle, obj);
    }
    checkModel(m, w);
  }
  toString = (): string => `FlinkOpen(${label(this.t)}→${this.to}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

export type PrimeVariant = 'ok' | 'bogus' | 'flags' | 'closed-fd';

/**
 * `PRIME_HANDLE_TO_FD` in one client, `PRIME_FD_TO_HANDLE` in another (any device). The
 * importer gets the handle its PRIME cache has for the dma-buf, else the exporter's own
 * object on the exporting device, else a new object attached to the dma-buf. Invalid:
 * a handle naming nothing (ENOENT), unknown flags (EINVAL), a VM-private object
 * (EINVAL), a closed fd (EBADF).
 */
export class PrimeShare implements Cmd {
  constructor(readonly t: Target, readonly to: Target, readonly i: number, readonly variant: PrimeVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.t.d];
    const fm = dm.files[this.t.f]!;
    const from = fileOf(w, this.t.d, this.t.f);
    const to = fileOf(w, this.to.d, this.to.f);
    const h = handleOf(dm, this.t.f, 'gem', this.i, this.variant === 'bogus');
    if (h === undefined || !fm.gem.has(h)) {
      await expectErrno(w, 'ENOENT', this.toString(), () => from.primeHandleToFd({ handle: h ?? 1 }));
      checkModel(m, w);
      return;
    }
    if (this.variant === 'flags') {
      await expectErrno(w, 'EINVAL', this.toString(), () => from.primeHandleToFd({ handle: h, flags: 0x4 }));
      checkModel(m, w);
      return;
    }
    const obj = dm.objects.get(fm.gem.get(h)!)!;
    if (obj.vm !== null) {
      await expectErrno(w, 'EINVAL', `${this.toString()} (VM-private)`, () => from.primeHandleToFd({ handle: h }));
      checkModel(m, w);
      return;
    }
    const { fd } = await call(w, () => from.primeHandleToFd({ handle: h }));
    const buf = fd.dmaBuf;
    expect(objKey(deviceIndex(w, buf.exporter), buf.obj.id), 'the dma-buf is the original exporter object\'s').toBe(obj.origin);
    const known = m.dmaBufs.get(obj.origin);
    if (known !== undefined) expect(buf.id, 'one dma-buf per object').toBe(known);
    m.dmaBufs.set(obj.origin, buf.id);
    fm.prime.set(h, obj.origin);
    if (this.variant === 'closed-fd') {
      fd.close();
      await expectErrno(w, 'EBADF', `${this.toString()} import`, () => to.primeFdToHandle({ fd }));
      checkModel(m, w);
      return;
    }
    try {
      await importFd(m, w, this.to, fd, obj.origin);
    } finally {
      fd.close();
    }
    checkModel(m, w);
  }

  toString = (): string => `PrimeShare(${label(this.t)}→${label(this.to)}, #${this.i}, ${this.variant})`;
}

/**
 * `PRIME_FD_TO_HANDLE` of `fd` (exported from object `origin`) in client `t`, checked
 * against the model: the PRIME cache's handle if the file has one for the dma-buf; else a
 * new handle (the lowest free) for the exporter's own object on its device, or for a new
 * object attached to the dma-buf on another device.
 */
export async function importFd(m: Model, w: World, t: Target, fd: DmaBufFd, origin: string): Promise<void> {
  const to = fileOf(w, t.d, t.f);
  const tdm = m.devs[t.d];
  const tm = tdm.files[t.f]!;
  const cached = [...tm.prime].filter(([, o]) => o === origin).map(([hh]) => hh);
  const free = lowestFree(tm.gem);
  const { handle } = await call(w, () => to.primeFdToHandle({ fd }));
  if (cached.length > 0) {
    expect(cached, 'the handle of the PRIME cache').toContain(handle);
    return;
  }
  expect(handle, 'a new handle').toBe(free);
  const real = to.gem.lookup(handle)!;
  const key = objKey(t.d, real.id);
  const originDev = Number(origin.split(':')[0]);
  if (originDev === t.d) {
    expect(key, "an import into the exporting device is the exporter's object").toBe(origin);
  } else {
    expect(tdm.objects.has(key), 'a foreign import is a new object').toBe(false);
    expect(real.importAttach?.id, 'attached to the dma-buf').toBe(m.dmaBufs.get(origin));
    const o = m.devs[originDev as DeviceIndex].objects.get(origin)!;
    tdm.objects.set(key, { key, dev: t.d, origin, vm: null, boType: 0, size: o.size });
  }
  tm.gem.set(handle, key);
  tm.prime.set(handle, origin);
}

/** `SYNCOBJ_CREATE` (optionally SIGNALED); unknown flags are EINVAL. */
export class SyncCreate implements Cmd {
  constructor(readonly t: Target, readonly signaled: boolean, readonly badFlags: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const file = fileOf(w, this.t.d, this.t.f);
    const fm = m.devs[this.t.d].files[this.t.f]!;
    if (this.badFlags) {
      await expectErrno(w, 'EINVAL', this.toString(), () => file.syncobjCreate({ flags: 0x2 }));
    } else {
      const { handle } = await call(w, () => file.syncobjCreate({ flags: this.signaled ? 1 : 0 }));
      expect(handle, 'syncobj handle').toBe(lowestFree(fm.sync));
      const sid = w.syncobjId(file.syncobjs.lookup(handle)!);
      fm.sync.set(handle, sid);
      m.syncobjs.set(sid, this.signaled ? 'signaled' : 'empty');
      m.points.set(sid, 0n);
    }
    checkModel(m, w);
  }
  toString = (): string => `SyncCreate(${label(this.t)}, ${this.signaled}${this.badFlags ? ', bad flags' : ''})`;
}

/** `SYNCOBJ_DESTROY`: EINVAL for a handle naming nothing. */
export class SyncDestroy implements Cmd {
  constructor(readonly t: Target, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.t.d];
    const fm = dm.files[this.t.f]!;
    const file = fileOf(w, this.t.d, this.t.f);
    const h = handleOf(dm, this.t.f, 'sync', this.i, this.bad);
    if (h === undefined || !fm.sync.has(h)) {
      await expectErrno(w, 'EINVAL', this.toString(), () => file.syncobjDestroy({ handle: h ?? 1 }));
    } else {
      await call(w, () => file.syncobjDestroy({ handle: h }));
      fm.sync.delete(h);
    }
    checkModel(m, w);
  }
  toString = (): string => `SyncDestroy(${label(this.t)}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

export type SyncArrayOp = 'signal' | 'reset' | 'wait' | 'waitAll';

/** `SYNCOBJ_SIGNAL`, `SYNCOBJ_RESET` or a polling `SYNCOBJ_WAIT` (timeout 0) over some handles. */
export class SyncArray implements Cmd {
  constructor(readonly op: SyncArrayOp, readonly t: Target, readonly picks: readonly number[], readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.t.d];
    const fm = dm.files[this.t.f]!;
    if (fm.sync.size === 0 && !this.bad) return;
    const handles = this.picks.map((i) => pick(fm.sync, i) ?? 1);
    if (this.bad) handles.push(bogus(fm.sync, otherFiles(dm, this.t.f).map((x) => x.sync)));
    const f = fileOf(w, this.t.d, this.t.f);
    const run = (): Promise<unknown> => {
      switch (this.op) {
        case 'signal':
          return f.syncobjSignal({ handles });
        case 'reset':
          return f.syncobjReset({ handles });
        case 'wait':
          return f.syncobjWait({ handles, timeoutNsec: 0n });
        case 'waitAll':
          return f.syncobjWait({ handles, timeoutNsec: 0n, flags: 1 });
      }
    };
    if (handles.some((h) => !fm.sync.has(h))) {
      await expectErrno(w, 'ENOENT', this.toString(), run);
    } else {
      const states = handles.map((h) => m.syncobjs.get(fm.sync.get(h)!)!);
      const waits = this.op === 'wait' || this.op === 'waitAll';
      if (waits && states.includes('empty')) {
        await expectErrno(w, 'EINVAL', `${this.toString()} (empty syncobj)`, run);
      } else {
        // SYNCOBJ_SIGNAL stops at an allocation failure with the earlier syncobjs signalled (as the kernel): not injected.
        const res = await call(w, run, { faults: this.op !== 'signal' });
        if (waits) expect(res).toEqual({ firstSignaled: 0 });
        if (!waits) {
          for (const h of handles) {
            m.syncobjs.set(fm.sync.get(h)!, this.op === 'signal' ? 'signaled' : 'empty');
            m.points.set(fm.sync.get(h)!, 0n);
          }
        }
      }
    }
    checkModel(m, w);
  }
  toString = (): string => `Sync${this.op}(${label(this.t)}, [${this.picks.join(',')}]${this.bad ? ', bogus' : ''})`;
}

/** `SYNCOBJ_HANDLE_TO_FD` in one client, `SYNCOBJ_FD_TO_HANDLE` in another (any device: syncobjs are not per device). */
export class SyncShare implements Cmd {
  constructor(readonly t: Target, readonly to: Target, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.t.d];
    const fm = dm.files[this.t.f]!;
    const from = fileOf(w, this.t.d, this.t.f);
    const h = handleOf(dm, this.t.f, 'sync', this.i, this.bad);
    if (h === undefined || !fm.sync.has(h)) {
      await expectErrno(w, 'EINVAL', this.toString(), () => from.syncobjHandleToFd({ handle: h ?? 1 }));
    } else {
      const to = fileOf(w, this.to.d, this.to.f);
      const tm = m.devs[this.to.d].files[this.to.f]!;
      const handle = await call(w, async () => {
        const { fd } = await from.syncobjHandleToFd({ handle: h });
        try {
          return (await to.syncobjFdToHandle({ fd })).handle;
        } finally {
          fd.close();
        }
      });
      expect(handle, 'imported syncobj handle').toBe(lowestFree(tm.sync));
      tm.sync.set(handle, fm.sync.get(h)!);
    }
    checkModel(m, w);
  }
  toString = (): string => `SyncShare(${label(this.t)}→${label(this.to)}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

export type TransferVariant = 'ok' | 'bad-src' | 'bad-dst' | 'flags';

/** Binary `SYNCOBJ_TRANSFER` (points 0): dst gets src's fence. ENOENT for either bad handle (dst first), EINVAL from an empty src. */
export class SyncTransfer implements Cmd {
  constructor(readonly t: Target, readonly src: number, readonly dst: number, readonly variant: TransferVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.t.d];
    const fm = dm.files[this.t.f]!;
    if (fm.sync.size === 0 && this.variant === 'ok') return;
    const others = otherFiles(dm, this.t.f).map((x) => x.sync);
    const src = this.variant === 'bad-src' ? bogus(fm.sync, others) : (pick(fm.sync, this.src) ?? 1);
    const dst = this.variant === 'bad-dst' ? bogus(fm.sync, others) : (pick(fm.sync, this.dst) ?? 1);
    const f = fileOf(w, this.t.d, this.t.f);
    const run = (): Promise<void> => f.syncobjTransfer({ srcHandle: src, dstHandle: dst, srcPoint: 0n, dstPoint: 0n, flags: this.variant === 'flags' ? 0x10 : 0 });
    if (this.variant === 'flags') await expectErrno(w, 'EINVAL', this.toString(), run);
    else if (!fm.sync.has(dst) || !fm.sync.has(src)) await expectErrno(w, 'ENOENT', this.toString(), run);
    else if (m.syncobjs.get(fm.sync.get(src)!) === 'empty') await expectErrno(w, 'EINVAL', `${this.toString()} (empty source)`, run);
    else {
      await call(w, run);
      m.syncobjs.set(fm.sync.get(dst)!, 'signaled');
      m.points.set(fm.sync.get(dst)!, m.points.get(fm.sync.get(src)!) ?? null);
    }
    checkModel(m, w);
  }
  toString = (): string => `SyncTransfer(${label(this.t)}, #${this.src}→#${this.dst}, ${this.variant})`;
}

/**
 * `SYNCOBJ_HANDLE_TO_FD(EXPORT_SYNC_FILE)` of one client's syncobj and
 * `SYNCOBJ_FD_TO_HANDLE(IMPORT_SYNC_FILE)` into another's (any device). Export: ENOENT for
 * a bad handle, EINVAL from an empty syncobj; import: ENOENT for a bad handle.
 */
export class SyncFileShare implements Cmd {
  constructor(readonly t: Target, readonly to: Target, readonly src: number, readonly dst: number, readonly bad: 'none' | 'src' | 'dst') {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.t.d];
    const fm = dm.files[this.t.f]!;
    const tdm = m.devs[this.to.d];
    const tm = tdm.files[this.to.f]!;
    const from = fileOf(w, this.t.d, this.t.f);
    const to = fileOf(w, this.to.d, this.to.f);
    const src = handleOf(dm, this.t.f, 'sync', this.src, this.bad === 'src');
    const exportIt = () => from.syncobjHandleToFd({ handle: src ?? 1, flags: SyncobjHandleToFdFlags.EXPORT_SYNC_FILE });
    if (src === undefined || !fm.sync.has(src)) {
      await expectErrno(w, 'ENOENT', `${this.toString()} export`, exportIt);
    } else if (m.syncobjs.get(fm.sync.get(src)!) === 'empty') {
      await expectErrno(w, 'EINVAL', `${this.toString()} export (empty)`, exportIt);
    } else {
      const { fd } = await call(w, exportIt);
      try {
        const dst = this.bad === 'dst' ? bogus(tm.sync, otherFiles(tdm, this.to.f).map((x) => x.sync)) : pick(tm.sync, this.dst);
        const importIt = () => to.syncobjFdToHandle({ fd, handle: dst ?? 1, flags: SyncobjFdToHandleFlags.IMPORT_SYNC_FILE });
        if (dst === undefined || !tm.sync.has(dst)) {
          await expectErrno(w, 'ENOENT', `${this.toString()} import`, importIt);
        } else {
          const { handle } = await call(w, importIt);
          expect(handle).toBe(dst);
          m.syncobjs.set(tm.sync.get(dst)!, 'signaled');
          m.points.set(tm.sync.get(dst)!, null);
        }
      } finally {
        fd.close();
      }
    }
    checkModel(m, w);
  }
  toString = (): string => `SyncFileShare(${label(this.t)} #${this.src}→${label(this.to)} #${this.dst}${this.bad === 'none' ? '' : `, bogus ${this.bad}`})`;
}

/**
 * `close()` of a client and a new `open()` in its place: every handle goes, its VMs are
 * destroyed, its contexts torn down (their fences signal), its objects lose their names
 * when no other handle is left. Closing twice is EBADF.
 */
export class Reopen implements Cmd {
  constructor(readonly t: Target) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.t.d];
    const old = fileOf(w, this.t.d, this.t.f);
    await call(w, () => old.close(), { faults: false });
    const again = await call(w, async () => {
      try {
        await old.close();
        return null;
      } catch (e) {
        return (e as { code?: string }).code ?? 'not a DepError';
      }
    }, { faults: false });
    expect(again, 'a second close').toBe('EBADF');
    (w.files[this.t.d] as DrmFile[])[this.t.f] = (w.devices[this.t.d] as { open(): DrmFile }).open();
    for (const key of dm.files[this.t.f]!.vms.values()) {
      const vm = dm.vms.get(key)!;
      vm.destroyed = true;
      vm.slots.clear();
    }
    dm.files[this.t.f] = emptyFile();
    dropNames(dm);
    checkModel(m, w);
  }
  toString = (): string => `Reopen(${label(this.t)})`;
}

/**
 * Arm an allocation failure for the next valid call: its `nth` allocation (at any site)
 * fails. If the call then fails with ENOMEM, nothing may have changed on any device (the
 * command stops there); if it makes fewer allocations, or handles the failure, it goes on.
 */
export class FailAlloc implements Cmd {
  constructor(readonly nth: number) {}
  check = (): boolean => true;
  async run(_m: Model, w: World): Promise<void> {
    w.failNthAlloc = this.nth;
    return Promise.resolve();
  }
  toString = (): string => `FailAlloc(${this.nth})`;
}

/**
 * `PRIME_HANDLE_TO_FD` whose fd stays open across commands (`hold`): the dma-buf — and its
 * exporting object — outlive every handle until the fd is imported and closed
 * ({@link PrimeImportHeld}) or the run ends.
 */
export class PrimeHold implements Cmd {
  constructor(readonly t: Target, readonly i: number) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.t.d];
    const fm = dm.files[this.t.f]!;
    const h = pick(fm.gem, this.i);
    if (h === undefined || dm.objects.get(fm.gem.get(h)!)!.vm !== null) {
      checkModel(m, w);
      return;
    }
    const obj = dm.objects.get(fm.gem.get(h)!)!;
    const { fd } = await call(w, () => fileOf(w, this.t.d, this.t.f).primeHandleToFd({ handle: h }));
    const known = m.dmaBufs.get(obj.origin);
    if (known !== undefined) expect(fd.dmaBuf.id, 'one dma-buf per object').toBe(known);
    m.dmaBufs.set(obj.origin, fd.dmaBuf.id);
    fm.prime.set(h, obj.origin);
    w.heldFds.push(fd);
    m.heldFds.push(obj.origin);
    checkModel(m, w);
  }
  toString = (): string => `PrimeHold(${label(this.t)}, #${this.i})`;
}

/** `PRIME_FD_TO_HANDLE` of a held fd in any client, then (`close`) the fd's close. */
export class PrimeImportHeld implements Cmd {
  constructor(readonly k: number, readonly to: Target, readonly close: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    if (w.heldFds.length === 0) {
      checkModel(m, w);
      return;
    }
    const k = this.k % w.heldFds.length;
    const fd = w.heldFds[k]!;
    const origin = m.heldFds[k]!;
    try {
      await importFd(m, w, this.to, fd, origin);
    } finally {
      if (this.close) {
        fd.close();
        w.heldFds.splice(k, 1);
        m.heldFds.splice(k, 1);
      }
    }
    checkModel(m, w);
  }
  toString = (): string => `PrimeImportHeld(#${this.k}→${label(this.to)}${this.close ? ', close' : ''})`;
}

/**
 * `SYNCOBJ_TIMELINE_SIGNAL` of one syncobj at a point past the one it has (`step` more):
 * its fence becomes a signalled timeline node, which `SYNCOBJ_QUERY` then reports. ENOENT
 * for a handle naming nothing.
 */
export class TimelineSignal implements Cmd {
  constructor(readonly t: Target, readonly i: number, readonly step: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.t.d];
    const fm = dm.files[this.t.f]!;
    const file = fileOf(w, this.t.d, this.t.f);
    const h = handleOf(dm, this.t.f, 'sync', this.i, this.bad);
    if (h === undefined || !fm.sync.has(h)) {
      await expectErrno(w, 'ENOENT', this.toString(), () => file.syncobjTimelineSignal({ handles: [h ?? 1], points: [1n] }));
    } else {
      const sid = fm.sync.get(h)!;
      const prev = m.points.get(sid);
      const point = (prev ?? 0n) + BigInt(this.step);
      await call(w, () => file.syncobjTimelineSignal({ handles: [h], points: [point] }));
      m.syncobjs.set(sid, 'signaled');
      m.points.set(sid, chainPoint(prev, point));
    }
    checkModel(m, w);
  }
  toString = (): string => `TimelineSignal(${label(this.t)}, #${this.i}, +${this.step}${this.bad ? ', bogus' : ''})`;
}

/**
 * A polling `SYNCOBJ_TIMELINE_WAIT` for point `point` (≥ 1) of one syncobj: fine when its
 * timeline reached it; EINVAL when it did not (a point not submitted, a binary fence, no
 * fence), as `dma_fence_chain_find_seqno` has it. Skipped where the model does not know
 * the point.
 */
export class TimelineWait implements Cmd {
  constructor(readonly t: Target, readonly i: number, readonly point: number) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const fm = m.devs[this.t.d].files[this.t.f]!;
    const h = pick(fm.sync, this.i);
    const have = h === undefined ? null : m.points.get(fm.sync.get(h)!);
    if (h === undefined || have === null || have === undefined) {
      checkModel(m, w);
      return;
    }
    const point = BigInt(this.point);
    const file = fileOf(w, this.t.d, this.t.f);
    const wait = () => file.syncobjTimelineWait({ handles: [h], points: [point], timeoutNsec: 0n });
    if (have >= point && m.syncobjs.get(fm.sync.get(h)!) === 'signaled') expect(await call(w, wait)).toEqual({ firstSignaled: 0 });
    else await expectErrno(w, 'EINVAL', `${this.toString()} (timeline at ${have})`, wait);
    checkModel(m, w);
  }
  toString = (): string => `TimelineWait(${label(this.t)}, #${this.i}, point ${this.point})`;
}
