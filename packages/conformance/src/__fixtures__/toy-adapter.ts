// A toy driver on @dep/queue's mock hardware (MockHw, MockJob) and @dep/drm's files — the
// smallest adapter that passes the kit — with switches that break it on purpose, so the
// kit's self-test can show that each check catches its bug.
import type { Fence } from '@dep/dma-fence';
import { DrmDevice, DrmFile, defineIoctl, flags, handle, u32, type HandleTable } from '@dep/drm';
import { DeviceMemory } from '@dep/hw-sim';
import { DepError, GFP_NOWAIT, type Runtime } from '@dep/kernel';
import { DepQueue, type DepQueueOps, type PushedDepJob } from '@dep/queue';
import { MockHw, MockJob } from '@dep/queue/testing';
import type { ConformanceAdapter, ConformanceClient, ConformanceQueue, IoctlCase } from '../adapter.js';

/** What to break. */
export type ToyBug =
  /** Every submit takes a fence reference it never puts (a leak at shutdown). */
  | 'leak-fence'
  /** Each job runs on a timeline of its own: a short job overtakes a long one on the same queue. */
  | 'reorder'
  /** The submit ioctl skips the argument validator (bad flags, sizes and types go through). */
  | 'skip-validation'
  /** Queue handles are looked up in every file of the device, not only the caller's. */
  | 'global-handles'
  /** run_job allocates (GFP_NOWAIT) and ignores a failure: the job "succeeds" although its run lost memory. */
  | 'swallow-run-alloc-failure'
  /** The destroy ioctl stops the queue and forgets it instead of tearing it down: a hung job never ends, the queue is never released. */
  | 'kill-forgets-jobs';

const TOY_SUBMIT_HANG = 0x1;

export const TOY_QUEUE_CREATE = defineIoctl('DRM_IOCTL_TOY_QUEUE_CREATE', { flags: flags(0) });
export const TOY_QUEUE_DESTROY = defineIoctl('DRM_IOCTL_TOY_QUEUE_DESTROY', { queue: handle('toy_queue') });
export const TOY_SUBMIT = defineIoctl('DRM_IOCTL_TOY_SUBMIT', {
  queue: handle('toy_queue'),
  units: u32({ min: 1, max: 1000 }),
  flags: flags(TOY_SUBMIT_HANG),
  outSync: handle('syncobj'),
});

class ToyQueue {
  readonly dq: DepQueue<MockJob>;
  readonly hw: MockHw;
  constructor(rt: Runtime, name: string, teardown: 'sync' | 'async', bug: ToyBug | null) {
    const hw = new MockHw({ runtime: rt, name });
    this.hw = hw;
    const ops: DepQueueOps<MockJob> = {
      freeJobIrqSafe: true,
      runJob: (job) => {
        if (bug === 'swallow-run-alloc-failure') rt.tryAlloc(GFP_NOWAIT, 'toy_run_job');
        const timeline = bug === 'reorder' ? new MockHw({ runtime: rt, name: `${name}.${job.id}` }) : hw;
        const f = timeline.submit(job.duration);
        job.hwFence = f;
        return f;
      },
      timedoutJob: (job: PushedDepJob<MockJob>) => {
        if (job.hwFence !== null) hw.timeout(job.hwFence);
        return 'reset';
      },
      cancelJob: (job) => {
        if (job.hwFence !== null) hw.cancel(job.hwFence);
      },
      freeJob: (job) => {
        job.hwFence = null;
      },
    };
    this.dq = new DepQueue<MockJob>({ runtime: rt, name, ops, creditLimit: 64, timeout: 50, teardown });
  }
}

class ToyFile extends DrmFile {
  declare readonly dev: ToyDevice;
  readonly queues: HandleTable<ToyQueue>;
  constructor(dev: ToyDevice, id: number) {
    super(dev, id);
    this.queues = this.createTable<ToyQueue>('toy_queue', { release: (q) => q.dq.fini() });
  }

