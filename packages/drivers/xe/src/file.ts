/**
 * `struct xe_file`: one client of an {@link XeDevice}. The xe ioctls as async methods on the
 * file, each validated by its schema (uapi.ts) before anything changes, throwing
 * `DepError` with the errno xe returns.
 */
import { DmaFenceArray, getStub, unwrapForEach, type Fence } from '@dep/dma-fence';
import { DmaResvUsage } from '@dep/dma-resv';
import { DrmFile, OutSyncs, resolveInSyncs, type GemObject, type HandleTable, type InSync, type OutSync } from '@dep/drm';
import type { EngineClass } from '@dep/hw-sim';
import { DepError, type IosysMap } from '@dep/kernel';
import { UserFence } from '@dep/user-fence';
import type { XeDevice } from './device.js';
import { XeExecQueue, XeJob } from './exec-queue.js';
import {
  XE_CONVERT_FLAG_SIGNAL,
  XE_EXEC,
  XE_EXEC_QUEUE_CREATE,
  XE_EXEC_QUEUE_DESTROY,
  XE_SYNC_FLAG_SIGNAL,
  XE_VM_BIND,
  XE_VM_CONVERT_FENCE,
  XE_VM_CREATE,
  XE_VM_DESTROY,
  XeEngineClass,
  XeSyncType,
  XeVmBindOp,
  XeVmCreateFlags,
  type XeIoctlArgs,
} from './uapi.js';
import { XeVm } from './vm.js';

const ENGINE_CLASS: Readonly<Record<number, EngineClass>> = {
  [XeEngineClass.RENDER]: 'render',
  [XeEngineClass.COPY]: 'copy',
  [XeEngineClass.VIDEO_DECODE]: 'video',
  [XeEngineClass.VIDEO_ENHANCE]: 'video',
  [XeEngineClass.COMPUTE]: 'compute',
};

interface ParsedSyncs {
  readonly ins: InSync[];
  readonly outs: OutSync[];
  readonly ufence: { readonly addr: bigint; readonly value: bigint } | null;
}

interface SyncArg {
  readonly type: number;
  readonly flags: number;
  readonly handle: number;
  readonly addr: bigint;
  readonly timelineValue: bigint;
}

/** Fence callback after an exec's user-fence write: see {@link XeVm._userFenceWritten}. */
function userFenceWritten(_fence: Fence, vm: XeVm): void {
  vm._userFenceWritten();
}

/** A client file of an xe device. */
export class XeFile extends DrmFile {
  /** `xef->exec_queue.xa`: exec queues by id. */
  readonly execQueues: HandleTable<XeExecQueue>;

  constructor(dev: XeDevice, id: number) {
    super(dev, id);
    this.execQueues = this.createTable<XeExecQueue>('exec_queue', { release: (q) => q.destroy() });
  }

  /** The device. */
  get xe(): XeDevice {
    return this.dev as XeDevice;
  }

  // --- VM ---------------------------------------------------------------------------------

  /** `DRM_IOCTL_XE_VM_CREATE`: a new VM — dma-fence mode, or long-running with `LR_MODE`. Returns its id. */
  async vmCreate(args: XeIoctlArgs<typeof XE_VM_CREATE> = {}): Promise<{ readonly vmId: number }> {
    return this.ioctl(XE_VM_CREATE, args, (a) => {
      const lr = (a.flags & XeVmCreateFlags.LR_MODE) !== 0;
      const faultMode = (a.flags & XeVmCreateFlags.FAULT_MODE) !== 0;
      if (faultMode && !lr) throw new DepError('EINVAL', `${XE_VM_CREATE.name}: FAULT_MODE needs LR_MODE`);
      const vm = new XeVm(this.xe, { userFenceTimeoutMs: this.xe.userFenceTimeoutMs, lr, faultMode });
      try {
        return { vmId: this.vms.alloc(vm) };
      } catch (e) {
        vm.close();
        vm.put();
        throw e;
      }
    });
  }

