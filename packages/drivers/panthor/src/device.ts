/**
 * `struct panthor_device` and `struct panthor_file`: a DRM device on hw-sim's CSF-like GPU,
 * with the panthor ioctls on each client's file.
 */
import { DmaResvUsage } from '@dep/dma-resv';
import { DrmDevice, DrmFile, PAGE_SIZE, type GemObject, type HandleTable, type IoctlArgs } from '@dep/drm';
import { createCsfDevice, type CsfConfig, type CsfDevice, type CsfFaultReason, type CsfIrq, type CsfPriority, type DeviceLostIrq } from '@dep/hw-sim';
import { DepError, Work, Workqueue, type Runtime } from '@dep/kernel';
import { CS_INSTR_BYTES, PanthorGroup, PanthorJob } from './sched.js';
import { SubmitCtx, checkSyncOp } from './submit.js';
import {
  PANTHOR_BO_CREATE,
  PANTHOR_GROUP_CREATE,
  PANTHOR_GROUP_DESTROY,
  PANTHOR_GROUP_GET_STATE,
  PANTHOR_GROUP_SUBMIT,
  PANTHOR_VM_BIND,
  PANTHOR_VM_CREATE,
  PANTHOR_VM_DESTROY,
  PanthorGroupPriority,
  PanthorVmBindFlags,
  PanthorVmBindOpFlags,
} from './uapi.js';
import { PanthorBindJob, PanthorVm } from './vm.js';

/** Options of a {@link PanthorDevice}. */
export interface PanthorDeviceOptions {
  readonly runtime: Runtime;
  /** The simulated GPU (slots, queues per group, tick, suspend timings, cost model). */
  readonly csf?: CsfConfig;
  /** Device name. Default `card<N>`. */
  readonly name?: string;
  /** The driver's per-queue progress timeout, ms (panthor: 5 s). */
  readonly progressTimeoutMs?: number;
  /**
   * rfc-designs E.2 variant: the queues' finished fences are INACTIVE from arm to push, so
   * a submit pushes each job *before* adding its fence to the resvs (still under the
   * locks). Default false: panthor as merged (add to resvs, then push).
   */
  readonly inactiveFences?: boolean;
  /** Clients may ask for HIGH and REALTIME groups (CAP_SYS_NICE or DRM master). Default true. */
  readonly capSysNice?: boolean;
  /**
   * rfc-designs E.3: the group queues' `bypass` option — `runJob` (ring write + doorbell)
   * runs inline in the submit ioctl, under the VM and BO resv locks, when the queue is idle
   * and the job has no pending dependency. Default false (panthor uses the submit worker).
   */
  readonly bypass?: boolean;
}

/** Counters of a {@link PanthorDevice}. */
export interface PanthorStats {
  /** Sync-update work items run. */
  syncUpdates: number;
  /** Progress timeouts that found no progress (and faulted the queue). */
  progressTimeouts: number;
  /** Group faults the firmware reported. */
  groupFaults: number;
}

const PRIORITIES: readonly CsfPriority[] = ['low', 'medium', 'high', 'realtime'];

/**
 * A panthor device: `open()` returns a {@link PanthorFile}. The firmware's interrupts are
 * turned into work on the scheduler's `WQ_MEM_RECLAIM` workqueue (`ptdev->scheduler->wq`):
 * sync updates signal done fences by seqno, group faults terminate groups.
 */
export class PanthorDevice extends DrmDevice<PanthorFile> {
  readonly gpu: CsfDevice;
  /** The scheduler workqueue: sync-update, fault and progress-timeout work. */
  readonly schedWq: Workqueue;
  readonly progressTimeoutMs: number;
  readonly inactiveFences: boolean;
  readonly capSysNice: boolean;
  readonly bypass: boolean;
  readonly stats: PanthorStats = { syncUpdates: 0, progressTimeouts: 0, groupFaults: 0 };
  readonly #groups = new Map<number, PanthorGroup>();
  readonly #pendingSync = new Set<number>();
  readonly #pendingFaults: Array<{ group: number; mask: number; reason: CsfFaultReason }> = [];
  #lost = false;
  readonly #eventWork: Work;
  #nextGroup = 1;
  #unhook: () => void;

