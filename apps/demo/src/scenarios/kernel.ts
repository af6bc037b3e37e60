import {
  DelayedWork,
  GFP_KERNEL,
  isDepError,
  MemoryTraceSink,
  Mutex,
  Runtime,
  Timer,
  Work,
  Workqueue,
  traceHash,
  type Report,
  type TraceRecord,
} from '@dep/kernel';
import { judge, makeResult } from '../result.js';
import type { HarnessFaults, Scenario, ScenarioOptions, ScenarioResult } from './index.js';

/**
 * The kernel runtime on its own, in virtual time: two workqueues (an ordered
 * WQ_MEM_RECLAIM "submit" queue, as drm_dep uses, and an unbound "cleanup" queue), a
 * periodic watchdog timer, and two mistakes lockdep catches in `warn` mode — an AB-BA lock
 * order between the two queues' work items, and a GFP_KERNEL allocation on the reclaim
 * queue.
 */
export async function runKernelScenario(
  seed: number,
  options: { readonly chaos?: boolean; readonly faults?: boolean; readonly harnessFaults?: HarnessFaults } = {},
): Promise<{ lines: string[]; reports: readonly Report[]; hash: string; deadlocked: boolean; records: readonly TraceRecord[]; chaos: boolean }> {
  const chaos = options.chaos ?? true;
  const rt = new Runtime({ seed, chaos, checks: 'warn', name: 'kernel-demo' });
  const trace = new MemoryTraceSink();
  rt.trace.attach(trace);
  // --faults: one allocation in five fails (seeded); the scenario's one GFP_KERNEL
  // allocation then fails with ENOMEM and its work item unwinds.
  if (options.faults === true) rt.faults.failAlloc({ probability: 0.2, site: 'submit: grow dependency array' });
  const lines: string[] = [];
  const say = (line: string): void => {
    lines.push(`${rt.now().toFixed(0).padStart(5)} ms  ${rt.current.name.padEnd(18)} ${line}`);
  };

  const submit = new Workqueue(rt, 'submit', { ordered: true, memReclaim: true, site: 'kernel scenario: submit wq' });
  const cleanup = new Workqueue(rt, 'cleanup', { maxActive: 2, site: 'kernel scenario: cleanup wq' });
  const ringLock = new Mutex(rt, 'ring_lock');
  const vmLock = new Mutex(rt, 'vm_lock');
  // Set-up done (the workqueues exist): the harness's allocation faults from here on.
  options.harnessFaults?.arm(rt);

  let ticks = 0;
  const watchdog = new Timer(rt, (t) => {
    ticks++;
    say(`watchdog tick ${ticks}: submit queued=${submit.queued} cleanup active=${cleanup.active}`);
    if (ticks < 3) t.mod(10);
  }, 'watchdog');
  watchdog.mod(10);

  // ring_lock -> vm_lock on the submit queue …
  const submitJob = (n: number): Work =>
    new Work(async () => {
      await ringLock.lock();
      say(`job ${n}: ring_lock held, taking vm_lock`);
      await vmLock.lock();
      await rt.sleep(3);
      vmLock.unlock();
      ringLock.unlock();
      say(`job ${n}: submitted`);
    }, `submit-job-${n}`);

  // … and vm_lock -> ring_lock on the cleanup queue: lockdep closes the cycle.
  const retire = new DelayedWork(async () => {
    await vmLock.lock();
    say('retire: vm_lock held, taking ring_lock');
    await ringLock.lock();
    ringLock.unlock();
    vmLock.unlock();
    say('retire: done');
  }, 'retire');

  // An allocation that may recurse into reclaim, on the queue reclaim waits for.
  // Under faults the allocation fails (ENOMEM) and the work item unwinds: nothing was changed.
  const grow = new Work(() => {
    try {
      rt.alloc(GFP_KERNEL, 'submit: grow dependency array');
    } catch (e) {
      if (!isDepError(e, 'ENOMEM')) throw e;
      say('grow: the GFP_KERNEL allocation failed (ENOMEM); the work item gives up, nothing changed');
      return;
    }
    say('grow: allocated with GFP_KERNEL on a WQ_MEM_RECLAIM worker');
  }, 'grow');

  const main = rt.spawn('main', async () => {
    for (let n = 1; n <= 3; n++) submit.queueWork(submitJob(n));
    submit.queueWork(grow);
    cleanup.queueDelayedWork(retire, 4);
    say('queued 3 submit jobs, 1 allocation and a delayed retire');
    await submit.flush();
    say('submit queue flushed');
    await rt.sleep(25);
    await submit.destroy();
    await cleanup.destroy();
    say('workqueues destroyed');
  });
  // Under some seeds the AB-BA order lockdep predicted really deadlocks: the stall guard
  // then reports who waits for whom, and what was never torn down leaks at shutdown.
  const idle = await rt.runUntilIdle();
  const deadlocked = !main.finished;
  if (deadlocked) say(`deadlock: ${idle.stalled.length} task(s) blocked with nothing left to run`);
  rt.shutdown();
  return { lines, reports: rt.reports.list, hash: traceHash(trace.records), deadlocked, records: trace.records, chaos };
}

export const kernelScenario: Scenario = {
  name: 'kernel',
  summary: 'the runtime alone: two workqueues, a timer, lockdep catching an AB-BA order and a reclaim allocation',
  // The lockdep splats are the point; a seed that really deadlocks never destroys its workqueues.
  demonstrates: () => ['no-lockdep', 'no-leak'],
  faultKinds: ['alloc'],
  faultKindsWhy: 'the runtime alone, demonstrating lockdep: no device, firmware or context to hang, fault, kill or lose',
  async run(opts: ScenarioOptions): Promise<ScenarioResult> {
    const { seed, log, colors } = opts;
    const { lines, reports, deadlocked, records, chaos } = await runKernelScenario(seed, {
      ...(opts.chaos === undefined ? {} : { chaos: opts.chaos }),
      ...(opts.faults === undefined ? {} : { faults: opts.faults }),
      ...(opts.harnessFaults === undefined ? {} : { harnessFaults: opts.harnessFaults }),
    });
    log(colors.dim('virtual time   task               event'));
    for (const line of lines) log(line);
    const trace = { label: 'kernel', records, reports };
    const base = judge([trace], reports);
    return makeResult('kernel', opts, {
      traces: [trace],
      reports,
      chaos,
      verdict: deadlocked
        ? { ok: false, outcome: 'deadlock', detail: 'the AB-BA order lockdep reported really deadlocked under this seed' }
        : base.ok
          ? { ok: true, outcome: 'completed', detail: 'ran to completion; lockdep still caught the AB-BA order before it could deadlock' }
          : base,
    });
  },
};