  /**
   * `DRM_IOCTL_XE_VM_DESTROY`: EBUSY while preempt-fence-mode exec queues still use it
   * (`vm->preempt.num_exec_queues`); other queues keep the VM alive, closed — their execs
   * then fail with ECANCELED.
   */
  async vmDestroy(args: XeIoctlArgs<typeof XE_VM_DESTROY>): Promise<void> {
    return this.ioctl(XE_VM_DESTROY, args, (a) => {
      const vm = this.#vm(a.vmId, XE_VM_DESTROY.name);
      if (vm.lr && !vm.faultMode) {
        for (const q of vm.queues) {
          if (!q.bannedOrKilled && !q.released) throw new DepError('EBUSY', `${XE_VM_DESTROY.name}: long-running exec queue guc${q.gucId} still uses VM ${a.vmId}; destroy it first`);
        }
      }
      this.vms.remove(a.vmId);
      vm.close();
      vm.put();
    });
  }

  /**
   * `DRM_IOCTL_XE_VM_BIND`: MAP / UNMAP ranges of the VM. The model binds on the CPU under
   * the VM's resv lock after waiting for the in-syncs; out-syncs get a signalled fence.
   * USER_FENCE syncs are not supported on binds (EOPNOTSUPP).
   */
  async vmBind(args: XeIoctlArgs<typeof XE_VM_BIND>): Promise<void> {
    return this.ioctl(XE_VM_BIND, args, async (a) => {
      const who = XE_VM_BIND.name;
      const vm = this.#vm(a.vmId, who);
      if (vm.killedReason !== null) throw new DepError('ECANCELED', `${who}: VM ${a.vmId} was killed (${vm.killedReason})`);
      const objs: Array<GemObject | null> = [];
      try {
        for (const [i, b] of a.binds.entries()) {
          vm.checkRange(b.addr, b.range, `${who} binds[${i}]`);
          if (b.op === XeVmBindOp.MAP) {
            const obj = this.gemLookup(b.obj);
            if (obj === null) throw new DepError('ENOENT', `${who} binds[${i}]: GEM handle ${b.obj} names nothing in ${this.label}`);
            objs.push(obj);
            if (b.objOffset % vm.pageSize !== 0n || b.objOffset + b.range > obj.size) {
              throw new DepError('EINVAL', `${who} binds[${i}]: [obj_offset ${b.objOffset}, +${b.range}) is misaligned or beyond the object (${obj.size} bytes)`);
            }
            if (obj.vm !== null && obj.vm !== vm) throw new DepError('EINVAL', `${who} binds[${i}]: the object is private to another VM`);
          } else {
            if (b.obj !== 0 || b.objOffset !== 0n) throw new DepError('EINVAL', `${who} binds[${i}]: UNMAP takes no object (obj and obj_offset must be 0)`);
            objs.push(null);
          }
        }
        const { ins, outs, ufence } = this.#parseSyncs(a.syncs, who, false);
        if (ufence !== null) throw new DepError('EOPNOTSUPP', `${who}: user-fence syncs on binds are not modelled`);
        const inFences = await resolveInSyncs(this, ins);
        let out: OutSyncs;
        try {
          out = OutSyncs.prepare(this, outs);
        } catch (e) {
          for (const f of inFences) f.put();
          throw e;
        }
        try {
          for (const f of inFences) await f.wait();
        } finally {
          for (const f of inFences) f.put();
        }
        const exec = await vm.execLock({ numFences: 1 });
        try {
          for (const [i, b] of a.binds.entries()) {
            if (b.op === XeVmBindOp.MAP) vm.map(objs[i]!, b.addr, b.objOffset, b.range, { replace: true });
            else vm.unmap(b.addr, b.range);
          }
        } finally {
          exec.fini();
        }
        const stub = getStub(this.runtime);
        out.install(stub);
        stub.put();
      } finally {
        for (const o of objs) o?.put();
      }
    });
  }

  // --- exec queues ----------------------------------------------------------------------------