  constructor(options: PanthorDeviceOptions) {
    if (typeof options !== 'object' || options === null) throw new DepError('EINVAL', 'new PanthorDevice(options): pass { runtime, csf?, progressTimeoutMs?, inactiveFences? }');
    const rt = options.runtime;
    const gpu = createCsfDevice(rt, options.csf ?? {});
    super({ runtime: rt, memory: gpu.memory, driverName: 'panthor', ...(options.name === undefined ? {} : { name: options.name }) });
    const t = options.progressTimeoutMs ?? 5000;
    if (typeof t !== 'number' || !(t > 0) || t === Infinity) throw new DepError('EINVAL', `PanthorDevice: progressTimeoutMs must be a positive finite number of ms, got ${String(t)}`);
    this.gpu = gpu;
    this.progressTimeoutMs = t;
    this.inactiveFences = options.inactiveFences ?? false;
    this.capSysNice = options.capSysNice ?? true;
    this.bypass = options.bypass ?? false;
    this.schedWq = new Workqueue(rt, 'panthor-sched', { memReclaim: true, ordered: true });
    this.#eventWork = new Work(() => this.#events(), 'panthor-sched-events');
    this.#unhook = gpu.requestIrq((ev) => this.#irq(ev));
  }

  protected override createFile(id: number): PanthorFile {
    return new PanthorFile(this, id);
  }

  /** Groups alive (created and not yet freed). */
  get groups(): readonly PanthorGroup[] {
    return [...this.#groups.values()];
  }

  /** Irq context: note what happened and let the scheduler work handle it. */
  #irq(ev: CsfIrq | DeviceLostIrq): void {
    if (ev.kind === 'sync-update') {
      for (const g of ev.groups) this.#pendingSync.add(g);
    } else if (ev.kind === 'group-fault') {
      this.#pendingFaults.push({ group: ev.group, mask: ev.queueMask, reason: ev.reason });
    } else if (ev.kind === 'device-lost') {
      this.#lost = true;
    } else {
      return;
    }
    this.schedWq.queueWork(this.#eventWork);
  }

  /** The scheduler's event work (`group_sync_upd_work`, `process_fw_events_work`). */
  #events(): void {
    if (this.#pendingSync.size > 0) {
      this.stats.syncUpdates++;
      const ids = [...this.#pendingSync].sort((a, b) => a - b);
      this.#pendingSync.clear();
      for (const id of ids) this.#groups.get(id)?.syncUpdate();
    }
    for (const f of this.#pendingFaults.splice(0)) {
      this.stats.groupFaults++;
      this.#groups.get(f.group)?.faulted(f.mask, f.reason);
    }
    if (this.#lost) {
      for (const g of this.#groups.values()) if (g.fate === null) g.terminate('innocent');
    }
  }

  /** @internal */
  groupCreated(g: PanthorGroup): void {
    this.#groups.set(g.csf.id, g);
  }

  /** @internal */
  groupFreed(g: PanthorGroup): void {
    this.#groups.delete(g.csf.id);
  }

  /** @internal */
  nextGroupName(): string {
    return `g${this.#nextGroup++}`;
  }

  /**
   * System suspend (`panthor_sched_suspend`): every resident group is suspended (its queues
   * saved); a group whose suspend never finishes (a hung queue) is terminated by the
   * firmware and reported TIMEDOUT. The progress timers stop counting meanwhile (they count
   * resident time). Sleeps until every group is off its slot.
   */
  async suspend(): Promise<void> {
    await this.gpu.fw.suspendAll();
  }

  /** System resume (`panthor_sched_resume`): suspended groups compete for slots again. */
  resume(): void {
    this.gpu.fw.resumeAll();
  }

  /**
   * Unplug: every file must be closed (and its groups released, e.g. after
   * `rt.runUntilIdle()`). Destroys the scheduler workqueue. Sleeps.
   */
  async fini(): Promise<void> {
    this.#unhook();
    await this.#eventWork.cancelSync();
    await this.schedWq.destroy();
  }
}

/** The ioctls of a panthor client (`struct panthor_file`). */
export class PanthorFile extends DrmFile {
  /** `pfile->groups`: group handles. Closing the file destroys them. */
  readonly groups: HandleTable<PanthorGroup>;
  declare readonly dev: PanthorDevice;

  constructor(dev: PanthorDevice, id: number) {
    super(dev, id);
    this.groups = this.createTable<PanthorGroup>('group', { release: (g) => g.destroy() });
  }

  #vm(id: number, who: string): PanthorVm {
    const vm = this.vms.lookup(id);
    if (vm === undefined || !(vm instanceof PanthorVm)) throw new DepError('EINVAL', `${who}: VM id ${id} names no VM of ${this.label}`);
    return vm;
  }

  #group(handle: number, who: string): PanthorGroup {
    const g = this.groups.lookup(handle);
    if (g === undefined) throw new DepError('EINVAL', `${who}: group handle ${handle} names no group of ${this.label}`);
    return g;
  }

