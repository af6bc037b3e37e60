/**
 * uAPI constants of the DRM core (include/uapi/drm/drm.h) that the dma-fence containers do
 * not already define, and the time conversions of the syncobj waits.
 */
import type { Runtime } from '@dep/kernel';
import { S64_MAX } from './validate.js';

/** `PAGE_SIZE`: GEM sizes and GPU VA ranges are multiples of it. */
export const PAGE_SIZE = 4096;

/** `DRM_CLOEXEC` (`O_CLOEXEC`) of `DRM_IOCTL_PRIME_HANDLE_TO_FD`. */
export const DRM_CLOEXEC = 0o2000000;
/** `DRM_RDWR` (`O_RDWR`) of `DRM_IOCTL_PRIME_HANDLE_TO_FD`. */
export const DRM_RDWR = 2;

/** `DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_*`. */
export const SyncobjHandleToFdFlags = {
  /** Export the syncobj's fence (at `point`) as a sync_file instead of the syncobj itself. */
  EXPORT_SYNC_FILE: 1,
  /** `point` is meaningful (timeline export; newest kernels). */
  TIMELINE: 2,
} as const;

/** `DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_*`. */
export const SyncobjFdToHandleFlags = {
  /** Import a sync_file's fence into the existing syncobj `handle` (at `point`). */
  IMPORT_SYNC_FILE: 1,
  /** `point` is meaningful (timeline import; newest kernels). */
  TIMELINE: 2,
} as const;

/** Flags of the model's generic `gemCreate` (a driver's BO-create ioctl reduced to its core). */
export const GemCreateFlags = {
  /** Place the backing store in device-local memory (`vram`) instead of `system`. */
  VRAM: 1,
} as const;

/**
 * `drm_driver.driver_features` that change what the core ioctls do: without `syncobj` the
 * syncobj ioctls are EOPNOTSUPP, without `syncobjTimeline` the timeline ones (timeline
 * wait/signal, query, transfer) are.
 */
export type DrmFeature = 'gem' | 'syncobj' | 'syncobjTimeline';

/** Every feature: the default of a `DrmDevice`. */
export const ALL_DRM_FEATURES: readonly DrmFeature[] = ['gem', 'syncobj', 'syncobjTimeline'];

/** An absolute `timeout_nsec` meaning "wait forever" (`INT64_MAX`; the kernel clamps it to `MAX_SCHEDULE_TIMEOUT`). */
export const DRM_TIMEOUT_INFINITE = S64_MAX;

const NS_PER_MS = 1_000_000;

/** The runtime clock in ns (the `ktime_get()` the absolute timeouts are measured against). */
export function ktimeGetNs(rt: Runtime): bigint {
  return BigInt(Math.round(rt.now() * NS_PER_MS));
}

/**
 * An absolute `timeout_nsec` for a wait of `ms` from now (what userspace computes with
 * `clock_gettime(CLOCK_MONOTONIC) + timeout`). `Infinity` gives {@link DRM_TIMEOUT_INFINITE}.
 */
export function absTimeoutNs(rt: Runtime, ms: number): bigint {
  if (ms === Infinity) return DRM_TIMEOUT_INFINITE;
  const ns = ktimeGetNs(rt) + BigInt(Math.round(ms * NS_PER_MS));
  return ns > S64_MAX ? S64_MAX : ns;
}

/**
 * `drm_timeout_abs_to_jiffies(timeout_nsec)` in ms of the runtime clock: 0 polls (0 and
 * any time not after now), {@link DRM_TIMEOUT_INFINITE} waits forever, anything else is
 * the time left until the absolute timeout.
 */
export function timeoutAbsToMs(rt: Runtime, timeoutNsec: bigint): number {
  if (timeoutNsec === 0n) return 0;
  if (timeoutNsec >= DRM_TIMEOUT_INFINITE) return Infinity;
  const now = ktimeGetNs(rt);
  if (timeoutNsec <= now) return 0;
  return Number(timeoutNsec - now) / NS_PER_MS;
}

/** An absolute time in ns (a `deadline_nsec`) as ms of the runtime clock. */
export function nsToMs(ns: bigint): number {
  return Number(ns) / NS_PER_MS;
}