  #lookup(h: number): ToyQueue | undefined {
    const q = this.queues.lookup(h);
    if (q !== undefined || this.dev.bug !== 'global-handles') return q;
    for (const f of this.dev.files) if (f.queues.has(h)) return f.queues.lookup(h);
    return undefined;
  }

  async queueCreate(args: unknown): Promise<{ queue: number }> {
    return this.ioctl(TOY_QUEUE_CREATE, args, () => {
      const q = new ToyQueue(this.runtime, `${this.label}.q${this.dev.nextQueue++}`, this.dev.teardown, this.dev.bug);
      this.dev.allQueues.push(q);
      try {
        return { queue: this.queues.alloc(q) };
      } catch (e) {
        void q.dq.fini();
        throw e;
      }
    });
  }

  async queueDestroy(args: unknown): Promise<void> {
    return this.ioctl(TOY_QUEUE_DESTROY, args, async (a) => {
      const q = this.queues.lookup(a.queue);
      if (q === undefined) throw new DepError('ENOENT', `queue ${a.queue} names nothing`);
      this.queues.remove(a.queue);
      if (this.dev.bug === 'kill-forgets-jobs') {
        await q.dq.stop();
        this.dev.forgotten.push(q);
        return;
      }
      await q.dq.fini();
    });
  }

  async submit(args: unknown): Promise<void> {
    const body = async (a: { queue: number; units: number; flags: number; outSync: number }): Promise<void> => {
      const q = this.#lookup(a.queue);
      if (q === undefined) throw new DepError('ENOENT', `queue ${a.queue} names nothing`);
      const sync = this.syncobjs.lookup(a.outSync);
      if (sync === undefined) throw new DepError('ENOENT', `syncobj ${a.outSync} names nothing`);
      if (q.dq.killed) throw new DepError('ECANCELED', 'the queue was killed');
      const job = new MockJob(q.dq, { duration: (a.flags & TOY_SUBMIT_HANG) !== 0 ? Infinity : a.units });
      const armed = job.arm();
      const fence = armed.finishedFence();
      if (this.dev.bug === 'leak-fence') fence.get();
      sync.replaceFence(fence);
      armed.push();
      armed.put();
    };
    if (this.dev.bug === 'skip-validation') {
      const raw = (args ?? {}) as { queue: number; units: number; flags: number; outSync: number };
      return body({ queue: Number(raw.queue), units: Math.max(1, Number(raw.units) || 1), flags: Number(raw.flags) || 0, outSync: Number(raw.outSync) });
    }
    return this.ioctl(TOY_SUBMIT, args, body);
  }
}

class ToyDevice extends DrmDevice<ToyFile> {
  readonly bug: ToyBug | null;
  readonly teardown: 'sync' | 'async';
  readonly allQueues: ToyQueue[] = [];
  readonly forgotten: ToyQueue[] = [];
  nextQueue = 1;
  constructor(rt: Runtime, teardown: 'sync' | 'async', bug: ToyBug | null) {
    super({ runtime: rt, memory: new DeviceMemory(rt, 'toy'), driverName: 'toy', name: 'toy0' });
    this.teardown = teardown;
    this.bug = bug;
  }
  protected override createFile(id: number): ToyFile {
    return new ToyFile(this, id);
  }
}

/** The toy adapter (`bug` null: a correct one). */
export function toyAdapter(bug: ToyBug | null = null): ConformanceAdapter {
  return {
    name: bug === null ? 'toy' : `toy(${bug})`,
    features: { failingJobs: false, hangingJobs: true, dependencies: false, teardown: ['sync', 'async'] },
    recoveryMs: 200,
    createDevice({ runtime, teardown }) {
      const dev = new ToyDevice(runtime, teardown, bug);
      return {
        drm: dev,
        async open(): Promise<ConformanceClient> {
          const f = dev.open();
          return {
            file: f,
            async createQueue(): Promise<ConformanceQueue> {
              const { queue } = await f.queueCreate({});
              return {
                label: `${f.label}/q${queue}`,
                async submit(job): Promise<Fence> {
                  const { handle: out } = await f.syncobjCreate();
                  try {
                    await f.submit({ queue, units: job.units, flags: job.kind === 'hang' ? TOY_SUBMIT_HANG : 0, outSync: out });
                    return f.syncobjs.lookup(out)!.fenceGet()!;
                  } finally {
                    await f.syncobjDestroy({ handle: out });
                  }
                },
                kill: () => f.queueDestroy({ queue }),
              };
            },
            async ioctls(): Promise<readonly IoctlCase[]> {
              const { queue } = await f.queueCreate({});
              const { handle: out } = await f.syncobjCreate();
              return [
                { schema: TOY_QUEUE_CREATE, valid: {}, call: (a) => f.queueCreate(a) },
                { schema: TOY_QUEUE_DESTROY, valid: { queue }, call: (a) => f.queueDestroy(a) },
                { schema: TOY_SUBMIT, valid: { queue, units: 1, flags: 0, outSync: out }, call: (a) => f.submit(a) },
              ];
            },
            async close() {
              if (!f.closed) await f.close();
            },
          };
        },
        async fini() {
          for (const q of dev.allQueues) if (!dev.forgotten.includes(q)) await q.dq.waitReleased();
        },
      };
    },
  };
}
