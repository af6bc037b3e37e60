/**
 * The drm:* tracepoints (declaration merging into @dep/kernel's TraceEventMap). Emitted
 * only while a trace sink is attached (`rt.trace.enabled`).
 */

/** Arguments of `drm:ioctl`. */
export interface DrmIoctlTraceArgs {
  /** The device name and the file's id, e.g. `card0/2`. */
  file: string;
  /** `DRM_IOCTL_…`. */
  ioctl: string;
  /** 0, or the negative errno it failed with. */
  ret: number;
}

declare module '@dep/kernel' {
  interface TraceEventMap {
    /** One ioctl, as an `X` slice from entry to return. */
    'drm:ioctl': DrmIoctlTraceArgs;
    /** A file was opened / closed. */
    'drm:file_open': { file: string };
    'drm:file_close': { file: string };
    /** GEM objects made and freed. */
    'drm:gem_create': { dev: string; obj: number; size: bigint; imported: boolean };
    'drm:gem_free': { dev: string; obj: number };
    /** PRIME export / import. */
    'drm:prime_export': { file: string; obj: number; dmabuf: number };
    'drm:prime_import': { file: string; dmabuf: number; handle: number; foreign: boolean };
    /** Syncobj ioctls. */
    'drm:syncobj_create': { file: string; handle: number; signaled: boolean };
    'drm:syncobj_destroy': { file: string; handle: number };
    'drm:syncobj_signal': { file: string; handles: string; points: string };
    'drm:syncobj_reset': { file: string; handles: string };
    'drm:syncobj_wait': { file: string; handles: string; flags: number; ret: number; first: number };
    'drm:syncobj_transfer': { file: string; src: number; dst: number; srcPoint: bigint; dstPoint: bigint };
    /** Out-fence installed into a syncobj by a submit. */
    'drm:syncobj_install': { file: string; handle: number; point: bigint; context: bigint; seqno: bigint };
    /** GPU VM map / unmap. */
    'drm:gpuvm_map': { vm: string; va: bigint; range: bigint; obj: number; offset: bigint };
    'drm:gpuvm_unmap': { vm: string; va: bigint; range: bigint; ops: number };
  }
}

export {};