  /** `DRM_IOCTL_PANTHOR_VM_CREATE`: a new VM (and its bind queue). Returns its id. */
  async vmCreate(args: IoctlArgs<typeof PANTHOR_VM_CREATE> = {}): Promise<{ readonly id: number }> {
    return this.ioctl(PANTHOR_VM_CREATE, args, (a) => {
      const vm = new PanthorVm(this.dev, { range: a.userVaRange === 0n ? 1n << 47n : a.userVaRange });
      try {
        return { id: this.vms.alloc(vm) };
      } catch (e) {
        vm.close();
        vm.put();
        throw e;
      }
    });
  }

  /** `DRM_IOCTL_PANTHOR_VM_DESTROY`: unmap everything, drop the handle (groups keep their reference). */
  async vmDestroy(args: IoctlArgs<typeof PANTHOR_VM_DESTROY>): Promise<void> {
    return this.ioctl(PANTHOR_VM_DESTROY, args, (a) => {
      const vm = this.#vm(a.id, PANTHOR_VM_DESTROY.name);
      this.vms.remove(a.id);
      vm.close();
      vm.put();
    });
  }

  /** `DRM_IOCTL_PANTHOR_BO_CREATE`: size rounded up to pages; private to `exclusiveVmId` when given. */
  async boCreate(args: IoctlArgs<typeof PANTHOR_BO_CREATE>): Promise<{ readonly handle: number; readonly size: bigint }> {
    return this.ioctl(PANTHOR_BO_CREATE, args, async (a) => {
      const vm = a.exclusiveVmId === 0 ? null : this.#vm(a.exclusiveVmId, PANTHOR_BO_CREATE.name).get();
      try {
        const page = BigInt(PAGE_SIZE);
        const size = ((a.size + page - 1n) / page) * page;
        const obj = await this.dev.gemObjectCreate({ size, vm });
        try {
          return { handle: this.gemHandleCreate(obj), size: obj.size };
        } finally {
          obj.put();
        }
      } finally {
        vm?.put();
      }
    });
  }

