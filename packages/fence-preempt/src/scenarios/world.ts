/**
 * The small simulated world the RFC scenarios run in: one VM with one long-running user
 * queue (a simulated engine that writes its seqno every `period` ms and raises the user
 * interrupt), its buffers (dma-resvs), its exported user fences (memory fences with the
 * 5 s user-fence TDR), its preempt fence(s) in the chosen ordering design, a rebind
 * (resume) worker, and TTM evicting buffers. No real GPU: the real queue and hardware
 * simulator come with `@dep/queue` and the driver adapters.
 */
import { DepError, GFP_KERNEL, Runtime, Timer, Work, Workqueue, type Report, type Waker } from '@dep/kernel';
import { DmaFence, contextAlloc, fenceLabel, fenceWaitsOn, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import { DmaResv, DmaResvUsage } from '@dep/dma-resv';
import { MemoryFenceDriver, Seq64Area, UserFenceTdr, type Seq64Slot } from '@dep/user-fence';
import { PreemptionManager } from '../manager.js';
import { PreemptFence, allocPreemptWorkqueue, type PreemptFenceOps, type PreemptOrdering } from '../preempt-fence.js';

/** The design under test: one of the preempt fence's orderings, or the preemption manager. */
export type ScenarioDesign = PreemptOrdering | 'manager';

/** Options every scenario takes. */
export interface ScenarioOptions {
  /** The ordering design (or Christian König's push-style manager). */
  readonly design: ScenarioDesign;
  /**
   * Run the follow-up before the signal (AMD's order) rather than after (Xe's). For the
   * PreemptFence designs; the manager always queues its resume before the signal.
   */
  readonly finishedBeforeSignal?: boolean;
  /**
   * The runtime to run in (virtual time; attach trace sinks to it first). Default: a new
   * one with checks `'warn'`, so a deadlock's reports are collected rather than thrown.
   */
  readonly runtime?: Runtime;
  /** Seed of the default runtime. Default 1. */
  readonly seed?: number;
}

/** What a scenario found. */
export interface ScenarioResult {
  readonly scenario: 'eviction' | 'foreign-resv';
  readonly design: ScenarioDesign;
  /** True if the fence wait-for graph reported a cycle (the deadlock, the moment it formed). */
  readonly deadlock: boolean;
  /** The `fence-cycle` report, listing every fence and the reason of every edge. */
  readonly cycle: Report | null;
  /** The exported user fence U: its status (1, or -62 -ETIME from the TDR) and when it signalled. */
  readonly userFence: { readonly status: number; readonly signalledAt: number | null };
  /** When the user-fence TDR fired (null: it did not) and how many fences it errored. */
  readonly tdr: { readonly firedAt: number; readonly fences: number } | null;
  /** The VM was killed by the TDR. */
  readonly vmKilled: boolean;
  /** Seqnos the queue had to write, did write, and never wrote (work lost). */
  readonly seqnos: { readonly expected: bigint; readonly written: bigint; readonly lost: bigint };
  /** Fences the scenario published that never signalled (must be 0). */
  readonly unsignalled: readonly string[];
  /** What happened, one line per event: `"    25ms  ttm: evict bo-X …"`. */
  readonly timeline: readonly string[];
  /** Every report the runtime collected. */
  readonly reports: readonly Report[];
  /** Virtual time at the end (ms). */
  readonly endedAt: number;
  readonly runtime: Runtime;
}

const ENOENT = -2;

/** The user queue: writes seqno 1, 2, … every `period` ms while running. */
export class SimUserQueue {
  readonly name: string;
  state: 'idle' | 'running' | 'preempting' | 'suspended' | 'killed' = 'idle';
  written = 0n;
  readonly total: bigint;
  readonly #world: World;
  readonly #timer: Timer;
  readonly #period: number;
  readonly #suspendMs: number;
  #waiters: Array<Waker<null>> = [];

  constructor(world: World, name: string, total: bigint, period = 10, suspendMs = 1) {
    this.#world = world;
    this.name = name;
    this.total = total;
    this.#period = period;
    this.#suspendMs = suspendMs;
    this.#timer = new Timer(world.rt, () => { this.#write(); }, `${name}:ring`);
  }

  start(): void {
    this.state = 'running';
    if (this.written < this.total) this.#timer.mod(this.#period);
  }

  #write(): void {
    if (this.state !== 'running') return;
    this.written++;
    this.#world.slot.device.store64(0, this.written);
    this.#world.log(`${this.name}: writes seqno ${this.written}`);
    this.#world.userFences.notify(); // the user interrupt
    if (this.written < this.total) this.#timer.mod(this.#period);
  }

  /** Xe: GuC schedule disable; AMD: unmap. The queue is off the hardware `suspendMs` later. */
  preempt(): number {
    if (this.state === 'killed') return ENOENT;
    this.#timer.del();
    this.state = 'preempting';
    this.#world.log(`${this.name}: preemption requested`);
    new Timer(this.#world.rt, () => {
      if (this.state !== 'preempting') return;
      this.state = 'suspended';
      this.#world.log(`${this.name}: suspended (off the hardware)${this.written < this.total ? `, seqno ${this.written + 1n} not written` : ''}`);
      this.#wakeAll();
    }, `${this.name}:suspend`).mod(this.#suspendMs);
    return 0;
  }

  /** Sleep until the queue is off the hardware (a firmware reply, not a fence). */
  async preemptWait(): Promise<number> {
    if (this.state === 'suspended') return 0;
    if (this.state === 'killed') return ENOENT;
    await this.#world.rt.sleepOn<null>(`${this.name}: suspend done`, (w) => { this.#waiters.push(w); });
    return (this.state as SimUserQueue['state']) === 'killed' ? ENOENT : 0;
  }

  resume(): void {
    if (this.state === 'killed') return;
    this.#world.log(`${this.name}: resumed`);
    this.start();
  }

  kill(): void {
    this.#timer.del();
    this.state = 'killed';
    this.#world.log(`${this.name}: banned (the VM is killed)`);
    this.#wakeAll();
  }

  #wakeAll(): void {
    for (const w of this.#waiters.splice(0)) w.wake(null);
  }
}

