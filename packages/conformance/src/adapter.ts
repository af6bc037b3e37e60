/**
 * The adapter contract: what a driver adapter hands the kit so the kit can drive it
 * (create a device on a runtime the kit made, open clients, create a context/queue,
 * submit work, kill a context, close, tear down, and list its ioctls). A driver writes
 * one of these (about 100–200 lines) in `src/conformance.ts` and runs the kit against it.
 *
 * Everything here is process context: the kit calls these inside `rt.run()` / a task of
 * the runtime it created, never from irq or atomic context, so every method may sleep.
 */
import type { Fence } from '@dep/dma-fence';
import type { DrmDevice, DrmFile, Fields, IoctlSchema } from '@dep/drm';
import type { Runtime } from '@dep/kernel';

/** What a submitted job does on the hardware. */
export type JobKind =
  /** Runs `units` of work and completes: the fence signals with status 1. */
  | 'ok'
  /**
   * Fails on the hardware (a page fault, an error completion, an illegal command): the
   * fence signals with a negative error. Adapters without `features.failingJobs` never get it.
   */
  | 'fail'
  /**
   * Never completes by itself (an injected hang): the driver's timeout/recovery must end it
   * and the fence signal with a negative error. Adapters without `features.hangingJobs` never get it.
   */
  | 'hang';

/** One job the kit asks a queue to run. */
export interface JobSpec {
  /** Work size in the driver's units (about a millisecond each); 1…50. */
  readonly units: number;
  /** Default `'ok'`. */
  readonly kind?: JobKind;
  /**
   * Fences the job must wait for (in-syncs / wait sync ops). Only given when the adapter
   * declares `features.dependencies`. The adapter imports them however its uAPI does
   * (e.g. {@link importFence}); it does not take over the caller's references.
   */
  readonly deps?: readonly Fence[];
}

/** A context/queue of one client: where jobs go, in order. */
export interface ConformanceQueue {
  /** For messages: e.g. `"file1/exec_queue2"`. */
  readonly label: string;
  /**
   * Submit one job through the driver's submit ioctl and return its published out-fence
   * (a new reference: the kit puts it). May throw `DepError` (ENOMEM under fault
   * injection, ECANCELED/ENOENT… on a killed queue); on a throw the adapter must leave no
   * object of its own behind (destroy the out-syncobj it created), and — when nothing
   * concurrent killed the queue or closed the file — nothing may have been published
   * (the `fault-injection` check compares device snapshots). Reach the fence the way
   * userspace does, through the file's handles: a queue destroyed concurrently is gone. The fence's context is the queue's timeline (the same for
   * every job of the queue) and seqnos grow in submission order.
   */
  submit(job: JobSpec): Promise<Fence>;
  /**
   * Kill the context: the driver's destroy ioctl (`xe_exec_queue_kill` via
   * EXEC_QUEUE_DESTROY, panthor GROUP_DESTROY, amdxdna DESTROY_HWCTX). Returns when the
   * ioctl returns; the kit then expects every fence of the queue to signal.
   */
  kill(): Promise<void>;
}

/** One ioctl of an adapter, as the kit needs it to generate and aim bad arguments. */
export interface IoctlCase {
  /** The ioctl's schema (each driver exports its `*_IOCTLS` schemas). */
  readonly schema: IoctlSchema<Fields>;
  /**
   * Arguments that are valid for this client right now (its handles). The kit never
   * calls the ioctl with them: only with single-fault mutations of them, which must all
   * fail. So a destroy ioctl may name the client's only VM.
   */
  readonly valid: Readonly<Record<string, unknown>>;
  /** Call the ioctl on this client's file with `args` (as given: the kit passes bad ones). */
  call(args: unknown): Promise<unknown>;
}

/** A client: one open file of the device. */
export interface ConformanceClient {
  /** The client's DRM file (the kit reads its handle tables, never changes them). */
  readonly file: DrmFile;
  /** Create a context/queue (and what it needs: a VM, a BO with the commands …). */
  createQueue(): Promise<ConformanceQueue>;
  /**
   * The driver's ioctls with arguments valid for this client now. The adapter may create
   * objects first (a VM, a BO, a syncobj, a queue) so that every handle field names one.
   * List every driver-specific ioctl the adapter's schemas declare.
   */
  ioctls(): Promise<readonly IoctlCase[]>;
  /** Close the file (`drm_release`): everything the client owns goes, work in flight included. */
  close(): Promise<void>;
}

/** A device the kit made for one check. */
export interface ConformanceDevice {
  /** The DRM device: the kit takes `snapshot()`s of it and reads its files. */
  readonly drm: DrmDevice;
  /** Open a new client (`open(2)` of the device node) with nothing in it yet. */
  open(): Promise<ConformanceClient>;
  /**
   * Tear the device down (`drm_dev_unplug` + the driver's fini) after the kit closed every
   * client. After it and `runUntilIdle()`, nothing of the device may be alive.
   */
  fini(): Promise<void>;
}

/** How the kit wants the device made. */
export interface DeviceSetup {
  /** The runtime the kit created (seeded, chaos as asked, checks `warn`): use it for everything. */
  readonly runtime: Runtime;
  /** The teardown variant to build with, one of `features.teardown` (a drm_dep queue option). */
  readonly teardown: 'sync' | 'async';
}

/** What an adapter can do beyond the minimum; the kit skips what it lacks (and says so). */
export interface AdapterFeatures {
  /** It can make a job fail on the hardware ({@link JobKind} `'fail'`). */
  readonly failingJobs: boolean;
  /** It can make a job hang ({@link JobKind} `'hang'`), and its timeout recovers. */
  readonly hangingJobs: boolean;
  /** Its submit takes in-fences ({@link JobSpec.deps}). */
  readonly dependencies: boolean;
  /** The drm_dep teardown variants its queues can be built with (at least one). */
  readonly teardown: readonly ('sync' | 'async')[];
}

/**
 * The adapter: a name, its features, and a factory. `createDevice` is called once per
 * check (every check runs on a fresh runtime and device).
 */
export interface ConformanceAdapter {
  /** The driver's name, e.g. `'xe'`. */
  readonly name: string;
  /** What it can do beyond the minimum (checks needing a missing feature are skipped). */
  readonly features: AdapterFeatures;
  /**
   * The longest a hanging job may take to be ended by the driver's recovery (virtual ms),
   * i.e. its timeout plus the reset. The kit waits this long (plus margin) for any fence.
   * Default 60 000.
   */
  readonly recoveryMs?: number;
  /** Create the device on `setup.runtime`. Synchronous; runs outside any task. */
  createDevice(setup: DeviceSetup): ConformanceDevice;
}
