/**
 * panthor_sched.c, reduced to what the dependency layer sees: scheduling groups of queues
 * on the CSF-like firmware, one `DepQueue` per queue whose `runJob` writes the queue's ring
 * and rings the doorbell, completion by seqno from a sync-update work item, the driver's
 * own progress timeout, group termination and the state userspace can query.
 */
import { DmaFence, beginSignalling, contextAlloc, endSignalling, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import type { GpuVm } from '@dep/drm';
import { COMMAND_DWORDS, createCommandRing, type Command, type CommandRing, type CsfGroup, type CsfPriority, type HwBuffer } from '@dep/hw-sim';
import { DelayedWork, DepError } from '@dep/kernel';
import { DepJob, DepQueue, type DepQueueOps, type DepTimeoutStatus, type PushedDepJob } from '@dep/queue';
import type { PanthorDevice } from './device.js';
import { PanthorGroupState } from './uapi.js';

const EINVAL = -22;
const ECANCELED = -125;
/** Less than this much of the progress budget left counts as none (float residue of resident-time sums, ms). */
const PROGRESS_RESIDUE_MS = 1e-6;
const ETIMEDOUT = -110;

/** Bytes of one CS instruction (the credit unit of panthor: ring bytes / 8). */
export const CS_INSTR_BYTES = 8;

/** A device address no buffer ever covers: a stream that is not mapped faults on it. */
const UNMAPPED_ADDR = 0x40;

const doneFenceOps: DmaFenceOps = {
  getDriverName: () => 'panthor',
  getTimelineName: (f) => `queue-fence-ctx-${f.context}`,
};

/** Why a group stopped for good. */
export type PanthorGroupFate = 'timedout' | 'fatal' | 'destroyed' | 'innocent';

/**
 * `struct panthor_job`: a `DepJob` with the user stream it runs and the done fence
 * (`job->done_fence`, the hardware fence `runJob` returns) on the queue's fence context.
 */
export class PanthorJob extends DepJob {
  readonly pq: PanthorQueue;
  /** Instructions of the user stream (`stream_size / 8`); 0 is an empty stream. */
  readonly units: number;
  readonly streamAddr: bigint;
  /** The done fence while the job is in flight (a driver reference), else null. */
  done: DmaFence | null = null;
  /** Seqno the ring's epilogue writes to the queue's sync object. */
  hwSeqno = 0n;

  constructor(pq: PanthorQueue, units: number, streamAddr: bigint) {
    super(pq.dq, { credits: units === 0 ? 1 : jobDwords(units, true) });
    this.pq = pq;
    this.units = units;
    this.streamAddr = streamAddr;
  }
}

/** Ring dwords a job takes: the call of the user stream and the sync-object write (and room for a fault). */
function jobDwords(units: number, worstCase: boolean): number {
  return (units > 0 ? COMMAND_DWORDS.batch : 0) + COMMAND_DWORDS.seqnoWrite + (worstCase ? COMMAND_DWORDS.userFenceWrite : 0);
}


/** `struct panthor_queue`: one command stream of a group, its ring, its sync object, its `DepQueue`. */
export class PanthorQueue {
  readonly group: PanthorGroup;
  readonly index: number;
  readonly ring: CommandRing;
  readonly dq: DepQueue<PanthorJob>;
  /** `queue->fence_ctx`: the done fences' context. */
  readonly fenceContext: bigint;
  /** Jobs on the ring, oldest first (`fence_ctx.in_flight_jobs`). */
  readonly inflight: PanthorJob[] = [];
  /** Seqno of the last job written to the ring. */
  lastSeqno = 0n;
  /** Seqno signalled so far (what the sync object said last time we looked). */
  doneSeqno = 0n;
  /** Progress timer (`queue->timeout.work`, 5 s by default). */
  readonly timeoutWork: DelayedWork;
  /** Group resident time when the progress timer was (re)armed. */
  #residentAtArm = 0;
  #released = false;
  #aborted = false;

  constructor(group: PanthorGroup, index: number, ringBytes: number) {
    this.group = group;
    this.index = index;
    const dev = group.dev;
    const rt = dev.runtime;
    this.ring = createCommandRing(ringBytes / 4, `${group.hwName}.q${index}`);
    this.fenceContext = contextAlloc(1, rt);
    const ops: DepQueueOps<PanthorJob> = {
      runJob: (job) => this.#runJob(job),
      timedoutJob: (job) => this.#timedoutJob(job),
      cancelJob: (job) => this.#cancelJob(job),
      freeJob: (job) => this.#freeJob(job),
      release: () => this.#release(),
    };
    this.dq = new DepQueue<PanthorJob>({
      runtime: rt,
      name: `${group.hwName}.q${index}`,
      ops,
      // drm_sched credit limit = ring bytes / 8 in panthor; here the ring counts dwords.
      creditLimit: ringBytes / 4,
      maxJobCredits: jobDwords(1, true),
      // drm_sched's own timeout is infinite: the progress timer below triggers it.
      timeout: Infinity,
      teardown: 'async',
      inactiveFences: dev.inactiveFences,
      bypass: dev.bypass,
    });
    this.timeoutWork = new DelayedWork(() => this.#progressTimeout(), `panthor-queue-timeout:${group.hwName}.q${index}`);
  }

  get syncAddr(): number {
    return this.group.syncBuffer.addr + 16 * this.index;
  }

  // --- run_job ----------------------------------------------------------------------------

  #runJob(job: PushedDepJob<PanthorJob>): Fence | null {
    const g = this.group;
    if (!g.canRun) throw new DepError('ECANCELED', `${this.dq.name}: group ${g.hwName} is ${g.fate ?? 'stopped'}`);
    if (job.units === 0) {
      // An empty stream takes no ring space: it completes with the queue's last job.
      const last = this.inflight[this.inflight.length - 1];
      return last === undefined ? null : last.done!.get();
    }
    const seqno = this.lastSeqno + 1n;
    const cmds: Command[] = [];
    const vm = g.vm;
    const mapped = vm.find(job.streamAddr);
    const last = vm.find(job.streamAddr + BigInt(job.units * CS_INSTR_BYTES) - 1n);
    if (mapped === null || last === null) cmds.push({ op: 'userFenceWrite', addr: UNMAPPED_ADDR, value: 0n }); // the MMU faults
    cmds.push({ op: 'batch', units: job.units, label: `${this.dq.name}#${seqno}` });
    cmds.push({ op: 'seqnoWrite', addr: this.syncAddr, value: seqno });
    const fence = new DmaFence(doneFenceOps, this.fenceContext, seqno, { runtime: g.dev.runtime });
    this.ring.write(cmds); // credits guarantee the room
    this.lastSeqno = seqno;
    job.hwSeqno = seqno;
    job.done = fence;
    this.inflight.push(job as PanthorJob);
    if (this.inflight.length === 1) this.#armTimeout();
    g.csf.doorbell(this.index);
    return fence.get();
  }

  // --- completion -------------------------------------------------------------------------

  /**
   * The sync-update work for this queue (`group_sync_upd_work` → `queue_check_job_completion`):
   * signal every in-flight job whose seqno ≤ the sync object's, in order, inside a
   * signalling section; drop the references outside it. Returns true on progress.
   */
  checkCompletion(): boolean {
    const csfq = this.group.csf.queues[this.index]!;
    const { seqno } = csfq.readSync();
    if (seqno <= this.doneSeqno || this.inflight.length === 0) return false;
    this.doneSeqno = seqno;
    const rt = this.group.dev.runtime;
    const done: PanthorJob[] = [];
    const cookie = beginSignalling(rt);
    try {
      while (this.inflight.length > 0 && this.inflight[0]!.hwSeqno <= seqno) {
        const job = this.inflight.shift()!;
        job.done!.signal();
        done.push(job);
      }
    } finally {
      endSignalling(cookie, rt);
    }
    for (const job of done) this.#dropDone(job);
    if (this.inflight.length === 0) this.timeoutWork.cancel();
    else this.#armTimeout();
    return done.length > 0;
  }

  /** Signal every in-flight job's done fence with `error` (group termination). */
  failInflight(error: number): void {
    const rt = this.group.dev.runtime;
    const jobs = this.inflight.splice(0);
    this.timeoutWork.cancel();
    const cookie = beginSignalling(rt);
    try {
      for (const job of jobs) {
        const f = job.done!;
        if (!f.isSignaled()) {
          f.setError(error);
          f.signal();
        }
      }
    } finally {
      endSignalling(cookie, rt);
    }
    for (const job of jobs) this.#dropDone(job);
  }

  #dropDone(job: PanthorJob): void {
    const f = job.done;
    job.done = null;
    f?.put();
  }

  // --- the progress timeout ---------------------------------------------------------------

  #armTimeout(): void {
    const dev = this.group.dev;
    this.#residentAtArm = this.group.csf.residentMs();
    dev.schedWq.modDelayedWork(this.timeoutWork, dev.progressTimeoutMs);
  }

  /**
   * `queue_timeout_work`: the timer counts only while the group is resident (panthor
   * suspends it while the group is off a slot); on expiry it first re-checks completion,
   * and only when nothing progressed it raises the fault (`drm_sched_fault` →
   * `triggerTimeout` → {@link PanthorQueue#timedoutJob}).
   */
  #progressTimeout(): void {
    if (this.inflight.length === 0 || !this.group.canRun) return;
    if (this.checkCompletion()) return;
    const dev = this.group.dev;
    const ran = this.group.csf.residentMs() - this.#residentAtArm;
    // What is left of the budget; a rounding residue of the resident-time sums (10000.32 −
    // 5000.32 is 4999.999999999999) is none — re-queued, the work would run again at the
    // same instant forever (the kernel counts whole jiffies).
    const left = dev.progressTimeoutMs - ran;
    if (left > PROGRESS_RESIDUE_MS) {
      dev.schedWq.queueDelayedWork(this.timeoutWork, left);
      return;
    }
    this.group.dev.stats.progressTimeouts++;
    this.dq.triggerTimeout();
  }

  /** `queue_timedout_job`: mark the group timed out and terminate it. */
  #timedoutJob(job: PushedDepJob<PanthorJob>): DepTimeoutStatus {
    const g = this.group;
    if (g.fate === null) g.terminate('timedout');
    // Termination signalled the job's done fence; one that was never on the ring (queued
    // when the group died) has no done fence and fails in runJob.
    void job;
    return 'reset';
  }

  #cancelJob(job: PushedDepJob<PanthorJob>): void {
    const i = this.inflight.indexOf(job as PanthorJob);
    if (i < 0) return;
    this.inflight.splice(i, 1);
    const f = job.done!;
    const rt = this.group.dev.runtime;
    const cookie = beginSignalling(rt);
    try {
      if (!f.isSignaled()) {
        f.setError(ECANCELED);
        f.signal();
      }
    } finally {
      endSignalling(cookie, rt);
    }
    this.#dropDone(job as PanthorJob);
  }

  #freeJob(job: PushedDepJob<PanthorJob> | PanthorJob): void {
    // A job is off the in-flight list before it is freed; nothing else hangs off it.
    job.done?.put();
    job.done = null;
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    if (!this.#aborted) this.group.queueReleased();
  }

  /** @internal Group creation failed after this queue was made: tear it down, it never ran. */
  abort(): void {
    this.#aborted = true;
    void this.dq.fini();
  }
}

