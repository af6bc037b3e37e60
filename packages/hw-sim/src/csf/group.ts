import type { ExecEvent, Waker } from '@dep/kernel';
import type { CommandRing } from '../commands.js';
import type { EngineClass } from '../engine.js';
import type { HwContext, HwContextState } from '../hw-context.js';
import type { CsfFirmware } from './firmware.js';
import { CSF_SYNC_STATUS_OFFSET, type CsfGroupState, type CsfPriority } from './types.js';

/** One queue (command stream) of a {@link CsfGroup}. */
export class CsfQueue {
  readonly index: number;
  readonly group: CsfGroup;
  readonly ring: CommandRing;
  readonly syncAddr: number;
  readonly engineClass: EngineClass;
  /** @internal */
  hw!: HwContext;

  /**  (Not for drivers.) */
  constructor(group: CsfGroup, index: number, ring: CommandRing, syncAddr: number, engineClass: EngineClass) {
    this.group = group;
    this.index = index;
    this.ring = ring;
    this.syncAddr = syncAddr;
    this.engineClass = engineClass;
  }

  /** Execution state of the stream. */
  get state(): HwContextState {
    return this.hw.state;
  }

  /** Running time of the stream, ms. */
  runtimeMs(): number {
    return this.hw.runtimeMs(this.group.sched.now());
  }

  /** The sync object as the queue last wrote it. */
  readSync(): { seqno: bigint; status: number } {
    const mem = this.group.sched.memory;
    return { seqno: mem.read64(this.syncAddr), status: mem.read32(this.syncAddr + CSF_SYNC_STATUS_OFFSET) };
  }
}

/**
 * A CSF scheduling group (CSG): a priority and its queues. The firmware puts it in a
 * slot when it has work and wins the slot rotation; its queues run only while it is
 * resident. {@link CsfGroup.doorbell} after writing a queue's ring.
 */
export class CsfGroup {
  readonly id: number;
  readonly name: string;
  readonly priority: CsfPriority;
  readonly queues: readonly CsfQueue[];
  /** @internal */
  readonly sched: CsfFirmware;
  /** @internal */
  st: CsfGroupState = 'created';
  /** @internal off | loading | resident | evicting */
  phase: 'off' | 'loading' | 'resident' | 'evicting' = 'off';
  /** @internal */
  slotNo: number | null = null;
  /** @internal Round-robin position: lower runs first within a priority. */
  rrSeq = 0;
  /** @internal */
  userSuspended = false;
  /** @internal Saves still outstanding during an eviction. */
  pendingSaves = 0;
  /** @internal */
  timeoutEv: ExecEvent | null = null;
  /** @internal */
  waiters: Array<Waker<null>> = [];
  /** @internal */
  residentAccum = 0;
  /** @internal */
  residentSince = 0;

  /**  (Not for drivers.) */
  constructor(sched: CsfFirmware, id: number, name: string, priority: CsfPriority, queues: (g: CsfGroup) => CsfQueue[]) {
    this.sched = sched;
    this.id = id;
    this.name = name;
    this.priority = priority;
    this.queues = queues(this);
  }

  get state(): CsfGroupState {
    return this.st;
  }

  /** Slot it occupies (while loading, resident or being evicted), or null. */
  get slot(): number | null {
    return this.slotNo;
  }

  /** True while its queues can run. */
  get resident(): boolean {
    return this.phase === 'resident';
  }

  /** Sum of its queues' running time, ms. */
  runtimeMs(): number {
    let t = 0;
    for (const q of this.queues) t += q.runtimeMs();
    return t;
  }

  /** Time spent resident, ms. */
  residentMs(): number {
    return this.residentAccum + (this.phase === 'resident' ? this.sched.now() - this.residentSince : 0);
  }

  /**
   * Ring queue `queue`'s doorbell: the firmware now sees the ring's tail. A resident group
   * runs it at once; otherwise the scheduler is asked for a slot (at once if one is free
   * or the group is real-time, else at the next tick). ECANCELED once terminated.
   */
  doorbell(queue = 0): void {
    this.sched.doorbell(this, queue);
  }

  /** Suspend: evict from its slot (saving state) and keep it out until {@link CsfGroup.resume}. Sleeps. */
  suspend(): Promise<void> {
    return this.sched.suspendGroup(this);
  }

  /** Let a suspended group be scheduled again. */
  resume(): void {
    this.sched.resumeGroup(this);
  }

  /** Terminate: stop its queues where they are and free its slot. Idempotent. */
  terminate(): void {
    this.sched.terminate(this, null);
  }
}