  /**
   * `DRM_IOCTL_XE_EXEC_QUEUE_CREATE`: a GuC context on the class's engines (REGISTER H2G;
   * scheduling is enabled by the first job). EINVAL for a class the GPU lacks or an
   * instance beyond its engines, ENOENT for a VM that is not this file's or was killed,
   * EBUSY when the GuC id pool is empty.
   */
  async execQueueCreate(args: XeIoctlArgs<typeof XE_EXEC_QUEUE_CREATE>): Promise<{ readonly execQueueId: number }> {
    return this.ioctl(XE_EXEC_QUEUE_CREATE, args, async (a) => {
      const who = XE_EXEC_QUEUE_CREATE.name;
      const vm = this.#vm(a.vmId, who);
      const inst = a.instances[0]!;
      const cls = ENGINE_CLASS[inst.engineClass]!;
      const engines = this.xe.gpu.enginesOf(cls);
      if (inst.engineInstance >= engines.length) throw new DepError('EINVAL', `${who}: ${cls} instance ${inst.engineInstance} does not exist (the GPU has ${engines.length})`);
      if (vm.killedReason !== null) throw new DepError('ENOENT', `${who}: VM ${a.vmId} was killed (xe_vm_is_closed_or_banned: -ENOENT)`);
      const xe = this.xe;
      const id = xe._allocGucId();
      let q: XeExecQueue;
      try {
        q = new XeExecQueue(xe, vm, id, { engineClass: cls, priority: (args.priority === undefined ? 2 : a.priority) as 0 | 1 | 2 | 3 });
      } catch (e) {
        xe._unallocGucId(id);
        throw e;
      }
      let handle: number;
      try {
        handle = this.execQueues.alloc(q);
      } catch (e) {
        // The queue's teardown gives the id back (deregister of a never-registered queue).
        void q.dep.fini();
        throw e;
      }
      try {
        q.register();
      } catch (e) {
        this.execQueues.remove(handle);
        void q.dep.fini();
        throw e;
      }
      xe._queueAdded(q);
      vm.queues.add(q);
      vm.get();
      if (!vm.lr || vm.faultMode) {
        // xe_hw_engine_group_add_exec_queue (preempt-fence LR queues are not members).
        try {
          await xe.engineGroup(cls).add(q);
        } catch (e) {
          this.execQueues.remove(handle);
          await q.destroy();
          throw e;
        }
      } else {
        // xe_vm_add_compute_exec_queue: the queue's preempt fence goes into the VM's resvs.
        const pf = q._newPreemptFence();
        q._setPreemptFence(pf.get());
        try {
          await vm._addPreemptFence(pf);
        } catch (e) {
          this.execQueues.remove(handle);
          await q.destroy(); // drops the queue's reference (the fence signals -ENOENT)
          throw e;
        } finally {
          pf.put();
        }
      }
      return { execQueueId: handle };
    });
  }

  /** `DRM_IOCTL_XE_EXEC_QUEUE_DESTROY`: kill the queue and start its async teardown (disable + deregister with G2H replies). */
  async execQueueDestroy(args: XeIoctlArgs<typeof XE_EXEC_QUEUE_DESTROY>): Promise<void> {
    return this.ioctl(XE_EXEC_QUEUE_DESTROY, args, async (a) => {
      const q = this.execQueues.remove(a.execQueueId);
      if (q === undefined) throw new DepError('ENOENT', `${XE_EXEC_QUEUE_DESTROY.name}: exec queue ${a.execQueueId} names nothing in ${this.label}`);
      await q.destroy();
    });
  }

  // --- exec -------------------------------------------------------------------------------------

