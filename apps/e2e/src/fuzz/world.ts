/**
 * The system under test of the uAPI fuzzer: one virtual-time runtime, the three drivers'
 * devices on it (xe on a GuC GPU, panthor on a CSF GPU, amdxdna on an AIE NPU) and
 * {@link FILES_PER_DEVICE} client files on each (unprivileged: panthor without CAP_SYS_NICE).
 * Built fresh for every generated sequence.
 */
import type { Syncobj } from '@dep/dma-fence';
import { AmdxdnaDevice, type AmdxdnaFile } from '@dep/driver-amdxdna';
import { PanthorDevice, type PanthorFile } from '@dep/driver-panthor';
import { XeDevice, type XeFile } from '@dep/driver-xe';
import type { DmaBufFd, DrmDevice, DrmDeviceSnapshot, DrmFile } from '@dep/drm';
import { Runtime } from '@dep/kernel';

/** Index of a device in {@link World.devices}. */
export const XE = 0;
export const PANTHOR = 1;
export const AMDXDNA = 2;
export const DEVICE_NAMES = ['xe', 'panthor', 'amdxdna'] as const;
export type DeviceIndex = typeof XE | typeof PANTHOR | typeof AMDXDNA;

/** Clients per device. */
export const FILES_PER_DEVICE = 2;

/** NPU columns of the amdxdna device: at most this many one-column contexts at a time. */
export const NPU_COLUMNS = 4;

/** The real side of the model run. */
export interface World {
  readonly rt: Runtime;
  readonly xe: XeDevice;
  readonly panthor: PanthorDevice;
  readonly amdxdna: AmdxdnaDevice;
  /** `[xe, panthor, amdxdna]`. */
  readonly devices: readonly [XeDevice, PanthorDevice, AmdxdnaDevice];
  /** `files[device][i]`: replaced when the fuzzer reopens a client. */
  readonly files: [XeFile[], PanthorFile[], AmdxdnaFile[]];
  /** A number per syncobj, the same whichever device's file holds a handle to it. */
  syncobjId(s: Syncobj): number;
  /**
   * Armed by the `FailAlloc` command: the next valid call fails its `nth` allocation
   * (`rt.faults.failAlloc`), then this is cleared. See `call` in harness.ts.
   */
  failNthAlloc: number | null;
  /** dma-buf fds a `PrimeHold` kept open (closed by `PrimeImportHeld` or at the end of the run). */
  readonly heldFds: DmaBufFd[];
}

/** Options of {@link createWorld}. */
export interface WorldOptions {
  /** Runtime seed. Default 1. */
  readonly seed?: number;
}

/**
 * A fresh runtime in strict mode (every report — WARN, leak, lockdep, stall — rejects the
 * run that raised it), the three devices and their files. Not in a task: call it outside
 * `rt.run`.
 */
export function createWorld(options: WorldOptions = {}): World {
  const rt = new Runtime({ seed: options.seed ?? 1, checks: 'strict' });
  const xe = new XeDevice({ runtime: rt, name: 'card0', gpuConfig: { engines: { render: 1, compute: 1, copy: 1, video: 1 } } });
  const panthor = new PanthorDevice({ runtime: rt, name: 'card1', capSysNice: false, csf: { cost: { compute: { fixedMs: 0, perUnitMs: 1 } } } });
  const amdxdna = new AmdxdnaDevice({ runtime: rt, name: 'accel0', npuConfig: { columns: NPU_COLUMNS } });
  const open = <F extends DrmFile>(dev: DrmDevice<F>): F[] => Array.from({ length: FILES_PER_DEVICE }, () => dev.open());
  const ids = new WeakMap<Syncobj, number>();
  let next = 1;
  return {
    rt,
    xe,
    panthor,
    amdxdna,
    devices: [xe, panthor, amdxdna],
    files: [open(xe), open(panthor), open(amdxdna)],
    failNthAlloc: null,
    heldFds: [],
    syncobjId(s: Syncobj): number {
      let id = ids.get(s);
      if (id === undefined) {
        id = next++;
        ids.set(s, id);
      }
      return id;
    },
  };
}

/** The file `f` of device `d` as a plain `DrmFile` (the core ioctls). */
export function fileOf(w: World, d: DeviceIndex, f: number): DrmFile {
  return w.files[d][f]!;
}

/** Index of `dev` in the world, or -1 for a device the world does not have. */
export function deviceIndex(w: World, dev: DrmDevice): number {
  return (w.devices as readonly DrmDevice[]).indexOf(dev);
}

/** `dev.snapshot()` of every device. */
export function snapshotAll(w: World): DrmDeviceSnapshot[] {
  return w.devices.map((d) => (d as DrmDevice).snapshot());
}

/**
 * Close the held dma-buf fds and every open file and let everything retire (one `rt.run`: it drives the runtime
 * until idle, so every queue's asynchronous teardown is over), then remove the devices
 * (a second one). Call it outside `rt.run`. Afterwards no device may hold a GEM object
 * and `rt.shutdown()` must report nothing.
 */
export async function teardownWorld(w: World): Promise<void> {
  for (const fd of w.heldFds.splice(0)) fd.close();
  await w.rt.run(async () => {
    for (const files of w.files) {
      for (const f of files as DrmFile[]) if (!f.closed) await f.close();
    }
  });
  await w.rt.run(async () => {
    await w.xe.fini();
    await w.panthor.fini();
    await w.amdxdna.fini();
  });
}