const kernelOps = (driver: string, timeline: string): DmaFenceOps => ({ getDriverName: () => driver, getTimelineName: () => timeline });

/** The world: see the module comment. */
export class World {
  readonly rt: Runtime;
  readonly design: ScenarioDesign;
  readonly timeline: string[] = [];
  readonly preemptWq: Workqueue;
  readonly rebindWq: Workqueue;
  readonly seq64: Seq64Area;
  readonly slot: Seq64Slot;
  readonly tdr: UserFenceTdr;
  readonly userFences: MemoryFenceDriver;
  readonly queue: SimUserQueue;
  /** Buffers of the VM (bo-X) and of other clients. */
  readonly resvs = new Map<string, DmaResv>();
  /** Every fence the scenario published, to check that all of them signalled. */
  readonly published: Fence[] = [];
  /** Labels taken at publication (a signalled fence's names are detached). */
  readonly #labels = new WeakMap<Fence, string>();
  /** TTM moves in flight (fences), by buffer. */
  readonly evictions = new Map<string, DmaFence>();
  killed = false;
  /** Closing the VM: no more rebinds. */
  closing = false;
  lastExported: Fence | null = null;
  preemptFence: PreemptFence | null = null;
  readonly manager: PreemptionManager | null;
  /** The reclaim the rebind needs before it can resume (scenario-specific). */
  reclaim: () => Promise<void> = async () => {};
  readonly #preemptCtx: bigint;
  readonly #kernelCtx: bigint;
  #preemptSeqno = 1n;
  #kernelSeqno = 1n;
  readonly #rebindWork: Work;
  readonly #finishedBeforeSignal: boolean;
  readonly #unsubscribe: () => void;
  cycle: Report | null = null;

