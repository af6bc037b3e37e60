/**
 * `struct sync_file` (drivers/dma-buf/sync_file.c, kernel-api.md A5): a fence wrapped in a
 * file, the explicit-sync object userspace passes around. The file descriptor table is a
 * later layer's; this is the object behind the fd.
 */
import { DepError, GFP_KERNEL, INTERRUPTED, TIMED_OUT, type Runtime, type Waker } from '@dep/kernel';
import { asFence, type DmaFence, type Fence } from './fence.js';
import { assertActive } from './inactive.js';
import { unwrapForEach, unwrapMerge } from './unwrap.js';
import { ERESTARTSYS } from './wait.js';

/** `EPOLLIN`: what {@link SyncFile.poll} reports once the fence has signalled. */
export const EPOLLIN = 0x1;

/** Size of the name fields of the uAPI (`char name[32]`, `obj_name[32]`, `driver_name[32]`). */
const NAME_LEN = 32;

/** `strscpy(dst, src, 32)`: at most 31 characters. */
function strscpy(s: string, size = NAME_LEN): string {
  return s.length < size ? s : s.slice(0, size - 1);
}

/** One leaf of {@link SyncFileInfo} (`struct sync_fence_info`). */
export interface SyncFenceInfo {
  /** The leaf's timeline name (`obj_name`, at most 31 characters). */
  readonly objName: string;
  /** The leaf's driver name (`driver_name`, at most 31 characters). */
  readonly driverName: string;
  /** 1 signalled, 0 pending, or the negative errno it completed with. */
  readonly status: number;
  /** Signal time (ms, runtime clock) if signalled, else 0 (`timestamp_ns`). */
  readonly timestamp: number;
}

/** Result of {@link SyncFile.info} (`struct sync_file_info`). */
export interface SyncFileInfo {
  /** {@link SyncFile.name}, at most 31 characters. */
  readonly name: string;
  /** Overall status: with leaves requested, the first leaf status ≤ 0, else 1; without, the fence's status. */
  readonly status: number;
  /** Number of leaves of the wrapped fence. */
  readonly numFences: number;
  /** Per leaf, when leaves were requested (`numFences > 0`); else empty. */
  readonly fences: readonly SyncFenceInfo[];
}

/** Arguments of {@link SyncFile.info} (`SYNC_IOC_FILE_INFO`). */
export interface SyncFileInfoRequest {
  /** Room for this many leaves; 0 asks only for the count and the overall status. */
  readonly numFences: number;
  /** Must be 0. */
  readonly flags?: number;
  /** Must be 0. */
  readonly pad?: number;
}

/** Arguments of {@link SyncFile.merge} (`struct sync_merge_data`). */
export interface SyncMergeOptions {
  /** Name of the new sync_file (at most 31 characters are kept). */
  readonly name?: string;
  /** Must be 0. */
  readonly flags?: number;
  /** Must be 0. */
  readonly pad?: number;
}

/** Options of {@link SyncFile.pollWait}. */
export interface SyncFilePollOptions {
  /** In ms; `Infinity` (default) waits forever; 0 polls. */
  readonly timeout?: number;
  /** Interrupts the wait: it then resolves -ERESTARTSYS. */
  readonly signal?: AbortSignal;
}

function checkZero(v: unknown, what: string, who: string): void {
  if (v !== undefined && v !== 0) {
    throw new DepError('EINVAL', `${who}: ${what} must be 0 (no ${what} are defined), got ${typeof v === 'number' ? v : typeof v}`);
  }
}

/** `fence_check_cb_func()`: the fence signalled; wake every poller. */
function syncFileCb(_f: Fence, file: SyncFile): void {
  file._wakeAll();
}

/**
 * `struct sync_file`. {@link SyncFile.create} wraps a fence (taking its own reference);
 * {@link SyncFile.close} is the file's release. Every method of a closed file throws EBADF.
 */
