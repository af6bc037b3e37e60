/**
 * `struct xe_vm`: a GpuVm with the xe state the model needs — the exec queues on it, the
 * killed/banned bit, and the user-fence TDR with the memory-fence drivers of the convert
 * ioctl's exported fences (rfc-designs C.2).
 */
import { contextAlloc, type Fence } from '@dep/dma-fence';
import type { PreemptFence } from '@dep/fence-preempt';
import { GpuVm, type GemObject } from '@dep/drm';
import { Work } from '@dep/kernel';
import { MemoryFenceDriver, UserFenceTdr, type UserFenceKill } from '@dep/user-fence';
import type { XeDevice } from './device.js';
import type { XeExecQueue } from './exec-queue.js';

/** Options of {@link XeVm}. */
export interface XeVmOptions {
  readonly name?: string;
  /** The user-fence TDR deadline (ms). Default 5000. */
  readonly userFenceTimeoutMs?: number;
  /** Long-running (preempt-fence) mode: `DRM_XE_VM_CREATE_FLAG_LR_MODE`. */
  readonly lr?: boolean;
  /** Fault mode (`FAULT_MODE`, with `lr`): no preempt fences; the queues take part in their engine group's LR mode. Page faults are not modelled. */
  readonly faultMode?: boolean;
}

/** An xe VM. */
export class XeVm extends GpuVm {
  /** Exec queues created on it and not yet released. */
  readonly queues = new Set<XeExecQueue>();
  /** The user-fence TDR: an exported fence past its deadline kills the whole VM. */
  readonly tdr: UserFenceTdr;
  /** Long-running mode: queues without job timeout, each with a preempt fence in the VM's resvs. */
  readonly lr: boolean;
  /** Fault mode: LR without preempt fences (rfc-designs D.1, hw engine groups). */
  readonly faultMode: boolean;
  /** `vm->composite_fence_ctx` / `_seqno`: fence arrays of zero-batch execs. */
  readonly compositeContext: bigint;
  compositeSeqno = 0n;
  /** The last fence the convert ioctl exported (a reference): the `gate` ordering's `preempt_delay` (rfc-designs C.2). */
  #lastExported: Fence | null = null;
  /** Rebind/resume worker runs that resumed at least one queue. */
  rebinds = 0;
  readonly xe: XeDevice;
  readonly #memFences = new Map<string, MemoryFenceDriver>();
  readonly #rebindWork: Work;
  #killed: UserFenceKill | null = null;
  #killedReason: string | null = null;

  constructor(dev: XeDevice, options: XeVmOptions = {}) {
    super(dev, options.name === undefined ? {} : { name: options.name });
    this.xe = dev;
    this.compositeContext = contextAlloc(1, dev.runtime);
    this.faultMode = options.faultMode ?? false;
    this.lr = (options.lr ?? false) || this.faultMode;
    this.#rebindWork = new Work(() => this.#rebind(), `xe_vm_rebind(${this.name})`);
    this.tdr = new UserFenceTdr({
      runtime: dev.runtime,
      name: `${this.name}:user-fence-tdr`,
      ...(options.userFenceTimeoutMs === undefined ? {} : { timeout: options.userFenceTimeoutMs }),
      kill: (info) => {
        this.#killed = info;
        this.kill('user-fence TDR');
      },
    });
  }

  /** Why the VM was killed, or null. */
  get killedReason(): string | null {
    return this.#killedReason;
  }

  /** What the user-fence TDR reported when it killed the VM, or null. */
  get userFenceKill(): UserFenceKill | null {
    return this.#killed;
  }

