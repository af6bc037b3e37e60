/**
 * Fuzz commands of the panthor uAPI: BO create (size rounded up to pages; optionally
 * exclusive to a VM), VM create / destroy / synchronous bind, group create / destroy,
 * group submit with sync ops; each with its invalid variants and panthor's errnos
 * (panthor_drv.c: mostly EINVAL, EACCES for a priority above MEDIUM without CAP_SYS_NICE).
 */
import { GEM_MAX_SIZE } from '@dep/drm';
import { PanthorSyncOpFlags, PanthorVmBindFlags, PanthorVmBindOpFlags } from '@dep/driver-panthor';
import { expect } from 'vitest';
import { call, checkModel, expectErrno, objKey, type Cmd } from './harness.js';
import type { BindVariant, SubmitVariant } from './commands-xe.js';
import { bogus, handleOf, lowestFree, otherFiles, pick, slotVa, type Model } from './model.js';
import { PANTHOR, type World } from './world.js';

const PAGE = 4096n;

function ptFile(w: World, f: number) {
  return w.files[PANTHOR][f]!;
}

export type PtBoVariant = 'plain' | 'private' | 'odd' | 'zero' | 'huge' | 'flags' | 'bad-vm';

/** `DRM_IOCTL_PANTHOR_BO_CREATE`: size ≠ 0 rounded up to pages; EINVAL for 0, too big, unknown flags, a VM id naming nothing. */
export class PtBoCreate implements Cmd {
  constructor(readonly f: number, readonly pages: number, readonly variant: PtBoVariant, readonly vmI: number) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[PANTHOR];
    const fm = dm.files[this.f]!;
    const file = ptFile(w, this.f);
    const size = BigInt(this.pages) * PAGE;
    const what = this.toString();
    switch (this.variant) {
      case 'zero':
        await expectErrno(w, 'EINVAL', what, () => file.boCreate({ size: 0n }));
        break;
      case 'huge':
        await expectErrno(w, 'EINVAL', what, () => file.boCreate({ size: GEM_MAX_SIZE + 1n }));
        break;
      case 'flags':
        await expectErrno(w, 'EINVAL', what, () => file.boCreate({ size, flags: 0x2 }));
        break;
      case 'bad-vm':
        await expectErrno(w, 'EINVAL', what, () => file.boCreate({ size, exclusiveVmId: bogus(fm.vms, otherFiles(dm, this.f).map((x) => x.vms)) }));
        break;
      default: {
        const vmId = this.variant === 'private' ? (pick(fm.vms, this.vmI) ?? 0) : 0;
        const asked = this.variant === 'odd' ? size - 100n : size;
        const r = await call(w, () => file.boCreate({ size: asked, exclusiveVmId: vmId }));
        expect(r.handle, 'BO handle').toBe(lowestFree(fm.gem));
        expect(r.size, 'size rounded up to pages').toBe(size);
        const key = objKey(PANTHOR, file.gem.lookup(r.handle)!.id);
        expect(dm.objects.has(key), 'a new object').toBe(false);
        dm.objects.set(key, { key, dev: PANTHOR, origin: key, vm: vmId === 0 ? null : fm.vms.get(vmId)!, boType: 0, size });
        fm.gem.set(r.handle, key);
      }
    }
    checkModel(m, w);
  }
  toString = (): string => `PtBoCreate(${this.f}, ${this.pages}p, ${this.variant}, vm #${this.vmI})`;
}

export type PtVmCreateVariant = 'ok' | 'flags' | 'range';

