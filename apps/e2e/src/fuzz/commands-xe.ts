/**
 * Fuzz commands of the xe uAPI: GEM create (optionally VM-private), VM create / destroy /
 * bind, exec queue create / destroy, exec with syncobj in- and out-syncs; each with its
 * invalid variants and xe's errnos (xe_vm.c, xe_exec_queue.c, xe_exec.c, xe_sync.c).
 */
import { GEM_MAX_SIZE } from '@dep/drm';
import { XE_SYNC_FLAG_SIGNAL, XeEngineClass, XeSyncType, XeVmBindOp, XeVmCreateFlags } from '@dep/driver-xe';
import { expect } from 'vitest';
import { call, checkModel, expectErrno, objKey, type Cmd } from './harness.js';
import { bogus, handleOf, lowestFree, otherFiles, pick, slotVa, type Model } from './model.js';
import { XE, type World } from './world.js';

const PAGE = 4096n;

function xeFile(w: World, f: number) {
  return w.files[XE][f]!;
}

function vmKey(w: World, vm: object): string {
  return `${XE}:vm${w.xe.idOf(vm)}`;
}

export type XeBoVariant = 'plain' | 'private' | 'unaligned' | 'zero' | 'huge' | 'flags' | 'bad-vm';

/** The generic `GEM_CREATE` xe uses here (xe_gem_create): page-multiple size, optionally private to a VM of the file. */
export class XeBoCreate implements Cmd {
  constructor(readonly f: number, readonly pages: number, readonly variant: XeBoVariant, readonly vmI: number) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[XE];
    const fm = dm.files[this.f]!;
    const file = xeFile(w, this.f);
    const size = BigInt(this.pages) * PAGE;
    const what = this.toString();
    switch (this.variant) {
      case 'unaligned':
        await expectErrno(w, 'EINVAL', what, () => file.gemCreate({ size: size + 1n }));
        break;
      case 'zero':
        await expectErrno(w, 'EINVAL', what, () => file.gemCreate({ size: 0n }));
        break;
      case 'huge':
        await expectErrno(w, 'EINVAL', what, () => file.gemCreate({ size: GEM_MAX_SIZE + PAGE }));
        break;
      case 'flags':
        await expectErrno(w, 'EINVAL', what, () => file.gemCreate({ size, flags: 0x100 }));
        break;
      case 'bad-vm':
        await expectErrno(w, 'ENOENT', what, () => file.gemCreate({ size, vmId: bogus(fm.vms, otherFiles(dm, this.f).map((x) => x.vms)) }));
        break;
      default: {
        const vmId = this.variant === 'private' ? (pick(fm.vms, this.vmI) ?? 0) : 0;
        const r = await call(w, () => file.gemCreate({ size, vmId }));
        expect(r.handle, 'GEM handle').toBe(lowestFree(fm.gem));
        expect(r.size).toBe(size);
        const key = objKey(XE, file.gem.lookup(r.handle)!.id);
        expect(dm.objects.has(key), 'a new object').toBe(false);
        dm.objects.set(key, { key, dev: XE, origin: key, vm: vmId === 0 ? null : fm.vms.get(vmId)!, boType: 0, size });
        fm.gem.set(r.handle, key);
      }
    }
    checkModel(m, w);
  }
  toString = (): string => `XeBoCreate(${this.f}, ${this.pages}p, ${this.variant}, vm #${this.vmI})`;
}

export type XeVmCreateVariant = 'ok' | 'lr' | 'flags' | 'fault-without-lr';

