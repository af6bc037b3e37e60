import type { CommandRing } from '../commands.js';
import type { DeviceConfig } from '../device.js';
import type { EngineClass } from '../engine.js';

/** CSG priorities, lowest first (panthor's LOW, MEDIUM, HIGH, RT). */
export type CsfPriority = 'low' | 'medium' | 'high' | 'realtime';

/** All CSF priorities, lowest first. */
export const CSF_PRIORITIES: readonly CsfPriority[] = ['low', 'medium', 'high', 'realtime'];

/**
 * Layout of a queue's sync object in memory (panthor's 64-bit syncobj): the seqno at
 * byte 0 (u64, written by the queue's `seqnoWrite`), the status at byte 8 (u32, 0 = ok,
 * {@link CSF_SYNC_STATUS_FAULT} after a fatal queue fault), 16 bytes in all.
 */
export const CSF_SYNC_SEQNO_OFFSET = 0;
export const CSF_SYNC_STATUS_OFFSET = 8;
export const CSF_SYNC_SIZE = 16;
/** Status the firmware writes when a queue faults. */
export const CSF_SYNC_STATUS_FAULT = 1;

/** One queue (command stream) of a group. */
export interface CsfQueueDesc {
  readonly ring: CommandRing;
  /** Device address of the queue's 16-byte sync object (must be mapped). */
  readonly syncAddr: number;
  /** Class whose cost model its batches use. Default `compute`. */
  readonly engineClass?: EngineClass;
}

/** A scheduling group: a priority and 1..maxQueuesPerGroup queues. */
export interface CsfGroupDesc {
  readonly priority?: CsfPriority;
  readonly queues: readonly CsfQueueDesc[];
  readonly name?: string;
}

/**
 * Group states, as panthor has them: `created` (never resident), `active` (in a slot),
 * `suspended` (evicted, state saved), `terminated` (stopped for good).
 */
export type CsfGroupState = 'created' | 'active' | 'suspended' | 'terminated';

/** CSF device configuration. */
export interface CsfConfig extends DeviceConfig {
  /** CSG slots: groups resident at once. Default 4. */
  readonly slots?: number;
  /** Queues per group at most. Default 4. */
  readonly maxQueuesPerGroup?: number;
  /** Rotation tick, ms. Default 10. `Infinity`: no periodic tick (rotate with `fw.tick()`). */
  readonly tickMs?: number;
  /** Time to save a resident group's state (CSG suspend), ms. Default 0.05. */
  readonly suspendLatencyMs?: number;
  /** Time to load a group into a slot (CSG resume/start), ms. Default 0.05. */
  readonly resumeLatencyMs?: number;
  /** A suspend that takes longer (a hung queue) escalates to termination, ms. Default 100. */
  readonly suspendTimeoutMs?: number;
}

/** Interrupts of a CSF device. */
export type CsfIrq =
  /** Queues of these groups wrote seqnos (sync objects changed), coalesced per instant. */
  | { readonly kind: 'sync-update'; readonly groups: readonly number[] }
  | { readonly kind: 'user-interrupt'; readonly group: number; readonly queue: number; readonly data: number }
  /**
   * The group was terminated by the firmware: a queue faulted (`queueMask` names it), a
   * suspend never finished (a hung queue), or a slot request failed (injected `fw-error`
   * at `csf:load` / `csf:suspend`; mask 0).
   */
  | { readonly kind: 'group-fault'; readonly group: number; readonly queueMask: number; readonly reason: CsfFaultReason };

/** Why the firmware terminated a group. */
export type CsfFaultReason = 'page-fault' | 'suspend-timeout' | 'fw-error';