  /**
   * `DRM_IOCTL_XE_EXEC` (xe_exec.c): look the queue up (ENOENT), refuse a banned/killed queue
   * or VM (ECANCELED), parse the syncs (ENOENT/EINVAL/EOPNOTSUPP), lock the VM's resv and
   * external objects (drm_exec), make the job, add in-syncs and the VM's KERNEL fences as
   * dependencies, arm, add the finished fence to the VM resvs (BOOKKEEP), install the
   * out-syncs and the user fence, push. Returns the job's finished fence seqno.
   */
  async exec(args: XeIoctlArgs<typeof XE_EXEC>): Promise<{ readonly seqno: bigint }> {
    return this.ioctl(XE_EXEC, args, async (a) => {
      const who = XE_EXEC.name;
      const q = this.execQueues.lookup(a.execQueueId);
      if (q === undefined) throw new DepError('ENOENT', `${who}: exec queue ${a.execQueueId} names nothing in ${this.label}`);
      const vm = q.vm;
      if (vm.killedReason !== null || vm.closed) throw new DepError('ECANCELED', `${who}: the queue's VM was ${vm.closed ? 'destroyed' : `killed (${vm.killedReason})`}`);
      if (q.bannedOrKilled) throw new DepError('ECANCELED', `${who}: exec queue ${a.execQueueId} was banned (timeout or reset) or killed`);
      const { ins, outs, ufence } = this.#parseSyncs(a.syncs, who, vm.lr);
      let ufLoc: { map: IosysMap; offset: number } | null = null;
      if (ufence !== null) ufLoc = this.#resolveVa(vm, ufence.addr, who);
      const rt = this.runtime;
      const inFences = await resolveInSyncs(this, ins);
      // The hw engine group: a dma-fence job switches it to DMA_FENCE mode (suspending the
      // faulting LR queues) and holds it until pushed; an LR job kicks the resume worker.
      const group = this.xe.engineGroup(q.engineClass);
      const mode = q.faulting ? 'lr' : 'dma-fence';
      if (mode === 'dma-fence') {
        try {
          await group.getMode('dma-fence', inFences);
        } catch (e) {
          for (const f of inFences) f.put();
          throw e;
        }
      }
      if (a.numBatchBuffer === 0) {
        try {
          await this.#execNoBatch(q, inFences, outs);
        } finally {
          if (mode === 'dma-fence') group.put();
        }
        return { seqno: 0n };
      }
      let handed = 0;
      let out: OutSyncs | null = null;
      let uf: UserFence | null = null;
      let exec: Awaited<ReturnType<XeVm['execLock']>> | null = null;
      let job: XeJob | null = null;
      try {
        out = OutSyncs.prepare(this, outs);
        if (ufence !== null) uf = UserFence.alloc(rt);
        // drm_gpuvm_exec_lock; an LR VM's exec locks nothing (drm_exec_init only).
        if (!vm.lr) exec = await vm.execLock({ numFences: 1 });
        job = new XeJob(q, a.units);
        for (const f of inFences) {
          handed++;
          job.addDependency(f);
        }
        // Wait behind rebinds (dma-fence mode only: LR jobs never wait on the resv).
        if (!vm.lr) job.addResvDependencies(vm.resv, DmaResvUsage.KERNEL);
      } catch (e) {
        for (const f of inFences.slice(handed)) f.put();
        job?.put();
        exec?.fini();
        out?.abort();
        uf?.free();
        if (mode === 'dma-fence') group.put();
        throw e;
      }
      // Point of no return.
      const armed = job.arm();
      const fence: Fence = armed.finishedFence();
      // LR job fences are never exported: not in the resvs, no syncobj out-syncs.
      if (!vm.lr) vm.resvAddFence(fence, DmaResvUsage.BOOKKEEP, DmaResvUsage.BOOKKEEP);
      out.install(fence);
      if (uf !== null && ufLoc !== null) {
        uf.attach(fence, ufLoc.map, ufence!.value, { offset: ufLoc.offset });
        // After the write (callbacks run in the order added): wake the VM's memory fences.
        fence.addCallback(userFenceWritten, vm);
      }
      const seqno = fence.seqno;
      q._setLastFence(fence);
      armed.push();
      armed.put();
      exec?.fini();
      if (mode === 'dma-fence') group.put();
      else group.resumeFaultingLrJobs();
      return { seqno };
    });
  }