/**
 * `struct panthor_group`: a CSG with 1..N queues on one VM. Created on the firmware at once
 * (no round trip until it is scheduled); slots and rotation are the firmware's (ADR 0105).
 */
export class PanthorGroup {
  readonly dev: PanthorDevice;
  readonly vm: GpuVm;
  readonly hwName: string;
  readonly priority: CsfPriority;
  readonly queues: readonly PanthorQueue[];
  readonly csf: CsfGroup;
  /** The kernel BO holding the queues' 16-byte sync objects. */
  readonly syncBuffer: HwBuffer;
  /** Null while the group may run; why it stopped otherwise. */
  fate: PanthorGroupFate | null = null;
  /** Set when a job of the group timed out. */
  timedout = false;
  /** Bit mask of the queues that hit a fatal fault. */
  fatalQueues = 0;
  /** Killed by something that was not its fault. */
  innocent = false;
  destroyed = false;
  #liveQueues: number;

  constructor(dev: PanthorDevice, vm: GpuVm, hwName: string, priority: CsfPriority, ringBytes: readonly number[], syncBuffer: HwBuffer) {
    this.dev = dev;
    this.vm = vm;
    this.hwName = hwName;
    this.priority = priority;
    this.syncBuffer = syncBuffer;
    const queues: PanthorQueue[] = [];
    try {
      for (const [i, b] of ringBytes.entries()) queues.push(new PanthorQueue(this, i, b));
      this.csf = dev.gpu.fw.createGroup({
        priority,
        name: hwName,
        queues: queues.map((q) => ({ ring: q.ring, syncAddr: q.syncAddr })),
      });
    } catch (e) {
      // ENOMEM (a queue's workqueue) or ENODEV: the queues made so far go, nothing else was touched.
      for (const q of queues) q.abort();
      throw e;
    }
    this.queues = queues;
    this.#liveQueues = queues.length;
  }