  /** `xe_vm_kill`: the VM is banned; every exec queue on it is killed. Exec and convert then fail with ECANCELED. */
  kill(reason: string): void {
    if (this.#killedReason !== null) return;
    this.#killedReason = reason;
    for (const q of this.queues) q.kill();
  }

  /**
   * The memory-fence driver of the 64-bit location at `offset` of `bo` (one per location,
   * made on first use, finished when the VM closes).
   */
  memoryFence(bo: GemObject, offset: number): MemoryFenceDriver {
    const key = `${bo.id}:${offset}`;
    let d = this.#memFences.get(key);
    if (d === undefined) {
      d = new MemoryFenceDriver(bo.buffer!.map({ readonly: true }), offset, { runtime: this.dev.runtime, tdr: this.tdr, driverName: 'xe', name: `${this.name}:ufence@${bo.name}+${offset}` });
      this.#memFences.set(key, d);
    }
    return d;
  }

  /**
   * @internal A user fence of an exec on this VM was written (xe's `user_fence_worker`
   * ends in `wake_up_all(&xe->ufence_wq)`): the convert ioctl's memory fences re-read
   * their locations (coalesced, in irq context). Without it an exported fence nobody waits
   * on yet is found only at its user-fence TDR deadline, which then kills the VM though the
   * value was reached long before. Any context (a fence callback).
   */
  _userFenceWritten(): void {
    if (this.closed) return;
    for (const d of this.#memFences.values()) d.notify();
  }

  /** The last exported fence (no reference for the caller), or null. */
  get lastExported(): Fence | null {
    return this.#lastExported;
  }

  /** @internal The convert ioctl exported `f` (takes a reference). */
  _setLastExported(f: Fence): void {
    const old = this.#lastExported;
    this.#lastExported = f.get();
    old?.put();
  }

  /** @internal A preempt fence of the VM signalled: queue the rebind/resume worker (xe `preempt_rebind_work_func`). */
  _queueRebind(): void {
    if (this.closed || this.refcount === 0) return;
    this.xe.rebindWq.queueWork(this.#rebindWork);
  }

  /**
   * The rebind/resume worker: for every suspended long-running queue, a new preempt fence
   * (allocated first, outside any signalling path), the VM's resvs locked, the fences
   * added (BOOKKEEP, or PREEMPT with the `slot` ordering), the queues resumed. The model
   * has no page tables, so "rebind" re-validates nothing. A killed or closed VM resumes
   * nothing.
   */
  async #rebind(): Promise<void> {
    if (this.closed || this.refcount === 0 || this.#killedReason !== null) return;
    const qs = [...this.queues].filter((q) => q._needsResume());
    if (qs.length === 0) return;
    const fences = qs.map((q) => q._newPreemptFence());
    let exec: Awaited<ReturnType<GpuVm['execLock']>>;
    try {
      exec = await this.execLock({ numFences: qs.length });
    } catch {
      // Never installed: let them signal (the queues are suspended already, so "preempt" is
      // a no-op) — their preemptFinished queues this worker again, which retries.
      for (const pf of fences) {
        pf.enableSwSignaling();
        pf.put();
      }
      return;
    }
    try {
      for (const [i, q] of qs.entries()) {
        const pf = fences[i]!;
        this.resvAddFence(pf, pf.usage, pf.usage);
        q._resume(pf);
      }
    } finally {
      exec.fini();
    }
    this.rebinds++;
  }

  /** @internal Install a new queue's first preempt fence in the VM's resvs (locks them). */
  async _addPreemptFence(pf: PreemptFence): Promise<void> {
    const exec = await this.execLock({ numFences: 1 });
    try {
      this.resvAddFence(pf, pf.usage, pf.usage);
    } finally {
      exec.fini();
    }
  }

  /** @internal */
  _queueReleased(q: XeExecQueue): void {
    if (this.queues.delete(q)) this.put();
  }

  /** VM_DESTROY / file close: unmap everything, finish the memory-fence drivers (their fences get -ECANCELED). */
  override close(): ReturnType<GpuVm['close']> {
    this.#lastExported?.put();
    this.#lastExported = null;
    for (const d of this.#memFences.values()) d.fini();
    this.#memFences.clear();
    return super.close();
  }
}
