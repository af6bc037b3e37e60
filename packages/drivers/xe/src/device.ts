/**
 * `struct xe_device` on a hw-sim GuC device: the DRM device, the GuC id pool, the per-LRC
 * seqno page, and the interrupt handler that routes user interrupts and G2H replies to
 * the exec queues (xe_guc_submit.c `xe_guc_sched_done_handler`,
 * `xe_guc_deregister_done_handler`, `xe_guc_exec_queue_reset_handler`; xe_hw_fence.c's
 * irq walk).
 */
import { DrmDevice } from '@dep/drm';
import { createGucDevice, type GucConfig, type GucDevice, type GucIrq, type HwBuffer } from '@dep/hw-sim';
import { enablePreemptUsage } from '@dep/dma-resv';
import { allocPreemptWorkqueue, type PreemptOrdering } from '@dep/fence-preempt';
import { DepError, Work, Workqueue, type Runtime, type Waker } from '@dep/kernel';
import { XeEngineGroup, engineGroupOf } from './engine-group.js';
import type { XeExecQueue } from './exec-queue.js';
import type { EngineClass } from '@dep/hw-sim';
import { XeFile } from './file.js';

/** Options of {@link XeDevice}. */
export interface XeDeviceOptions {
  readonly runtime: Runtime;
  /** The GuC device to drive; default: a new one made with `gpuConfig`. */
  readonly gpu?: GucDevice;
  /** Config of the GuC device made when `gpu` is not given. */
  readonly gpuConfig?: GucConfig;
  /** DRM device name. Default `card<N>`. */
  readonly name?: string;
  /** Job timeout of dma-fence exec queues (ms). Default 5000 (xe's default `job_timeout_ms`). */
  readonly jobTimeoutMs?: number;
  /** GuC ids available to exec queues. Default 64 (at most the GuC's `maxContexts`). */
  readonly gucIds?: number;
  /** User-fence TDR deadline of each VM (ms). Default 5000. */
  readonly userFenceTimeoutMs?: number;
  /**
   * Ordering of the long-running queues' preempt fences (rfc-designs B.1): `'none'` (xe
   * today: BOOKKEEP, only the user-fence TDR breaks a cycle), `'slot'` (RFC v1: the PREEMPT
   * usage — enabled runtime-wide with `enablePreemptUsage` when the device is made), `'gate'`
   * (RFC v2). Default `'none'`.
   */
  readonly preemptOrdering?: PreemptOrdering;
}

/**
 * An xe device: `open()` gives an {@link XeFile} (the client's ioctls). Call
 * {@link XeDevice.fini} after every file is closed to free the interrupt and the seqno page.
 */
export class XeDevice extends DrmDevice<XeFile> {
  readonly gpu: GucDevice;
  readonly jobTimeoutMs: number;
  readonly userFenceTimeoutMs: number;
  /** GuC ids exec queues may use. */
  readonly gucIds: number;
  readonly preemptOrdering: PreemptOrdering;
  /** `xe-preempt-fence-wq`: ordered, WQ_MEM_RECLAIM; every preempt fence's worker. */
  readonly preemptWq: Workqueue;
  /** `xe->ordered_wq`: the VMs' rebind/resume workers (allocates: not a reclaim queue). */
  readonly rebindWq: Workqueue;
  /** `xe-resume-lr-jobs-wq`: the engine groups' resume workers. */
  readonly resumeWq: Workqueue;
  /** The hw engine groups: `rcs_ccs`, `bcs`, `vcs_vecs`. */
  readonly engineGroups: ReadonlyMap<string, XeEngineGroup>;
  readonly #seqnos: HwBuffer;
  readonly #free: number[] = [];
  readonly #byId = new Map<number, XeExecQueue>();
  readonly #freeIrq: () => void;
  #fini = false;
  /** `gt->ordered_wq` (WQ_MEM_RECLAIM) for the reset worker: a queue of its own here, so a reset never waits behind a rebind. */
  readonly resetWq: Workqueue;
  /** `gt->reset.worker`: queued by {@link XeDevice.gtResetAsync}; queueing it while pending does nothing. */
  readonly #resetWork: Work;