  /** True while jobs may be written to its rings (`group_can_run`). */
  get canRun(): boolean {
    return this.fate === null && this.csf.state !== 'terminated';
  }

  /** `DRM_PANTHOR_GROUP_STATE_*` flags. */
  get stateFlags(): number {
    let s = 0;
    if (this.timedout) s |= PanthorGroupState.TIMEDOUT;
    if (this.fatalQueues !== 0) s |= PanthorGroupState.FATAL_FAULT;
    if (this.innocent) s |= PanthorGroupState.INNOCENT;
    return s;
  }

  /**
   * Stop the group for good (`group_term_work` + `group_term_post_processing`): terminate
   * it on the firmware and signal every in-flight job with -ETIMEDOUT (timed out),
   * -EINVAL (fatal fault) or -ECANCELED (destroyed, innocent). Idempotent in effect: the
   * first fate sticks.
   */
  terminate(fate: PanthorGroupFate): void {
    if (this.fate === null) this.fate = fate;
    if (fate === 'timedout') this.timedout = true;
    if (fate === 'innocent' && !this.timedout && this.fatalQueues === 0) this.innocent = true;
    if (this.csf.state !== 'terminated') this.csf.terminate();
    for (const q of this.queues) {
      // Whatever completed before the end still completes normally.
      q.checkCompletion();
      const err = (this.fatalQueues & (1 << q.index)) !== 0 ? EINVAL : this.timedout ? ETIMEDOUT : ECANCELED;
      q.failInflight(err);
    }
  }

  /** The firmware terminated the group (`group-fault`): a fatal queue fault, a suspend timeout, a firmware error. */
  faulted(queueMask: number, reason: 'page-fault' | 'suspend-timeout' | 'fw-error'): void {
    if (reason === 'suspend-timeout') {
      this.terminate('timedout');
      return;
    }
    this.fatalQueues |= queueMask === 0 ? (1 << this.queues.length) - 1 : queueMask;
    this.terminate('fatal');
  }

  /** Sync-update work for this group. */
  syncUpdate(): void {
    for (const q of this.queues) q.checkCompletion();
  }

  /**
   * `panthor_group_destroy`: mark it destroyed, terminate it, tear its queues down (queued
   * jobs complete with -ESRCH once their dependencies signalled, jobs on the ring with
   * -ECANCELED). The group's memory goes when the last queue is released.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.terminate('destroyed');
    for (const q of this.queues) {
      q.timeoutWork.cancel();
      await q.dq.fini();
    }
  }

  /** @internal The last reference to one of its queues went. */
  queueReleased(): void {
    if (--this.#liveQueues > 0) return;
    for (const q of this.queues) q.timeoutWork.cancel();
    this.syncBuffer.free();
    this.dev.groupFreed(this);
    this.vm.put();
  }
}