/** `DRM_IOCTL_XE_VM_CREATE` in dma-fence mode or (`lr`) long-running mode. Unknown flags, FAULT_MODE without LR_MODE: EINVAL. */
export class XeVmCreate implements Cmd {
  constructor(readonly f: number, readonly variant: XeVmCreateVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[XE];
    const fm = dm.files[this.f]!;
    const file = xeFile(w, this.f);
    if (this.variant === 'flags') await expectErrno(w, 'EINVAL', this.toString(), () => file.vmCreate({ flags: 1 << 5 }));
    else if (this.variant === 'fault-without-lr') await expectErrno(w, 'EINVAL', this.toString(), () => file.vmCreate({ flags: XeVmCreateFlags.FAULT_MODE }));
    else {
      const lr = this.variant === 'lr';
      const { vmId } = await call(w, () => file.vmCreate({ flags: lr ? XeVmCreateFlags.LR_MODE : 0 }));
      expect(vmId, 'vm_id').toBe(lowestFree(fm.vms));
      const key = vmKey(w, file.vms.lookup(vmId)!);
      dm.vms.set(key, { key, slots: new Map(), destroyed: false, lr });
      fm.vms.set(vmId, key);
    }
    checkModel(m, w);
  }
  toString = (): string => `XeVmCreate(${this.f}, ${this.variant})`;
}

/**
 * `DRM_IOCTL_XE_VM_DESTROY`: ENOENT for an id naming no VM of the file, EBUSY for a
 * long-running VM still used by exec queues; the VM is unmapped, its queues keep it (closed).
 */