  constructor(options: ScenarioOptions, total = 10n) {
    const design = options.design;
    if (design !== 'slot' && design !== 'gate' && design !== 'none' && design !== 'manager') {
      throw new DepError('EINVAL', `scenario: design must be 'slot', 'gate', 'none' or 'manager', got ${String(design)}`);
    }
    if (options.finishedBeforeSignal !== undefined && typeof options.finishedBeforeSignal !== 'boolean') {
      throw new DepError('EINVAL', 'scenario: finishedBeforeSignal must be true or false');
    }
    const rt = options.runtime ?? new Runtime({ checks: 'warn', seed: options.seed ?? 1 });
    if (!(rt instanceof Runtime) || rt.executor.kind !== 'virtual') {
      throw new DepError('EINVAL', 'scenario: runtime must be a virtual-time Runtime (the scenario runs 5 s of virtual time)');
    }
    this.rt = rt;
    this.design = design;
    this.#finishedBeforeSignal = options.finishedBeforeSignal ?? false;
    this.#unsubscribe = rt.reports.subscribe((r) => {
      if (r.kind === 'fence-cycle') this.cycle ??= r;
      this.log(`${r.kind.toUpperCase()}: ${r.message}`);
    });
    this.preemptWq = allocPreemptWorkqueue(rt, 'xe-preempt-fence-wq');
    this.rebindWq = new Workqueue(rt, 'vm-rebind');
    this.seq64 = new Seq64Area({ runtime: rt, slots: 4, shared: false });
    this.slot = this.seq64.alloc();
    this.tdr = new UserFenceTdr({
      runtime: rt,
      name: 'vm0-user-fence-tdr',
      kill: (info) => {
        this.log(`user-fence TDR: ${info.fences} exported fence(s) signalled with -ETIME; killing the whole VM`);
        this.killed = true;
        this.queue.kill();
      },
    });
    this.userFences = new MemoryFenceDriver(this.slot.user, 0, { runtime: rt, driverName: 'xe', name: 'vm0-q0-user-fence', tdr: this.tdr, poll: null });
    this.queue = new SimUserQueue(this, 'vm0-q0', total);
    this.#preemptCtx = contextAlloc(1, rt);
    this.#kernelCtx = contextAlloc(1, rt);
    this.#rebindWork = new Work(() => this.#rebind(), 'xe_vm_rebind_work');
    this.manager =
      design !== 'manager'
        ? null
        : new PreemptionManager(
            {
              preempt: (m) => {
                this.log(`suspend work: holds ${m.mutex.name}; the last exported fence ${m.lastFence === null ? '(none)' : this.label(m.lastFence)} has signalled`);
                return this.queue.preempt();
              },
              preemptWait: () => this.queue.preemptWait(),
              revalidate: async () => {
                await this.#revalidate();
                if (this.killed) return;
                const x = this.resvs.get('bo-X')!;
                await x.lock();
                if (x.reserveFences(1) !== 0) throw new DepError('ENOMEM', 'no fence slot for the eviction fence');
              },
              resume: (_m, next) => {
                if (this.killed) return;
                const x = this.resvs.get('bo-X')!;
                x.addFence(next, DmaResvUsage.BOOKKEEP);
                x.unlock();
                this.publish(next);
                this.log(`resume: eviction fence ${this.label(next)} attached; map the queue`);
                this.queue.resume();
              },
            },
            { runtime: rt, name: 'vm0-evf', wq: this.preemptWq, resumeWq: this.rebindWq },
          );
  }

  /** Record a published fence; returns it. */
  publish<F extends Fence>(f: F): F {
    this.#labels.set(f, fenceLabel(f));
    this.published.push(f);
    return f;
  }

  /** `driver:timeline context:seqno` as it was when published. */
  label(f: Fence): string {
    return this.#labels.get(f) ?? fenceLabel(f);
  }

  log(msg: string): void {
    this.timeline.push(`${String(this.rt.now()).padStart(6)}ms  ${msg}`);
  }

  /** A buffer: the VM's own (`PREEMPT` usage allowed under the slot design) or another client's. */
  buffer(name: string, ofVm: boolean): DmaResv {
    const resv = new DmaResv({ runtime: this.rt, name, preempt: ofVm && this.design === 'slot' });
    this.resvs.set(name, resv);
    return resv;
  }

  /** Lock `resv`, add `fence` with `usage`, unlock. */
  async install(resv: DmaResv, fence: Fence, usage: DmaResvUsage): Promise<void> {
    await resv.lock();
    try {
      if (resv.reserveFences(1) !== 0) throw new DepError('ENOMEM', `no fence slot on ${resv.name}`);
      resv.addFence(fence, usage);
    } finally {
      resv.unlock();
    }
  }

  /** Arm a preempt fence (or, for the manager, its eviction fence) on every buffer of the VM. */
  async armPreemptFence(): Promise<void> {
    const x = this.resvs.get('bo-X')!;
    if (this.manager !== null) {
      const ev = this.publish(this.manager.fence);
      await this.install(x, ev, DmaResvUsage.BOOKKEEP);
      this.log(`eviction fence ${this.label(ev)} attached to ${x.name} (bookkeep)`);
      return;
    }
    const p = this.#newPreemptFence(x);
    this.preemptFence = this.publish(p);
    await this.install(x, p, p.usage);
    this.log(`preempt fence ${this.label(p)} attached to ${x.name} (${p.usage === DmaResvUsage.PREEMPT ? 'PREEMPT slot' : 'bookkeep'})`);
  }

  #newPreemptFence(x: DmaResv): PreemptFence {
    const ordering = this.design as PreemptOrdering;
    const ops: PreemptFenceOps = {
      getDriverName: () => 'xe',
      getTimelineName: () => 'vm0-preempt',
      preemptDelay: (f) => {
        const u = this.lastExported;
        this.log(`preempt fence ${this.label(f)}: worker runs; ${u === null ? 'no gate' : `gate: the last exported fence ${this.label(u)}${u.testSignaledFlag() ? ' (signalled)' : ', wait for it'}`}`);
        return u === null ? null : u.get();
      },
      preempt: () => this.queue.preempt(),
      preemptWait: () => this.queue.preemptWait(),
      preemptFinished: (f) => {
        this.log(`preempt fence ${this.label(f)}: ${f.testSignaledFlag() ? 'signalled; ' : ''}queue the rebind worker`);
        if (!this.killed && !this.closing) this.rebindWq.queueWork(this.#rebindWork);
      },
    };
    return new PreemptFence(ops, this.#preemptCtx, this.#preemptSeqno++, {
      wq: this.preemptWq,
      ordering,
      finishedBeforeSignal: this.#finishedBeforeSignal,
      ...(ordering === 'slot' ? { resv: x } : {}),
    });
  }

  /**
   * Userspace converts "seqno `value` of the queue" into a dma-fence U and exports it: into
   * every buffer of the VM (BOOKKEEP, Brost's scheme) and/or a syncobj (AMD's).
   */
  async exportUserFence(value: bigint, into: { readonly vmResvs: boolean }): Promise<Fence> {
    const u = this.publish(this.userFences.createFence(value));
    if (this.manager !== null) await this.manager.update(u);
    const old = this.lastExported;
    this.lastExported = u.get();
    old?.put();
    if (into.vmResvs) await this.install(this.resvs.get('bo-X')!, u, DmaResvUsage.BOOKKEEP);
    this.log(`export user fence ${this.label(u)} (seqno ${value} of ${this.queue.name})${into.vmResvs ? ' into bo-X (bookkeep)' : ''}`);
    return u;
  }

  /** A kernel fence (a TTM move, another client's kernel job). */
  kernelFence(driver: string, timeline: string): DmaFence {
    return this.publish(new DmaFence(kernelOps(driver, timeline), this.#kernelCtx, this.#kernelSeqno++, { runtime: this.rt }));
  }

  /**
   * TTM evicts a buffer: a move fence that completes after every fence of its resv (all
   * usages; PREEMPT last where enabled), then 1 ms of copying.
   */
  evict(name: string): DmaFence {
    const resv = this.resvs.get(name)!;
    const k = this.kernelFence('ttm', `evict-${name}`);
    this.evictions.set(name, k);
    const usage = resv.preemptEnabled ? DmaResvUsage.PREEMPT : DmaResvUsage.BOOKKEEP;
    this.rt.spawn(`ttm-evict-${name}`, async () => {
      this.log(`ttm: evict ${name}: wait for every fence in its resv${usage === DmaResvUsage.PREEMPT ? ' (PREEMPT fences last)' : ' (bookkeep: any order)'}`);
      await resv.waitTimeout(usage, Infinity, { forFence: k });
      await this.rt.sleep(1);
      this.log(`ttm: ${name} moved out`);
      k.signal();
    });
    return k;
  }

  /**
   * The rebind (resume) worker must wait for `fence` (an eviction making room). While the
   * queue is suspended with U unwritten, U cannot signal before this wait ends: declared to
   * the wait-for graph.
   */
  async resumeWaitsFor(fence: Fence, why: string): Promise<void> {
    const u = this.lastExported;
    const edge =
      u !== null && !u.testSignaledFlag() && this.queue.state !== 'running'
        ? fenceWaitsOn(u, fence, `${this.queue.name} writes it only once resumed; the rebind waits for ${why}`)
        : null;
    try {
      await fence.wait();
    } finally {
      edge?.remove();
    }
  }

  async #revalidate(): Promise<void> {
    this.log('rebind: revalidate the VM (needs memory)');
    await this.reclaim();
    if (this.killed) {
      this.log('rebind: the VM was killed; nothing to resume');
      return;
    }
    this.rt.alloc(GFP_KERNEL, 'xe_vm_rebind'); // page tables: not a signalling path, not a reclaim queue
    await this.rt.sleep(1);
  }

  async #rebind(): Promise<void> {
    await this.#revalidate();
    if (this.killed) return;
    await this.armPreemptFence();
    this.queue.resume();
  }

  /**
   * Close the VM (end of the scenario): evict its buffer once more, so the last preempt
   * fence signals, then release everything. Every published fence has then signalled.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.log('close the VM: preempt it one last time');
    if (this.manager !== null) await this.manager.fini();
    const x = this.resvs.get('bo-X')!;
    await x.waitTimeout(x.preemptEnabled ? DmaResvUsage.PREEMPT : DmaResvUsage.BOOKKEEP, Infinity);
    this.userFences.fini();
    this.lastExported?.put();
    this.lastExported = null;
  }

  async teardown(): Promise<void> {
    await this.preemptWq.destroy();
    await this.rebindWq.destroy();
    for (const r of this.resvs.values()) r.fini();
    this.#unsubscribe();
  }

  result(scenario: 'eviction' | 'foreign-resv', u: Fence): ScenarioResult {
    const killed = this.tdr.killed;
    const written = this.queue.written;
    return {
      scenario,
      design: this.design,
      deadlock: this.cycle !== null,
      cycle: this.cycle,
      userFence: { status: u.getStatus(), signalledAt: u.testSignaledFlag() ? u.timestamp() : null },
      tdr: killed === null ? null : { firedAt: killed.time, fences: killed.fences },
      vmKilled: this.killed,
      seqnos: { expected: this.queue.total, written, lost: this.queue.total - written },
      unsignalled: this.published.filter((f) => !f.testSignaledFlag()).map((f) => this.label(f)),
      timeline: this.timeline,
      reports: [...this.rt.reports.list],
      endedAt: this.rt.now(),
      runtime: this.rt,
    };
  }
}
