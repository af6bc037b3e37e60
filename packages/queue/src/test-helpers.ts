// Shared set-up of the queue's own tests (not exported from the package).
import { Runtime, type Checks } from '@dep/kernel';
import type { DmaFenceOps, Fence } from '@dep/dma-fence';
import { DepQueue } from './queue.js';
import { MockDriver, MockHw, MockJob, type MockDriverOptions } from './testing.js';
import type { DepQueueOptions } from './types.js';

/** Ops of the plain fences the tests make. */
export const ops: DmaFenceOps = { getDriverName: () => 'test', getTimelineName: () => 'test' };

/** Options of {@link setup}: the queue's, plus the runtime's and the mock driver's. */
export type SetupOptions = Partial<DepQueueOptions<MockJob>> & {
  checks?: Checks;
  seed?: number;
  chaos?: boolean;
  driver?: MockDriverOptions;
};

/** A runtime, mock hardware, mock driver and one queue `q0` (credit limit 8). */
export function setup(options: SetupOptions = {}) {
  const rt = new Runtime({ checks: options.checks ?? 'strict', seed: options.seed ?? 1, chaos: options.chaos ?? false });
  const hw = new MockHw({ runtime: rt });
  const drv = new MockDriver(hw, options.driver);
  const q = new DepQueue<MockJob>({ runtime: rt, name: 'q0', creditLimit: 8, ...options, ops: options.ops ?? drv.ops });
  return { rt, hw, drv, q };
}

/** init → add dependencies → arm → push → put: returns the job and its finished fence (with a reference). */
export function submit(q: DepQueue<MockJob>, opts: { duration?: number; credits?: number; deps?: Fence[] } = {}): { job: MockJob; fence: Fence } {
  const job = new MockJob(q, { ...(opts.duration === undefined ? {} : { duration: opts.duration }), ...(opts.credits === undefined ? {} : { credits: opts.credits }) });
  for (const d of opts.deps ?? []) job.addDependency(d.get());
  const armed = job.arm();
  const fence = armed.finishedFence().get();
  armed.push();
  armed.put();
  return { job, fence };
}
