/**
 * The mixed workload behind `no-leaks` and `no-lockdep`: every path an adapter has —
 * successful jobs on several clients, a failing and a hanging job (when supported), a
 * dependency across clients (when supported), a queue killed with work in flight, a
 * client closed with work in flight — so that every lock and every object lifetime of
 * the driver is exercised before the runtime shuts down.
 */
import type { CheckContext } from './check.js';
import type { Session } from './session.js';
import { openQueues, startLoad, submitLoad } from './workload.js';

/** Run the mixed workload in `s`; the session's teardown does the rest. */
export async function mixedWorkload(s: Session, ctx: CheckContext): Promise<void> {
  const { features } = ctx.adapter;
  const queues = await openQueues(s, 3, 2);
  const load = startLoad(s, queues, { jobs: ctx.jobs, tolerateRefusal: true });
  const victim = await s.open();
  if (features.failingJobs) await s.submit(await victim.createQueue(), { units: 1, kind: 'fail' });
  if (features.hangingJobs) await s.submit(await victim.createQueue(), { units: 1, kind: 'hang' });
  if (features.dependencies) {
    const first = await s.submit(queues[0]!.queue, { units: 5 });
    await s.submit(queues[2]!.queue, { units: 1, deps: [first] });
  }
  await s.rt.sleep(3);
  await queues[3]!.queue.kill();
  await s.rt.sleep(2);
  await s.close(queues[4]!.client);
  await load();
  await submitLoad(s, queues.slice(0, 2), { jobs: 2 });
}