  /**
   * `DRM_IOCTL_PANTHOR_VM_BIND`. Every op is checked first (EINVAL: op type, alignment,
   * range, a BO private to another VM, an unmap naming a BO, syncs without ASYNC). Without
   * ASYNC the ops run in the ioctl under the VM resv; with ASYNC each op is a job on the
   * VM's bind queue with its syncs, submitted like GROUP_SUBMIT (lock, arm all, add fences
   * to the VM resv BOOKKEEP, push, install out-fences).
   */
  async vmBind(args: IoctlArgs<typeof PANTHOR_VM_BIND>): Promise<void> {
    return this.ioctl(PANTHOR_VM_BIND, args, async (a) => {
      const who = PANTHOR_VM_BIND.name;
      const vm = this.#vm(a.vmId, who);
      const isAsync = (a.flags & PanthorVmBindFlags.ASYNC) !== 0;
      const bos: Array<GemObject | null> = [];
      try {
        // Checks and lookups, before anything changes.
        for (const [i, op] of a.ops.entries()) {
          const where = `${who}: ops[${i}]`;
          const type = (op.flags & PanthorVmBindOpFlags.TYPE_MASK) >>> 0;
          if (!isAsync && op.syncs.length > 0) throw new DepError('EINVAL', `${where}: syncs need DRM_PANTHOR_VM_BIND_ASYNC`);
          for (const [k, s] of op.syncs.entries()) checkSyncOp(s, `${where}.syncs[${k}]`);
          if (type === PanthorVmBindOpFlags.TYPE_MAP) {
            const bo = op.boHandle === 0 ? null : this.gemLookup(op.boHandle);
            if (bo === null) throw new DepError('EINVAL', `${where}: a MAP needs a BO handle of ${this.label}`);
            bos.push(bo);
            vm.checkRange(op.va, op.size, where);
            if (op.boOffset % vm.pageSize !== 0n || op.boOffset + op.size > bo.size) throw new DepError('EINVAL', `${where}: bo_offset ${op.boOffset} + size ${op.size} is misaligned or beyond the BO`);
            if (bo.vm !== null && bo.vm !== vm) throw new DepError('EINVAL', `${where}: the BO is private to another VM`);
          } else if (type === PanthorVmBindOpFlags.TYPE_UNMAP) {
            bos.push(null);
            if (op.boHandle !== 0 || op.boOffset !== 0n || (op.flags & ~PanthorVmBindOpFlags.TYPE_MASK) >>> 0 !== 0) throw new DepError('EINVAL', `${where}: an UNMAP takes no BO, offset or map flags`);
            vm.checkRange(op.va, op.size, where);
          } else if (type === PanthorVmBindOpFlags.TYPE_SYNC_ONLY) {
            bos.push(null);
            if (!isAsync || op.boHandle !== 0 || op.boOffset !== 0n || op.va !== 0n || op.size !== 0n || (op.flags & ~PanthorVmBindOpFlags.TYPE_MASK) >>> 0 !== 0) {
              throw new DepError('EINVAL', `${where}: a SYNC_ONLY op needs ASYNC and no BO, address or size`);
            }
          } else {
            throw new DepError('EINVAL', `${where}: unknown op type 0x${(type >>> 28).toString(16)}`);
          }
        }
        const apply = (i: number): void => {
          const op = a.ops[i]!;
          const type = (op.flags & PanthorVmBindOpFlags.TYPE_MASK) >>> 0;
          if (type === PanthorVmBindOpFlags.TYPE_MAP) vm.map(bos[i]!, op.va, op.boOffset, op.size, { replace: true });
          else if (type === PanthorVmBindOpFlags.TYPE_UNMAP) vm.unmap(op.va, op.size);
        };
        if (!isAsync) {
          const exec = await vm.execLock({ extra: bos.filter((b): b is GemObject => b !== null) });
          try {
            for (let i = 0; i < a.ops.length; i++) apply(i);
          } finally {
            exec.fini();
          }
          return;
        }
        if (a.ops.length === 0) return;
        const ctx = new SubmitCtx<PanthorBindJob>(this);
        try {
          for (const op of a.ops) ctx.jobs.push({ job: new PanthorBindJob(vm.bindQueue), syncs: op.syncs });
          await ctx.collectSignalOps();
          const exec = await vm.execLock({ numFences: a.ops.length, extra: bos.filter((b): b is GemObject => b !== null) });
          try {
            for (let i = 0; i < ctx.jobs.length; i++) await ctx.addExternalDeps(i);
            for (let i = 0; i < a.ops.length; i++) apply(i);
            ctx.armAll();
            ctx.pushAll((f) => vm.resv.addFence(f, DmaResvUsage.BOOKKEEP), this.dev.inactiveFences);
          } finally {
            exec.fini();
          }
        } finally {
          ctx.cleanup();
        }
      } finally {
        for (const b of bos) b?.put();
      }
    });
  }

  /**
   * `DRM_IOCTL_PANTHOR_GROUP_CREATE`: a group of `queues.length` queues on VM `vmId`.
   * EINVAL: no or too many queues, a ring size that is no power of two in 4…64 KiB, a
   * priority above REALTIME, a VM id naming nothing; EACCES: HIGH/REALTIME without
   * CAP_SYS_NICE.
   */
  async groupCreate(args: IoctlArgs<typeof PANTHOR_GROUP_CREATE>): Promise<{ readonly groupHandle: number }> {
    return this.ioctl(PANTHOR_GROUP_CREATE, args, async (a) => {
      const who = PANTHOR_GROUP_CREATE.name;
      if (a.priority > PanthorGroupPriority.MEDIUM && !this.dev.capSysNice) throw new DepError('EACCES', `${who}: priority ${a.priority} needs CAP_SYS_NICE`);
      const max = this.dev.gpu.fw.timings.maxQueuesPerGroup;
      if (a.queues.length > max) throw new DepError('EINVAL', `${who}: ${a.queues.length} queues; the firmware takes at most ${max} per group`);
      const vm = this.#vm(a.vmId, who);
      if (this.dev.gpu.lost) throw new DepError('ENODEV', `${who}: the device is gone`);
      const syncBuffer = this.dev.memory.allocNow('system', PAGE_SIZE, { name: `panthor-syncobjs` });
      let g: PanthorGroup;
      try {
        g = new PanthorGroup(this.dev, vm.get(), this.dev.nextGroupName(), PRIORITIES[a.priority]!, a.queues.map((q) => q.ringbufSize), syncBuffer);
      } catch (e) {
        vm.put();
        syncBuffer.free();
        throw e;
      }
      this.dev.groupCreated(g);
      try {
        return { groupHandle: this.groups.alloc(g) };
      } catch (e) {
        await g.destroy(); // no handle (ENOMEM): it never ran; it goes like a destroyed group
        throw e;
      }
    });
  }