  /**
   * `num_batch_buffer == 0` (xe_exec_ioctl): no job. In dma-fence mode the out-syncs get a
   * composite of the in-fences and the queue's last fence (`xe_sync_in_fence_get`), which
   * becomes the last fence; in LR mode nothing is signalled. Consumes `inFences`.
   */
  async #execNoBatch(q: XeExecQueue, inFences: Fence[], outs: readonly OutSync[]): Promise<void> {
    const vm = q.vm;
    if (vm.lr) {
      for (const f of inFences) f.put();
      return;
    }
    let out: OutSyncs;
    try {
      out = OutSyncs.prepare(this, outs);
    } catch (e) {
      for (const f of inFences) f.put();
      throw e;
    }
    const last = q.lastFence?.get() ?? getStub(this.runtime);
    let fence: Fence;
    if (inFences.length === 0) {
      fence = last;
    } else {
      // xe_sync_in_fence_get's composite, flattened: the last fence may itself be an earlier
      // composite (and an in-fence a merged sync_file), and dma_fence_array_create refuses
      // containers inside an array (decision 0647).
      const leaves: Fence[] = [];
      for (const f of [...inFences, last]) for (const leaf of unwrapForEach(f)) leaves.push(leaf.get());
      for (const f of inFences) f.put();
      last.put();
      try {
        fence = DmaFenceArray.create(leaves, vm.compositeContext, vm.compositeSeqno + 1n, { runtime: this.runtime });
      } catch (e) {
        for (const f of leaves) f.put();
        out.abort();
        throw e;
      }
      vm.compositeSeqno++;
    }
    out.install(fence);
    q._setLastFence(fence);
    fence.put();
  }

  // --- user-fence convert --------------------------------------------------------------------

  /**
   * The user-fence convert ioctl (rfc-designs C.2). For each entry: with
   * `XE_CONVERT_FLAG_SIGNAL` (export, memory → fence) a fence that signals when the 64-bit
   * location at `offset` of `bo` reaches `value` is installed in syncobj `handle`; it is
   * bounded by the VM's user-fence TDR (default 5 s: -ETIME and the VM is killed). Without
   * it (import, fence → memory) the syncobj's fence writes `value` there when it signals,
   * and goes into the VM's resvs (BOOKKEEP) so the memory stays put. ENOENT for handles
   * naming nothing, EINVAL for a misaligned or out-of-range location or an import from an
   * empty syncobj, ECANCELED on a killed VM.
   */
  async vmConvertFence(args: XeIoctlArgs<typeof XE_VM_CONVERT_FENCE>): Promise<void> {
    return this.ioctl(XE_VM_CONVERT_FENCE, args, async (a) => {
      const who = XE_VM_CONVERT_FENCE.name;
      const vm = this.#vm(a.vmId, who);
      if (vm.killedReason !== null) throw new DepError('ECANCELED', `${who}: VM ${a.vmId} was killed (${vm.killedReason})`);
      const bos: GemObject[] = [];
      const imports: Fence[] = [];
      const ufs: UserFence[] = [];
      const cleanup = (): void => {
        for (const b of bos) b.put();
        for (const f of imports) f.put();
        for (const u of ufs) u.free();
      };
      try {
        for (const [i, s] of a.syncs.entries()) {
          if (this.syncobjs.lookup(s.handle) === undefined) throw new DepError('ENOENT', `${who} syncs[${i}]: syncobj ${s.handle} names nothing in ${this.label}`);
          const bo = this.gemLookup(s.bo);
          if (bo === null) throw new DepError('ENOENT', `${who} syncs[${i}]: GEM handle ${s.bo} names nothing in ${this.label}`);
          bos.push(bo);
          if (s.offset % 8n !== 0n || s.offset + 8n > bo.size || bo.buffer === null) throw new DepError('EINVAL', `${who} syncs[${i}]: offset ${s.offset} is not an 8-byte aligned location inside the object`);
          if (bo.vm !== null && bo.vm !== vm) throw new DepError('EINVAL', `${who} syncs[${i}]: the object is private to another VM`);
        }
        for (const [i, s] of a.syncs.entries()) {
          if ((s.flags & XE_CONVERT_FLAG_SIGNAL) !== 0) continue;
          const f = this.syncobjs.lookup(s.handle)!.fenceGet();
          if (f === null) throw new DepError('EINVAL', `${who} syncs[${i}]: syncobj ${s.handle} has no fence to import`);
          imports.push(f);
          ufs.push(UserFence.alloc(this.runtime));
        }
      } catch (e) {
        cleanup();
        throw e;
      }
      let exec: Awaited<ReturnType<XeVm['execLock']>>;
      try {
        exec = await vm.execLock({ numFences: Math.max(1, imports.length), extra: bos });
      } catch (e) {
        cleanup();
        throw e;
      }
      const exports: Fence[] = [];
      try {
        for (const [i, s] of a.syncs.entries()) {
          if ((s.flags & XE_CONVERT_FLAG_SIGNAL) === 0) continue;
          exports.push(vm.memoryFence(bos[i]!, Number(s.offset)).createFence(s.value));
        }
      } catch (e) {
        for (const f of exports) f.put();
        exec.fini();
        cleanup();
        throw e;
      }
      // Point of no return.
      let ex = 0;
      let im = 0;
      for (const [i, s] of a.syncs.entries()) {
        const syncobj = this.syncobjs.lookup(s.handle)!;
        if ((s.flags & XE_CONVERT_FLAG_SIGNAL) !== 0) {
          const f = exports[ex++]!;
          syncobj.replaceFence(f);
          vm._setLastExported(f);
          f.put();
        } else {
          const f = imports[im]!;
          const uf = ufs[im]!;
          im++;
          const bo = bos[i]!;
          uf.attach(f, bo.buffer!.map(), s.value, { offset: Number(s.offset) });
          vm.resvAddFence(f, DmaResvUsage.BOOKKEEP, DmaResvUsage.BOOKKEEP);
          if (bo.resv !== vm.resv && !vm.isExtobj(bo)) bo.resv.addFence(f, DmaResvUsage.BOOKKEEP);
        }
      }
      exec.fini();
      for (const b of bos) b.put();
      for (const f of imports) f.put();
    });
  }

  // --- helpers ----------------------------------------------------------------------------------

  #vm(id: number, who: string): XeVm {
    const vm = this.vms.lookup(id);
    if (vm === undefined || !(vm instanceof XeVm)) throw new DepError('ENOENT', `${who}: vm_id ${id} names no VM of ${this.label}`);
    return vm;
  }

  /** `xe_sync_entry_parse` for every sync: no state is touched. */
  #parseSyncs(syncs: readonly SyncArg[], who: string, lr: boolean): ParsedSyncs {
    const ins: InSync[] = [];
    const outs: OutSync[] = [];
    let ufence: ParsedSyncs['ufence'] = null;
    for (const [i, s] of syncs.entries()) {
      const signal = (s.flags & XE_SYNC_FLAG_SIGNAL) !== 0;
      switch (s.type) {
        case XeSyncType.SYNCOBJ:
          if (lr && signal) throw new DepError('EOPNOTSUPP', `${who} syncs[${i}]: a long-running VM's job fences are never exported; signal a user fence instead`);
          if (s.addr >> 32n !== 0n) throw new DepError('EINVAL', `${who} syncs[${i}]: addr has upper bits set (xe_sync_entry_parse checks upper_32_bits)`);
          (signal ? outs : ins).push({ handle: s.handle });
          break;
        case XeSyncType.TIMELINE_SYNCOBJ:
          if (lr && signal) throw new DepError('EOPNOTSUPP', `${who} syncs[${i}]: a long-running VM's job fences are never exported; signal a user fence instead`);
          if (s.addr >> 32n !== 0n) throw new DepError('EINVAL', `${who} syncs[${i}]: addr has upper bits set (xe_sync_entry_parse checks upper_32_bits)`);
          if (s.timelineValue === 0n) throw new DepError('EINVAL', `${who} syncs[${i}]: a timeline syncobj needs timeline_value ≠ 0`);
          (signal ? outs : ins).push({ handle: s.handle, point: s.timelineValue });
          break;
        default:
          if (!signal) throw new DepError('EOPNOTSUPP', `${who} syncs[${i}]: a user fence can only be signalled (set DRM_XE_SYNC_FLAG_SIGNAL)`);
          if ((s.addr & 7n) !== 0n) throw new DepError('EINVAL', `${who} syncs[${i}]: user-fence address 0x${s.addr.toString(16)} is not 8-byte aligned`);
          ufence = { addr: s.addr, value: s.timelineValue };
      }
    }
    for (const [i, s] of ins.entries()) if (this.syncobjs.lookup(s.handle) === undefined) throw new DepError('ENOENT', `${who}: in-sync ${i} (syncobj ${s.handle}) names nothing in ${this.label}`);
    for (const [i, s] of outs.entries()) if (this.syncobjs.lookup(s.handle) === undefined) throw new DepError('ENOENT', `${who}: out-sync ${i} (syncobj ${s.handle}) names nothing in ${this.label}`);
    return { ins, outs, ufence };
  }

  /** The kernel mapping of the 8 bytes at GPU VA `addr` of `vm` (EFAULT when nothing is bound there). */
  #resolveVa(vm: XeVm, addr: bigint, who: string): { map: IosysMap; offset: number } {
    const va = vm.find(addr);
    if (va === null || addr + 8n > va.va + va.range || va.bo.buffer === null) throw new DepError('EFAULT', `${who}: user-fence address 0x${addr.toString(16)} is not bound in the VM`);
    return { map: va.bo.buffer.map(), offset: Number(va.offset + (addr - va.va)) };
  }
}
