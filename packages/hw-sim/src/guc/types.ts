import type { CommandRing } from '../commands.js';
import type { DeviceConfig } from '../device.js';
import type { EngineClass, EngineCounts } from '../engine.js';
import type { HwContextState } from '../hw-context.js';

/**
 * GuC scheduling priorities, highest first: `KMD_HIGH` (0), `HIGH` (1), `KMD_NORMAL` (2),
 * `NORMAL` (3). xe maps its exec-queue priorities onto these.
 */
export const GUC_PRIORITY = { KMD_HIGH: 0, HIGH: 1, KMD_NORMAL: 2, NORMAL: 3 } as const;

/** A GuC priority level, 0 (highest) to 3. */
export type GucPriority = 0 | 1 | 2 | 3;

/** Scheduling policies of a context (the GuC's SET_CONTEXT_POLICIES). */
export interface GucPolicies {
  readonly priority?: GucPriority;
  /** Timeslice, ms: how long it runs before an equal-priority waiter may preempt it. Infinity: no timeslicing. */
  readonly timesliceMs?: number;
  /** How long a preemption may take before the GuC resets the engine, ms. */
  readonly preemptTimeoutMs?: number;
  /** Minimum time on the engine before the GuC preempts it (priority, timeslice, disable), ms. */
  readonly minRunPeriodMs?: number;
}

/** What the host registers: id, engine class, ring (the LRC), initial policies. */
export interface GucContextDesc extends GucPolicies {
  /** GuC id, chosen by the host from its pool: `0 ≤ id < maxContexts`. */
  readonly id: number;
  readonly engineClass: EngineClass;
  readonly ring: CommandRing;
  /** Name for traces and fault sites. Default `guc<id>`. */
  readonly name?: string;
}

/** GuC device configuration. */
export interface GucConfig extends DeviceConfig {
  /** Engines per class. Default `{ render: 1, compute: 2, copy: 1, video: 1 }`. */
  readonly engines?: EngineCounts;
  /** Size of the GuC id space. Default 1024. */
  readonly maxContexts?: number;
  /** Host→GuC message latency, ms. Default 0.01. */
  readonly h2gLatencyMs?: number;
  /** GuC→host reply latency, ms. Default 0.01. */
  readonly g2hLatencyMs?: number;
  /** H2G messages in flight before `EBUSY` (the CT buffer). Default 256. */
  readonly h2gCapacity?: number;
  /** Context save time on preemption, ms. Default 0.05. */
  readonly ctxSaveLatencyMs?: number;
  /** Engine reset time, ms. Default 0.5. */
  readonly engineResetMs?: number;
  /** GT reset time, ms. Default 5. */
  readonly gtResetMs?: number;
  /** Default policies of a registered context. */
  readonly defaults?: GucPolicies;
}

/** GuC→host messages (G2H), delivered as interrupts after the reply latency. */
export type G2hMessage =
  /** Reply to enable/disable scheduling; `runtimeMs` samples the running-time counter. */
  | { readonly type: 'sched-done'; readonly ctxId: number; readonly enabled: boolean; readonly runtimeMs: number }
  /** Reply to deregister: the id and context memory may be reused now. */
  | { readonly type: 'deregister-done'; readonly ctxId: number }
  /** The GuC reset an engine and names the context that was on it (now banned). */
  | { readonly type: 'context-reset'; readonly ctxId: number; readonly engine: string; readonly reason: 'preempt-timeout' | 'page-fault' | 'requested' }
  /** A request failed (injected firmware error); nothing it asked for happened. */
  | { readonly type: 'error'; readonly action: GucAction; readonly ctxId: number; readonly status: number };

/** H2G actions. */
export type GucAction = 'register' | 'deregister' | 'set-policies' | 'enable-scheduling' | 'disable-scheduling' | 'submit' | 'reset-engine';

/** Interrupts of a GuC device. */
export type GucIrq =
  | { readonly kind: 'g2h'; readonly msg: G2hMessage }
  /** An `interrupt` ring command of context `ctxId` ran on `engine`. */
  | { readonly kind: 'user-interrupt'; readonly ctxId: number; readonly engine: string; readonly data: number };

/** A context as the GuC sees it now (for drivers' debugfs and tests). */
export interface GucContextInfo {
  readonly id: number;
  readonly name: string;
  readonly engineClass: EngineClass;
  readonly priority: GucPriority;
  readonly timesliceMs: number;
  readonly preemptTimeoutMs: number;
  readonly minRunPeriodMs: number;
  readonly enabled: boolean;
  /** Reset by the GuC; it runs no more. */
  readonly banned: boolean;
  readonly state: HwContextState;
  /** Engine it is on, or null. */
  readonly engine: string | null;
  /** Running-time counter, ms. */
  readonly runtimeMs: number;
  /** Ring read pointer (free-running dwords) and the tail the GuC knows. */
  readonly rptr: number;
  readonly hwTail: number;
}