  /** `DRM_IOCTL_PANTHOR_GROUP_DESTROY`: terminate the group; jobs still pending end with an error. */
  async groupDestroy(args: IoctlArgs<typeof PANTHOR_GROUP_DESTROY>): Promise<void> {
    return this.ioctl(PANTHOR_GROUP_DESTROY, args, async (a) => {
      const g = this.#group(a.groupHandle, PANTHOR_GROUP_DESTROY.name);
      this.groups.remove(a.groupHandle);
      await g.destroy();
    });
  }

  /** `DRM_IOCTL_PANTHOR_GROUP_GET_STATE`: `state` (TIMEDOUT / FATAL_FAULT / INNOCENT flags) and `fatalQueues`. */
  async groupGetState(args: IoctlArgs<typeof PANTHOR_GROUP_GET_STATE>): Promise<{ readonly state: number; readonly fatalQueues: number }> {
    return this.ioctl(PANTHOR_GROUP_GET_STATE, args, (a) => {
      const g = this.#group(a.groupHandle, PANTHOR_GROUP_GET_STATE.name);
      return { state: g.stateFlags, fatalQueues: g.fatalQueues };
    });
  }

  /**
   * `DRM_IOCTL_PANTHOR_GROUP_SUBMIT`: a batch of queue jobs on one group. Checks first
   * (EINVAL: group, queue index, stream alignment, sync ops; a signalled syncobj naming
   * nothing), then the submit context: collect signal ops, lock the VM resv and every
   * mapped BO's (drm_exec), add dependencies and arm every job, then for each job add its
   * finished fence to the VM and BO resvs (BOOKKEEP) and push it, and install the syncobj
   * out-fences after all pushes.
   */
  async groupSubmit(args: IoctlArgs<typeof PANTHOR_GROUP_SUBMIT>): Promise<void> {
    return this.ioctl(PANTHOR_GROUP_SUBMIT, args, async (a) => {
      const who = PANTHOR_GROUP_SUBMIT.name;
      const g = this.#group(a.groupHandle, who);
      if (g.vm.closed) throw new DepError('EINVAL', `${who}: the group's VM was destroyed`);
      for (const [i, qs] of a.queueSubmits.entries()) {
        const where = `${who}: queueSubmits[${i}]`;
        if (qs.queueIndex >= g.queues.length) throw new DepError('EINVAL', `${where}: queue ${qs.queueIndex} of a ${g.queues.length}-queue group`);
        if (qs.streamSize !== 0 && (qs.streamAddr % 64n !== 0n || qs.streamSize % CS_INSTR_BYTES !== 0)) {
          throw new DepError('EINVAL', `${where}: the stream must be 64-byte aligned and a multiple of ${CS_INSTR_BYTES} bytes`);
        }
        for (const [k, s] of qs.syncs.entries()) checkSyncOp(s, `${where}.syncs[${k}]`);
      }
      if (a.queueSubmits.length === 0) return;
      const ctx = new SubmitCtx<PanthorJob>(this);
      try {
        for (const qs of a.queueSubmits) {
          const q = g.queues[qs.queueIndex]!;
          ctx.jobs.push({ job: new PanthorJob(q, qs.streamSize / CS_INSTR_BYTES, qs.streamAddr), syncs: qs.syncs });
        }
        await ctx.collectSignalOps();
        const vm = g.vm;
        const exec = await vm.execLock({ numFences: a.queueSubmits.length });
        try {
          for (let i = 0; i < ctx.jobs.length; i++) await ctx.addExternalDeps(i);
          ctx.armAll();
          ctx.pushAll((f) => vm.resvAddFence(f, DmaResvUsage.BOOKKEEP, DmaResvUsage.BOOKKEEP), this.dev.inactiveFences);
        } finally {
          exec.fini();
        }
      } finally {
        ctx.cleanup();
      }
    });
  }
}