export class SyncFile {
  readonly runtime: Runtime;
  #fence: DmaFence;
  #userName = '';
  #pollEnabled = false;
  #closed = false;
  readonly #waiters = new Set<Waker<true>>();

  private constructor(fence: DmaFence) {
    this.runtime = fence.runtime;
    this.#fence = fence;
  }

  /**
   * `sync_file_create(fence)`: a new sync_file holding its own reference to `fence`.
   * Allocates (GFP_KERNEL, site `sync_file_alloc`; ENOMEM under fault injection). Rejects
   * a non-fence and an INACTIVE fence with `DepError('EINVAL')`, changing nothing.
   */
  static create(fence: Fence): SyncFile {
    const who = 'sync_file_create';
    const f = asFence(fence, who);
    assertActive(f, who);
    f.runtime.alloc(GFP_KERNEL, 'sync_file_alloc');
    return new SyncFile(f.get());
  }

  #check(who: string): DmaFence {
    if (this.#closed) throw new DepError('EBADF', `${who}: the sync_file was closed; keep it open while you use it`);
    return this.#fence;
  }

  /** `sync_file->fence`: the wrapped fence (no reference taken). */
  get fence(): Fence {
    return this.#check('sync_file->fence');
  }

  /** True once {@link SyncFile.close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** `sync_file_get_fence()`: a new reference to the wrapped fence (put it). */
  getFence(): Fence {
    return this.#check('sync_file_get_fence').get();
  }