  constructor(options: XeDeviceOptions) {
    if (typeof options !== 'object' || options === null) throw new DepError('EINVAL', 'new XeDevice(options): pass { runtime, gpu?, gpuConfig?, jobTimeoutMs? }');
    const { runtime } = options;
    const jobTimeoutMs = options.jobTimeoutMs ?? 5000;
    if (typeof jobTimeoutMs !== 'number' || !(jobTimeoutMs > 0)) throw new DepError('EINVAL', `new XeDevice: jobTimeoutMs must be > 0 ms, got ${String(jobTimeoutMs)}`);
    const userFenceTimeoutMs = options.userFenceTimeoutMs ?? 5000;
    if (typeof userFenceTimeoutMs !== 'number' || !(userFenceTimeoutMs > 0)) throw new DepError('EINVAL', `new XeDevice: userFenceTimeoutMs must be > 0 ms`);
    const gpu = options.gpu ?? createGucDevice(runtime, options.gpuConfig ?? {});
    const gucIds = options.gucIds ?? Math.min(64, gpu.fw.timings.maxContexts);
    if (!Number.isInteger(gucIds) || gucIds < 1 || gucIds > gpu.fw.timings.maxContexts) throw new DepError('EINVAL', `new XeDevice: gucIds must be 1 … ${gpu.fw.timings.maxContexts}`);
    const preemptOrdering = options.preemptOrdering ?? 'none';
    if (preemptOrdering !== 'none' && preemptOrdering !== 'slot' && preemptOrdering !== 'gate') throw new DepError('EINVAL', `new XeDevice: preemptOrdering must be 'none', 'slot' or 'gate'`);
    // RFC v1's slot ordering needs DMA_RESV_USAGE_PREEMPT on the resvs made from now on (VMs, BOs).
    if (preemptOrdering === 'slot') enablePreemptUsage(runtime);
    super({ runtime, memory: gpu.memory, driverName: 'xe', ...(options.name === undefined ? {} : { name: options.name }) });
    this.gpu = gpu;
    this.jobTimeoutMs = jobTimeoutMs;
    this.userFenceTimeoutMs = userFenceTimeoutMs;
    this.gucIds = gucIds;
    this.preemptOrdering = preemptOrdering;
    this.preemptWq = allocPreemptWorkqueue(runtime, 'xe-preempt-fence-wq');
    this.rebindWq = new Workqueue(runtime, 'xe-ordered-wq', { ordered: true });
    const resumeWq = new Workqueue(runtime, 'xe-resume-lr-jobs-wq');
    this.resumeWq = resumeWq;
    this.resetWq = new Workqueue(runtime, 'xe-gt-reset-wq', { ordered: true, memReclaim: true });
    this.#resetWork = new Work(() => this.#resetWorker(), 'xe_gt_reset_worker');
    this.engineGroups = new Map(['rcs_ccs', 'bcs', 'vcs_vecs'].map((n) => [n, new XeEngineGroup(runtime, n, (w) => resumeWq.queueWork(w))]));
    this.#seqnos = gpu.memory.allocNow('system', Math.max(4096, gucIds * 8), { name: 'xe-lrc-seqnos' });
    for (let i = gucIds - 1; i >= 0; i--) this.#free.push(i);
    this.#freeIrq = gpu.requestIrq((ev) => this.#irq(ev));
  }

  protected override createFile(id: number): XeFile {
    return new XeFile(this, id);
  }

  /** GuC ids free now. */
  get freeGucIds(): number {
    return this.#free.length;
  }

  /** The exec queue holding GuC id `id`, if any. */
  queueByGucId(id: number): XeExecQueue | undefined {
    return this.#byId.get(id);
  }

  /** The hw engine group of an engine class. */
  engineGroup(cls: EngineClass): XeEngineGroup {
    return this.engineGroups.get(engineGroupOf(cls))!;
  }

  /** Device address of the seqno slot of GuC id `id`. */
  seqnoSlotAddr(id: number): number {
    return this.#seqnos.addr + id * 8;
  }

  /** @internal Take a GuC id (EBUSY when the pool is empty: xe's `-EBUSY` from `alloc_guc_id`… the model's choice). */
  _allocGucId(): number {
    const id = this.#free.pop();
    if (id === undefined) throw new DepError('EBUSY', `xe: all ${this.gucIds} GuC ids are in use; destroy an exec queue first`);
    return id;
  }

