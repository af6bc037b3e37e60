/**
 * `struct amdxdna_dev`: the accel device over an AIE-like NPU from `@dep/hw-sim`. It owns
 * the device lock (`xdna->dev_lock`: context creation and the timeout handler's
 * destroy/re-create), the mailbox receive workqueue and the timeout workqueue.
 */
import { DrmDevice, type GemObject } from '@dep/drm';
import { createAieDevice, type AieConfig, type AieDevice, type AieIrq, type DeviceLostIrq } from '@dep/hw-sim';
import { DepError, Mutex, Workqueue, type Runtime } from '@dep/kernel';
import { AmdxdnaFile } from './file.js';
import type { AmdxdnaHwctx } from './hwctx.js';
import { HWCTX_MAX_TIMEOUT, type AmdxdnaBoTypeValue } from './uapi.js';

/** Options of {@link AmdxdnaDevice}. */
export interface AmdxdnaDeviceOptions {
  readonly runtime: Runtime;
  /** The NPU to drive; default a new `createAieDevice(runtime, npuConfig)`. */
  readonly npu?: AieDevice;
  /** Configuration of the NPU made when `npu` is not given. */
  readonly npuConfig?: AieConfig;
  /** Device name. Default `accel<N>`. */
  readonly name?: string;
  /** The job timeout in ms (default {@link HWCTX_MAX_TIMEOUT}, 60 s). */
  readonly timeoutMs?: number;
}

/** Counters of the device. */
export interface AmdxdnaDeviceStats {
  /** Mailbox interrupts seen (one per drain of a channel). */
  mailboxIrqs: number;
}

/**
 * The amdxdna device. `open()` gives an {@link AmdxdnaFile} (a client); its ioctls create
 * hardware contexts and BOs and submit commands. Call {@link AmdxdnaDevice.fini} after the
 * files are closed to release the workqueues and the interrupt.
 */
export class AmdxdnaDevice extends DrmDevice<AmdxdnaFile> {
  /** The simulated NPU. */
  readonly npu: AieDevice;
  /** `xdna->dev_lock`. */
  readonly devLock: Mutex;
  /** The mailbox receive workqueue (ordered, `WQ_MEM_RECLAIM`: it signals fences). */
  readonly rxWq: Workqueue;
  /** The queues' timeout workqueue (`WQ_MEM_RECLAIM`). */
  readonly tdrWq: Workqueue;
  /** The job timeout, ms. */
  readonly timeoutMs: number;
  readonly stats: AmdxdnaDeviceStats = { mailboxIrqs: 0 };
  readonly #boTypes = new WeakMap<GemObject, AmdxdnaBoTypeValue>();
  readonly #freeIrq: () => void;
  #nextCtx = 1;
  readonly #contexts = new Set<AmdxdnaHwctx>();
  #finished = false;

  constructor(options: AmdxdnaDeviceOptions) {
    if (typeof options !== 'object' || options === null) throw new DepError('EINVAL', 'new AmdxdnaDevice(options): pass { runtime, npu?, npuConfig?, name?, timeoutMs? }');
    const timeoutMs = options.timeoutMs ?? HWCTX_MAX_TIMEOUT;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new DepError('EINVAL', `new AmdxdnaDevice: timeoutMs must be > 0 ms, got ${String(timeoutMs)}`);
    const rt = options.runtime;
    const npu = options.npu ?? createAieDevice(rt, options.npuConfig ?? {});
    super({ runtime: rt, memory: npu.memory, ...(options.name === undefined ? {} : { name: options.name }), minorPrefix: 'accel', driverName: 'amdxdna', features: ['gem', 'syncobj', 'syncobjTimeline'] });
    this.npu = npu;
    this.timeoutMs = timeoutMs;
    this.devLock = new Mutex(rt, 'amdxdna_dev_lock');
    this.rxWq = new Workqueue(rt, `amdxdna_mailbox_rx(${this.name})`, { ordered: true, memReclaim: true });
    this.tdrWq = new Workqueue(rt, `amdxdna_tdr(${this.name})`, { ordered: true, memReclaim: true });
    this.#freeIrq = npu.requestIrq((ev: AieIrq | DeviceLostIrq) => {
      if (ev.kind === 'mailbox') this.stats.mailboxIrqs++;
      else if (ev.kind === 'device-lost') for (const c of this.#contexts) c._deviceLost();
    });
  }

  protected override createFile(id: number): AmdxdnaFile {
    return new AmdxdnaFile(this, id);
  }

  /** The amdxdna BO type of a GEM object made by `createBo` (undefined for others, e.g. imports). */
  boType(obj: GemObject): AmdxdnaBoTypeValue | undefined {
    return this.#boTypes.get(obj);
  }

  /** @internal */
  _setBoType(obj: GemObject, type: AmdxdnaBoTypeValue): void {
    this.#boTypes.set(obj, type);
  }

  /** Hardware contexts alive (created, not yet fully destroyed), of every file. */
  get contexts(): readonly AmdxdnaHwctx[] {
    return [...this.#contexts];
  }

  /** @internal */
  _contextMade(ctx: AmdxdnaHwctx): void {
    this.#contexts.add(ctx);
  }

  /** @internal */
  _contextGone(ctx: AmdxdnaHwctx): void {
    this.#contexts.delete(ctx);
  }

  /** @internal */
  _nextCtxId(): number {
    return this.#nextCtx++;
  }

  /**
   * `amdxdna_pm_suspend` → `aie2_hwctx_suspend` for every context, under the device lock:
   * each waits up to 2 s for its last command, stops its queue and destroys its firmware
   * context (commands still pending are aborted with `-ECANCELED`). Submits queue up until
   * {@link AmdxdnaDevice.resume}. Sleeps.
   */
  async suspend(): Promise<void> {
    await this.devLock.lock();
    try {
      for (const c of this.#contexts) await c._suspend();
    } finally {
      this.devLock.unlock();
    }
  }

  /** `amdxdna_pm_resume`: re-create every suspended context in firmware, reconfigure its CUs, restart its queue. Sleeps. */
  async resume(): Promise<void> {
    await this.devLock.lock();
    try {
      for (const c of this.#contexts) await c._resume();
    } finally {
      this.devLock.unlock();
    }
  }

  /**
   * Remove the device: close every file still open (destroying its contexts), then free
   * the interrupt and destroy the workqueues. Sleeps. Idempotent.
   */
  async fini(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    for (const f of this.files) {
      if (!f.closed) await f.close();
      await f.whenReleased();
    }
    this.#freeIrq();
    await this.rxWq.destroy();
    await this.tdrWq.destroy();
  }
}

/** `amdxdna_probe`: an amdxdna device on an AIE-like NPU (made from `npuConfig` unless `npu` is given). */
export function createAmdxdnaDevice(runtime: Runtime, options: Omit<AmdxdnaDeviceOptions, 'runtime'> = {}): AmdxdnaDevice {
  return new AmdxdnaDevice({ runtime, ...options });
}