  /**
   * `sync_file_get_name()`: the name given at merge, else
   * `"<driver>-<timeline><context>-<seqno>"` of the wrapped fence (the kernel's format,
   * without a separator before the context).
   */
  name(): string {
    const f = this.#check('sync_file_get_name');
    if (this.#userName !== '') return this.#userName;
    return `${f.driverName()}-${f.timelineName()}${f.context}-${f.seqno}`;
  }

  /**
   * `SYNC_IOC_MERGE`: a new sync_file whose fence is `unwrapMerge(this.fence, other.fence)`
   * (flat, deduplicated, signalled leaves dropped). Both files stay valid and independent.
   * EINVAL for non-zero `flags`/`pad`, ENOENT if `other` is not a (open) sync_file, ENOMEM
   * under fault injection; nothing changes on error.
   */
  merge(other: SyncFile, options: SyncMergeOptions = {}): SyncFile {
    const who = 'SYNC_IOC_MERGE';
    const a = this.#check(who);
    checkZero(options.flags, 'flags', who);
    checkZero(options.pad, 'pad', who);
    if (!(other instanceof SyncFile) || other.#closed) {
      throw new DepError('ENOENT', `${who}: the second file is not an open sync_file; pass a SyncFile`);
    }
    const name = options.name ?? '';
    if (typeof name !== 'string') throw new DepError('EINVAL', `${who}: name must be a string`);
    this.runtime.alloc(GFP_KERNEL, 'sync_file_alloc');
    const fence = unwrapMerge(a, other.#fence);
    const file = new SyncFile(fence as DmaFence);
    file.#userName = strscpy(name);
    return file;
  }

  /**
   * `SYNC_IOC_FILE_INFO`. With `numFences == 0`: the leaf count and the fence's status
   * only. Otherwise EINVAL if fewer than the leaf count were asked for, then per leaf its
   * names, status (`getStatus()`) and timestamp (only when signalled, else 0); the overall
   * status is the first leaf status that is ≤ 0, else 1. EINVAL for non-zero
   * `flags`/`pad`. Allocates the leaf array (GFP_KERNEL, site `sync_file_ioctl_fence_info`).
   */
  info(request: SyncFileInfoRequest): SyncFileInfo {
    const who = 'SYNC_IOC_FILE_INFO';
    const fence = this.#check(who);
    if (typeof request !== 'object' || request === null) throw new DepError('EINVAL', `${who}: pass { numFences }`);
    checkZero(request.flags, 'flags', who);
    checkZero(request.pad, 'pad', who);
    const asked = request.numFences;
    if (!Number.isSafeInteger(asked) || asked < 0) {
      throw new DepError('EINVAL', `${who}: numFences must be a non-negative integer (0 asks for the count), got ${String(asked)}`);
    }
    let numFences = 0;
    for (const f of unwrapForEach(fence)) {
      void f;
      ++numFences;
    }
    if (asked === 0) {
      return { name: strscpy(this.name()), status: fence.getStatus(), numFences, fences: [] };
    }
    if (asked < numFences) {
      throw new DepError('EINVAL', `${who}: room for ${asked} fences but the sync_file has ${numFences}; ask with numFences = 0 for the count first`);
    }
    this.runtime.alloc(GFP_KERNEL, 'sync_file_ioctl_fence_info');
    let status = 1;
    const fences: SyncFenceInfo[] = [];
    for (const f of unwrapForEach(fence)) {
      const info = fillFenceInfo(f);
      fences.push(info);
      if (status > 0) status = info.status;
    }
    return { name: strscpy(this.name()), status, numFences: fences.length, fences };
  }

  /**
   * `SYNC_IOC_SET_DEADLINE`: forward a deadline hint (ms, runtime clock) to the fence.
   * EINVAL for a non-zero `pad`.
   */
  setDeadline(deadline: number, pad = 0): void {
    const who = 'SYNC_IOC_SET_DEADLINE';
    const fence = this.#check(who);
    checkZero(pad, 'pad', who);
    fence.setDeadline(deadline);
  }

  /**
   * `sync_file_poll()`: on the first call, arm a callback on the fence that wakes the
   * file's pollers (or wake them at once if it has already signalled); returns
   * {@link EPOLLIN} once the fence has signalled, else 0. Any context.
   */
  poll(): number {
    const fence = this.#check('sync_file_poll');
    if (!this.#pollEnabled) {
      this.#pollEnabled = true;
      if (!fence.addCallback(syncFileCb, this)) this._wakeAll();
    }
    return fence.isSignaled() ? EPOLLIN : 0;
  }

  /**
   * `poll(2)` on this one file: resolves {@link EPOLLIN} once readable, 0 when `timeout`
   * runs out, -ERESTARTSYS (-512) when `signal` interrupts it. Sleeps.
   */
  async pollWait(options: SyncFilePollOptions = {}): Promise<number> {
    const who = 'sync_file poll';
    this.#check(who);
    const rt = this.runtime;
    let ready = 0;
    const r = await rt.sleepOn<true>(
      who,
      (waker) => {
        this.#waiters.add(waker);
        ready = this.poll();
        if (ready !== 0) {
          this.#waiters.delete(waker);
          waker.wake(true);
          return;
        }
        return () => {
          this.#waiters.delete(waker);
        };
      },
      { ...options, object: this.#fence },
    );
    if (r === INTERRUPTED) return ERESTARTSYS;
    if (r === TIMED_OUT) return 0;
    return this.#closed ? 0 : this.poll();
  }

  /** @internal Wake every poller (`wake_up_all(&sync_file->wq)`). */
  _wakeAll(): void {
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w.wake(true);
  }

  /**
   * The file's release (`fput` of the last reference): remove the poll callback if armed
   * and drop the fence reference. A second close is an EBADF.
   */
  close(): void {
    const fence = this.#check('sync_file_release');
    this.#closed = true;
    if (this.#pollEnabled) fence.removeCallback(syncFileCb, this);
    this._wakeAll();
    fence.put();
  }
}

/** `sync_fill_fence_info()`. */
function fillFenceInfo(f: Fence): SyncFenceInfo {
  const objName = strscpy(f.timelineName());
  const driverName = strscpy(f.driverName());
  const status = f.getStatus();
  const timestamp = f.isSignaled() ? f.timestamp() : 0;
  return { objName, driverName, status, timestamp };
}