  /** @internal Give back an id that was never used (create failed). */
  _unallocGucId(id: number): void {
    this.#free.push(id);
  }

  /** @internal */
  _queueAdded(q: XeExecQueue): void {
    this.#byId.set(q.gucId, q);
  }

  /** @internal The queue's deregistration finished: forget it; reuse the id if the GuC confirmed. */
  _queueGone(q: XeExecQueue, freeId: boolean): void {
    if (this.#byId.get(q.gucId) === q) this.#byId.delete(q.gucId);
    if (freeId) this.#free.push(q.gucId);
  }

  /** GT resets done by {@link XeDevice.gtReset}. */
  gtResets = 0;
  #resetting = false;
  readonly #resetWaiters = new Set<Waker<true>>();

  /**
   * `xe_gt_reset`: stop every exec queue (banning those whose head job had started), reset
   * the GT (the GuC forgets every context), register the survivors again and replay their
   * rings from the read pointer, restart the queues. EBUSY while a reset runs. Sleeps.
   */
  async gtReset(): Promise<void> {
    if (this.#resetting) throw new DepError('EBUSY', 'xe: a GT reset is already running; await it');
    this.#resetting = true;
    try {
      const queues = [...this.#byId.values()];
      for (const q of queues) await q._gtStop();
      await this.gpu.fw.gtReset();
      this.gtResets++;
      for (const q of queues) q._gtStart();
    } finally {
      this.#resetting = false;
      for (const w of [...this.#resetWaiters]) w.wake(true);
      this.#resetWaiters.clear();
    }
  }

  /** G2H replies the host stopped waiting for after 5 s (`XE_G2H_TIMEOUT`; each escalated to a GT reset). */
  g2hTimeouts = 0;
  /** GT resets asked for with {@link XeDevice.gtResetAsync} (coalesced requests count once each). */
  gtResetRequests = 0;

  /**
   * `xe_gt_reset_async`: queue the GT reset worker on {@link XeDevice.resetWq} and return
   * (queueing it while it is pending does nothing: concurrent requests make one reset; a
   * reset already running satisfies it). Never sleeps: callable from the TDR.
   */
  gtResetAsync(): void {
    this.gtResetRequests++;
    this.resetWq.queueWork(this.#resetWork);
  }

  /** `flush_work(&gt->reset.worker)`: wait until a queued or running async GT reset finished. Sleeps. */
  async flushGtReset(): Promise<void> {
    await this.#resetWork.flush();
  }

  async #resetWorker(): Promise<void> {
    if (this.#resetting) {
      // A reset already running (gtReset() called directly) does what this one would: wait for it.
      await this.runtime.sleepOn<true>('xe gt reset in flight', (w) => {
        this.#resetWaiters.add(w);
        return () => this.#resetWaiters.delete(w);
      });
      return;
    }
    await this.gtReset();
  }

  /** @internal A queue gave up waiting for a G2H reply (`xe_gt_warn(... "failed to respond")`). */
  _g2hTimedOut(): void {
    this.g2hTimeouts++;
  }

  /** Free the interrupt, the workqueues and the seqno page (after every file was closed and its queues released). Sleeps. */
  async fini(): Promise<void> {
    if (this.#fini) return;
    this.#fini = true;
    await this.resetWq.destroy();
    await this.resumeWq.destroy();
    await this.rebindWq.destroy();
    await this.preemptWq.destroy();
    this.#freeIrq();
    if (!this.#seqnos.freed) this.#seqnos.free();
  }

  #irq(ev: GucIrq | { readonly kind: 'device-lost'; readonly reason: string }): void {
    if (ev.kind === 'user-interrupt') {
      this.#byId.get(ev.ctxId)?._userInterrupt();
    } else if (ev.kind === 'g2h') {
      this.#byId.get(ev.msg.ctxId)?._g2h(ev.msg);
    } else {
      // Device lost (wedged): nothing will complete; every queue errors out with -ENODEV.
      for (const q of this.#byId.values()) q._deviceLost();
    }
  }
}