export class XeVmDestroy implements Cmd {
  constructor(readonly f: number, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[XE];
    const fm = dm.files[this.f]!;
    const file = xeFile(w, this.f);
    const id = handleOf(dm, this.f, 'vms', this.i, this.bad);
    if (id === undefined || !fm.vms.has(id)) {
      await expectErrno(w, 'ENOENT', this.toString(), () => file.vmDestroy({ vmId: id ?? 1 }));
    } else if (dm.vms.get(fm.vms.get(id)!)!.lr && [...fm.ctxs.values()].some((c) => c.vm === fm.vms.get(id))) {
      await expectErrno(w, 'EBUSY', `${this.toString()} (long-running queues use it)`, () => file.vmDestroy({ vmId: id }));
    } else {
      await call(w, () => file.vmDestroy({ vmId: id }));
      const vm = dm.vms.get(fm.vms.get(id)!)!;
      vm.destroyed = true;
      vm.slots.clear();
      fm.vms.delete(id);
    }
    checkModel(m, w);
  }
  toString = (): string => `XeVmDestroy(${this.f}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

export type BindVariant = 'ok' | 'async' | 'bad-vm' | 'bad-bo' | 'misaligned' | 'offset' | 'flags';

/**
 * `DRM_IOCTL_XE_VM_BIND`, one op: MAP a page of a BO at a slot, or UNMAP the slot. ENOENT
 * for a VM or BO naming nothing; EINVAL for a misaligned address, an offset beyond the
 * object, an object private to another VM, unknown op flags.
 */
export class XeVmBind implements Cmd {
  constructor(readonly f: number, readonly vmI: number, readonly map: boolean, readonly slot: number, readonly boI: number, readonly variant: BindVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[XE];
    const fm = dm.files[this.f]!;
    const file = xeFile(w, this.f);
    const what = this.toString();
    const vmId = handleOf(dm, this.f, 'vms', this.vmI, this.variant === 'bad-vm');
    const addr = slotVa(this.slot) + (this.variant === 'misaligned' ? 0x800n : 0n);
    const bind = (obj: number, objOffset: bigint) =>
      file.vmBind({ vmId: vmId ?? 1, binds: [{ obj, objOffset, range: PAGE, addr, op: this.map ? XeVmBindOp.MAP : XeVmBindOp.UNMAP, flags: this.variant === 'flags' ? 1 : 0 }] });
    if (this.variant === 'flags') {
      await expectErrno(w, 'EINVAL', what, () => bind(this.map ? (pick(fm.gem, this.boI) ?? 1) : 0, 0n));
    } else if (vmId === undefined || !fm.vms.has(vmId)) {
      await expectErrno(w, 'ENOENT', what, () => bind(this.map ? (pick(fm.gem, this.boI) ?? 1) : 0, 0n));
    } else if (this.variant === 'misaligned') {
      await expectErrno(w, 'EINVAL', what, () => bind(this.map ? (pick(fm.gem, this.boI) ?? 1) : 0, 0n));
    } else if (!this.map) {
      if (this.variant === 'bad-bo' || this.variant === 'offset') {
        await expectErrno(w, 'EINVAL', `${what} (UNMAP with an object)`, () => bind(pick(fm.gem, this.boI) ?? 1, 0n));
      } else {
        await call(w, () => bind(0, 0n));
        dm.vms.get(fm.vms.get(vmId)!)!.slots.delete(this.slot);
      }
    } else {
      const vm = fm.vms.get(vmId)!;
      const h = handleOf(dm, this.f, 'gem', this.boI, this.variant === 'bad-bo');
      if (h === undefined || !fm.gem.has(h)) {
        await expectErrno(w, 'ENOENT', what, () => bind(h ?? 1, 0n));
      } else {
        const obj = dm.objects.get(fm.gem.get(h)!)!;
        if (this.variant === 'offset') await expectErrno(w, 'EINVAL', what, () => bind(h, obj.size));
        else if (obj.vm !== null && obj.vm !== vm) await expectErrno(w, 'EINVAL', `${what} (private to another VM)`, () => bind(h, 0n));
        else {
          await call(w, () => bind(h, 0n));
          dm.vms.get(vm)!.slots.set(this.slot, obj.key);
        }
      }
    }
    checkModel(m, w);
  }
  toString = (): string => `XeVmBind(${this.f}, vm #${this.vmI}, ${this.map ? 'map' : 'unmap'} slot ${this.slot}, bo #${this.boI}, ${this.variant})`;
}

export type QueueCreateVariant = 'ok' | 'bad-vm' | 'instance' | 'width';

const CLASSES = [XeEngineClass.RENDER, XeEngineClass.COPY, XeEngineClass.COMPUTE, XeEngineClass.VIDEO_DECODE] as const;

/** `DRM_IOCTL_XE_EXEC_QUEUE_CREATE` on a VM of the file: ENOENT for a bad VM, EINVAL for an engine instance the GPU lacks or width ≠ 1. */
export class XeQueueCreate implements Cmd {
  constructor(readonly f: number, readonly vmI: number, readonly cls: number, readonly variant: QueueCreateVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[XE];
    const fm = dm.files[this.f]!;
    const file = xeFile(w, this.f);
    const what = this.toString();
    const vmId = handleOf(dm, this.f, 'vms', this.vmI, this.variant === 'bad-vm');
    const engineClass = CLASSES[this.cls % CLASSES.length]!;
    const create = () =>
      file.execQueueCreate({ vmId: vmId ?? 1, width: this.variant === 'width' ? 2 : 1, numPlacements: 1, instances: [{ engineClass, engineInstance: this.variant === 'instance' ? 3 : 0 }] });
    if (this.variant === 'width') await expectErrno(w, 'EINVAL', what, create);
    else if (vmId === undefined || !fm.vms.has(vmId)) await expectErrno(w, 'ENOENT', what, create);
    else if (this.variant === 'instance') await expectErrno(w, 'EINVAL', what, create);
    else {
      const { execQueueId } = await call(w, create);
      expect(execQueueId, 'exec_queue_id').toBe(lowestFree(fm.ctxs));
      fm.ctxs.set(execQueueId, { vm: fm.vms.get(vmId)!, syncobj: 0, configured: true, nextSeq: 1n, cu: null });
    }
    checkModel(m, w);
  }
  toString = (): string => `XeQueueCreate(${this.f}, vm #${this.vmI}, class ${this.cls}, ${this.variant})`;
}

/** `DRM_IOCTL_XE_EXEC_QUEUE_DESTROY`: ENOENT for an id naming nothing. */
export class XeQueueDestroy implements Cmd {
  constructor(readonly f: number, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[XE];
    const fm = dm.files[this.f]!;
    const file = xeFile(w, this.f);
    const id = handleOf(dm, this.f, 'ctxs', this.i, this.bad);
    if (id === undefined || !fm.ctxs.has(id)) {
      await expectErrno(w, 'ENOENT', this.toString(), () => file.execQueueDestroy({ execQueueId: id ?? 1 }));
    } else {
      await call(w, () => file.execQueueDestroy({ execQueueId: id }));
      fm.ctxs.delete(id);
    }
    checkModel(m, w);
  }
  toString = (): string => `XeQueueDestroy(${this.f}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

export type SubmitVariant = 'ok' | 'no-batch' | 'batch' | 'bad-ctx' | 'bad-out' | 'bad-in' | 'flags';

/**
 * `DRM_IOCTL_XE_EXEC` of one batch, optionally waiting on one syncobj and signalling
 * another. ENOENT for a queue or syncobj naming nothing, ECANCELED once the queue's VM is
 * destroyed, EINVAL for an empty in-syncobj or unknown sync flags, EOPNOTSUPP for an
 * out-syncobj on a long-running queue. The out-syncobj holds the job's fence (signalled:
 * the command ends with the runtime idle); with `no-batch` (`num_batch_buffer` 0) no job
 * runs and it gets the in-fences and the queue's last fence.
 */
export class XeExec implements Cmd {
  constructor(readonly f: number, readonly qI: number, readonly units: number, readonly out: number | null, readonly inp: number | null, readonly variant: SubmitVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[XE];
    const fm = dm.files[this.f]!;
    const file = xeFile(w, this.f);
    const what = this.toString();
    const others = otherFiles(dm, this.f);
    const q = this.variant === 'bad-ctx' ? bogus(fm.ctxs, others.map((x) => x.ctxs)) : pick(fm.ctxs, this.qI);
    const out = this.variant === 'bad-out' ? bogus(fm.sync, others.map((x) => x.sync)) : this.out === null ? undefined : pick(fm.sync, this.out);
    const inp = this.variant === 'bad-in' ? bogus(fm.sync, others.map((x) => x.sync)) : this.inp === null ? undefined : pick(fm.sync, this.inp);
    const syncs = [
      ...(inp === undefined ? [] : [{ type: XeSyncType.SYNCOBJ, flags: 0, handle: inp }]),
      // A bad out-sync comes after a good one: the good one must stay untouched.
      ...(this.variant === 'bad-out' && this.out !== null && pick(fm.sync, this.out) !== undefined ? [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: pick(fm.sync, this.out)! }] : []),
      ...(out === undefined ? [] : [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL | (this.variant === 'flags' ? 0x8 : 0), handle: out }]),
    ];
    const exec = () => file.exec({ execQueueId: q ?? 1, numBatchBuffer: this.variant === 'no-batch' ? 0 : 1, address: slotVa(0), units: this.units, syncs });
    const lr = q !== undefined && fm.ctxs.has(q) && dm.vms.get(fm.ctxs.get(q)!.vm!)!.lr;
    if (this.variant === 'flags' && out !== undefined) await expectErrno(w, 'EINVAL', what, exec);
    else if (q === undefined || !fm.ctxs.has(q)) await expectErrno(w, 'ENOENT', what, exec);
    else if (dm.vms.get(fm.ctxs.get(q)!.vm!)!.destroyed) await expectErrno(w, 'ECANCELED', `${what} (VM destroyed)`, exec);
    else if (lr && out !== undefined) await expectErrno(w, 'EOPNOTSUPP', `${what} (long-running: no out-fence)`, exec);
    else if ((inp !== undefined && !fm.sync.has(inp)) || (out !== undefined && !fm.sync.has(out))) await expectErrno(w, 'ENOENT', what, exec);
    else if (inp !== undefined && m.syncobjs.get(fm.sync.get(inp)!) === 'empty') await expectErrno(w, 'EINVAL', `${what} (empty in-syncobj)`, exec);
    else {
      const { seqno } = await call(w, exec);
      expect(seqno > 0n, 'the job\'s seqno (none without a batch)').toBe(this.variant !== 'no-batch');
      if (out !== undefined) {
        m.syncobjs.set(fm.sync.get(out)!, 'signaled');
        m.points.set(fm.sync.get(out)!, 0n);
      }
    }
    checkModel(m, w);
  }
  toString = (): string => `XeExec(${this.f}, q #${this.qI}, ${this.units}u, out ${this.out ?? '-'}, in ${this.inp ?? '-'}, ${this.variant})`;
}