/** `DRM_IOCTL_PANTHOR_VM_CREATE`: EINVAL for flags (none exist) or a VA range that is not page-aligned. */
export class PtVmCreate implements Cmd {
  constructor(readonly f: number, readonly variant: PtVmCreateVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[PANTHOR];
    const fm = dm.files[this.f]!;
    const file = ptFile(w, this.f);
    if (this.variant === 'flags') await expectErrno(w, 'EINVAL', this.toString(), () => file.vmCreate({ flags: 1 }));
    else if (this.variant === 'range') await expectErrno(w, 'EINVAL', this.toString(), () => file.vmCreate({ userVaRange: (1n << 32n) + 1n }));
    else {
      const { id } = await call(w, () => file.vmCreate({}));
      expect(id, 'VM id').toBe(lowestFree(fm.vms));
      const key = `${PANTHOR}:vm${w.panthor.idOf(file.vms.lookup(id)!)}`;
      dm.vms.set(key, { key, slots: new Map(), destroyed: false, lr: false });
      fm.vms.set(id, key);
    }
    checkModel(m, w);
  }
  toString = (): string => `PtVmCreate(${this.f}, ${this.variant})`;
}

/** `DRM_IOCTL_PANTHOR_VM_DESTROY`: EINVAL for an id naming nothing; groups keep the (closed) VM. */
export class PtVmDestroy implements Cmd {
  constructor(readonly f: number, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[PANTHOR];
    const fm = dm.files[this.f]!;
    const file = ptFile(w, this.f);
    const id = handleOf(dm, this.f, 'vms', this.i, this.bad);
    if (id === undefined || !fm.vms.has(id)) {
      await expectErrno(w, 'EINVAL', this.toString(), () => file.vmDestroy({ id: id ?? 1 }));
    } else {
      await call(w, () => file.vmDestroy({ id }));
      const vm = dm.vms.get(fm.vms.get(id)!)!;
      vm.destroyed = true;
      vm.slots.clear();
      fm.vms.delete(id);
    }
    checkModel(m, w);
  }
  toString = (): string => `PtVmDestroy(${this.f}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

/**
 * `DRM_IOCTL_PANTHOR_VM_BIND`, one op: MAP a page of a BO at a slot or UNMAP the slot;
 * synchronous, or (`async` variant) a job on the VM's bind queue signalling a syncobj. Everything wrong is EINVAL: a VM or BO naming nothing, a misaligned
 * address, an offset beyond the BO, a BO private to another VM, an UNMAP naming a BO, a
 * sync op without ASYNC (the `flags` variant).
 */
export class PtVmBind implements Cmd {
  constructor(readonly f: number, readonly vmI: number, readonly map: boolean, readonly slot: number, readonly boI: number, readonly variant: BindVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[PANTHOR];
    const fm = dm.files[this.f]!;
    const file = ptFile(w, this.f);
    const what = this.toString();
    const vmId = (handleOf(dm, this.f, 'vms', this.vmI, this.variant === 'bad-vm') ?? 1);
    const va = slotVa(this.slot) + (this.variant === 'misaligned' ? 0x800n : 0n);
    const isAsync = this.variant === 'async' && fm.sync.size > 0;
    const first = pick(fm.sync, this.boI);
    const syncs =
      this.variant === 'flags' && first !== undefined
        ? [{ flags: PanthorSyncOpFlags.WAIT, handle: first, timelineValue: 0n }]
        : isAsync
          ? [{ flags: PanthorSyncOpFlags.SIGNAL, handle: first!, timelineValue: 0n }]
          : [];
    const bind = (boHandle: number, boOffset: bigint) =>
      file.vmBind({ vmId, flags: isAsync ? PanthorVmBindFlags.ASYNC : 0, ops: [{ flags: this.map ? PanthorVmBindOpFlags.TYPE_MAP : PanthorVmBindOpFlags.TYPE_UNMAP, boHandle, boOffset, va, size: PAGE, syncs }] });
    const signalled = (): void => {
      if (isAsync) {
        m.syncobjs.set(fm.sync.get(first!)!, 'signaled');
        m.points.set(fm.sync.get(first!)!, 0n);
      }
    };
    const h = handleOf(dm, this.f, 'gem', this.boI, this.variant === 'bad-bo');
    if (!fm.vms.has(vmId) || this.variant === 'misaligned' || (syncs.length > 0 && !isAsync)) {
      await expectErrno(w, 'EINVAL', what, () => bind(this.map ? (h ?? 1) : 0, 0n));
    } else if (!this.map) {
      if (this.variant === 'bad-bo' || this.variant === 'offset') {
        await expectErrno(w, 'EINVAL', `${what} (UNMAP with a BO)`, () => bind(h ?? 1, 0n));
      } else {
        await call(w, () => bind(0, 0n));
        dm.vms.get(fm.vms.get(vmId)!)!.slots.delete(this.slot);
        signalled();
      }
    } else if (h === undefined || !fm.gem.has(h)) {
      await expectErrno(w, 'EINVAL', what, () => bind(h ?? 1, 0n));
    } else {
      const vm = fm.vms.get(vmId)!;
      const obj = dm.objects.get(fm.gem.get(h)!)!;
      if (this.variant === 'offset') await expectErrno(w, 'EINVAL', what, () => bind(h, obj.size));
      else if (obj.vm !== null && obj.vm !== vm) await expectErrno(w, 'EINVAL', `${what} (private to another VM)`, () => bind(h, 0n));
      else {
        await call(w, () => bind(h, 0n));
        dm.vms.get(vm)!.slots.set(this.slot, obj.key);
        signalled();
      }
    }
    checkModel(m, w);
  }
  toString = (): string => `PtVmBind(${this.f}, vm #${this.vmI}, ${this.map ? 'map' : 'unmap'} slot ${this.slot}, bo #${this.boI}, ${this.variant})`;
}

export type GroupCreateVariant = 'ok' | 'bad-vm' | 'priority' | 'ring';

/** `DRM_IOCTL_PANTHOR_GROUP_CREATE` of one queue: EINVAL for a ring size no power of two or a bad VM; EACCES for HIGH priority. */
export class PtGroupCreate implements Cmd {
  constructor(readonly f: number, readonly vmI: number, readonly variant: GroupCreateVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[PANTHOR];
    const fm = dm.files[this.f]!;
    const file = ptFile(w, this.f);
    const what = this.toString();
    const vmId = (handleOf(dm, this.f, 'vms', this.vmI, this.variant === 'bad-vm') ?? 1);
    const create = () =>
      file.groupCreate({ queues: [{ priority: 0, pad: 0, ringbufSize: this.variant === 'ring' ? 6144 : 4096 }], priority: this.variant === 'priority' ? 2 : 0, vmId });
    if (this.variant === 'ring') await expectErrno(w, 'EINVAL', what, create);
    else if (this.variant === 'priority') await expectErrno(w, 'EACCES', what, create);
    else if (!fm.vms.has(vmId)) await expectErrno(w, 'EINVAL', what, create);
    else {
      const { groupHandle } = await call(w, create);
      expect(groupHandle, 'group handle').toBe(lowestFree(fm.ctxs));
      fm.ctxs.set(groupHandle, { vm: fm.vms.get(vmId)!, syncobj: 0, configured: true, nextSeq: 1n, cu: null });
    }
    checkModel(m, w);
  }
  toString = (): string => `PtGroupCreate(${this.f}, vm #${this.vmI}, ${this.variant})`;
}

/** `DRM_IOCTL_PANTHOR_GROUP_DESTROY`: EINVAL for a handle naming nothing. */
export class PtGroupDestroy implements Cmd {
  constructor(readonly f: number, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[PANTHOR];
    const fm = dm.files[this.f]!;
    const file = ptFile(w, this.f);
    const h = handleOf(dm, this.f, 'ctxs', this.i, this.bad);
    if (h === undefined || !fm.ctxs.has(h)) {
      await expectErrno(w, 'EINVAL', this.toString(), () => file.groupDestroy({ groupHandle: h ?? 1 }));
    } else {
      await call(w, () => file.groupDestroy({ groupHandle: h }));
      fm.ctxs.delete(h);
    }
    checkModel(m, w);
  }
  toString = (): string => `PtGroupDestroy(${this.f}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

/**
 * `DRM_IOCTL_PANTHOR_GROUP_SUBMIT` of one job: a stream of `units` instructions at slot 0
 * when the group's VM maps something there (else an empty stream), optionally waiting on
 * one syncobj and signalling another. EINVAL for a group naming nothing, a destroyed VM,
 * a signal op naming nothing, unknown sync flags (the `flags` variant: a bad handle
 * type), an empty in-syncobj; ENOENT for a wait op naming nothing. `batch`: two jobs, the
 * second waiting on the syncobj the first signals (valid even when it is empty).
 */
export class PtSubmit implements Cmd {
  constructor(readonly f: number, readonly gI: number, readonly units: number, readonly out: number | null, readonly inp: number | null, readonly variant: SubmitVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[PANTHOR];
    const fm = dm.files[this.f]!;
    const file = ptFile(w, this.f);
    const what = this.toString();
    const others = otherFiles(dm, this.f);
    const g = this.variant === 'bad-ctx' ? bogus(fm.ctxs, others.map((x) => x.ctxs)) : pick(fm.ctxs, this.gI);
    const out = this.variant === 'bad-out' ? bogus(fm.sync, others.map((x) => x.sync)) : this.out === null ? undefined : pick(fm.sync, this.out);
    const inp = this.variant === 'bad-in' ? bogus(fm.sync, others.map((x) => x.sync)) : this.inp === null ? undefined : pick(fm.sync, this.inp);
    const vm = g === undefined || !fm.ctxs.has(g) ? undefined : dm.vms.get(fm.ctxs.get(g)!.vm!)!;
    const mapped = vm !== undefined && !vm.destroyed && vm.slots.has(0);
    const syncs = [
      ...(inp === undefined ? [] : [{ flags: PanthorSyncOpFlags.WAIT, handle: inp, timelineValue: 0n }]),
      // A bad signal op comes after a good one: the good one must stay untouched.
      ...(this.variant === 'bad-out' && this.out !== null && pick(fm.sync, this.out) !== undefined ? [{ flags: PanthorSyncOpFlags.SIGNAL, handle: pick(fm.sync, this.out)!, timelineValue: 0n }] : []),
      ...(out === undefined ? [] : [{ flags: (PanthorSyncOpFlags.SIGNAL | (this.variant === 'flags' ? 0x2 : 0)) >>> 0, handle: out, timelineValue: 0n }]),
    ];
    const job = (jobSyncs: typeof syncs) => ({ queueIndex: 0, streamSize: mapped ? this.units * 8 : 0, streamAddr: mapped ? slotVa(0) : 0n, latestFlush: 0, pad: 0, syncs: jobSyncs });
    // `batch`: a second job waits on what the first signals (an intra-batch dependency: fine even on an empty syncobj).
    const batch = this.variant === 'batch' && out !== undefined && fm.sync.has(out);
    const submit = () =>
      file.groupSubmit({
        groupHandle: g ?? 1,
        queueSubmits: batch
          ? [job([{ flags: PanthorSyncOpFlags.SIGNAL, handle: out, timelineValue: 0n }]), job([{ flags: PanthorSyncOpFlags.WAIT, handle: out, timelineValue: 0n }])]
          : [job(syncs)],
      });
    if (vm === undefined || vm.destroyed) await expectErrno(w, 'EINVAL', what, submit);
    else if (this.variant === 'flags' && out !== undefined) await expectErrno(w, 'EINVAL', what, submit);
    else if (out !== undefined && !fm.sync.has(out)) await expectErrno(w, 'EINVAL', `${what} (signal op naming nothing)`, submit);
    else if (inp !== undefined && !fm.sync.has(inp)) await expectErrno(w, 'ENOENT', `${what} (wait op naming nothing)`, submit);
    else if (!batch && inp !== undefined && m.syncobjs.get(fm.sync.get(inp)!) === 'empty') await expectErrno(w, 'EINVAL', `${what} (empty in-syncobj)`, submit);
    else {
      await call(w, submit);
      if (out !== undefined) {
        m.syncobjs.set(fm.sync.get(out)!, 'signaled');
        m.points.set(fm.sync.get(out)!, 0n);
      }
    }
    checkModel(m, w);
  }
  toString = (): string => `PtSubmit(${this.f}, g #${this.gI}, ${this.units}u, out ${this.out ?? '-'}, in ${this.inp ?? '-'}, ${this.variant})`;
}
