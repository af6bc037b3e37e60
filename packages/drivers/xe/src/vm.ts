/**
 * `struct xe_vm`: a GpuVm with the xe state the model needs — the exec queues on it, the
 * killed/banned bit, and the user-fence TDR with the memory-fence drivers of the convert
 * ioctl's exported fences (rfc-designs C.2).
 */
import { GpuVm, type DrmDevice, type GemObject } from '@dep/drm';
import { MemoryFenceDriver, UserFenceTdr, type UserFenceKill } from '@dep/user-fence';
import type { XeExecQueue } from './exec-queue.js';

/** Options of {@link XeVm}. */
export interface XeVmOptions {
  readonly name?: string;
  /** The user-fence TDR deadline (ms). Default 5000. */
  readonly userFenceTimeoutMs?: number;
}

/** An xe VM. */
export class XeVm extends GpuVm {
  /** Exec queues created on it and not yet released. */
  readonly queues = new Set<XeExecQueue>();
  /** The user-fence TDR: an exported fence past its deadline kills the whole VM. */
  readonly tdr: UserFenceTdr;
  readonly #memFences = new Map<string, MemoryFenceDriver>();
  #killed: UserFenceKill | null = null;
  #killedReason: string | null = null;

  constructor(dev: DrmDevice, options: XeVmOptions = {}) {
    super(dev, options.name === undefined ? {} : { name: options.name });
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

  /** @internal */
  _queueReleased(q: XeExecQueue): void {
    if (this.queues.delete(q)) this.put();
  }

  /** VM_DESTROY / file close: unmap everything, finish the memory-fence drivers (their fences get -ECANCELED). */
  override close(): ReturnType<GpuVm['close']> {
    for (const d of this.#memFences.values()) d.fini();
    this.#memFences.clear();
    return super.close();
  }
}
