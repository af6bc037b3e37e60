/**
 * rfc-designs B.2: eviction waits for an exported user fence U while the preempt fence P
 * suspends the very queue that must write U.
 */
import { DepError } from '@dep/kernel';
import type { Fence } from '@dep/dma-fence';
import { World, type ScenarioOptions, type ScenarioResult } from './world.js';

/**
 * The deadlock of B.2, run in virtual time. VM `vm0` runs user queue `vm0-q0`, which writes
 * seqno k at k × 10 ms (10 in all). At 0 ms userspace exports U = "seqno 5" as a dma-fence
 * into the VM's buffer `bo-X` (BOOKKEEP, Brost's scheme), beside the preempt fence P. At
 * 25 ms TTM evicts `bo-X` and waits for every fence in its resv:
 *
 * - `'none'`: the wait reaches P first (it was attached first); P preempts the queue at
 *   once; the eviction then waits for U, which the suspended queue cannot write; the rebind
 *   worker waits for the eviction before it can resume the queue. The wait-for graph
 *   reports the cycle U → eviction → U the moment it closes; at 5000 ms U's user-fence TDR
 *   signals it with -ETIME and kills the VM: seqnos 3…10 are lost.
 * - `'slot'` (P in the PREEMPT usage) and `'gate'` (P's worker waits for the last exported
 *   fence) and `'manager'` (the suspend work waits for it under the mutex): the queue keeps
 *   running until it writes seqno 5 (50 ms), only then is it preempted; the eviction, the
 *   rebind and the resume follow; all 10 seqnos are written.
 *
 * Then the VM is closed (one last preemption), so every published fence has signalled.
 */
export async function evictionScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const w = new World(options);
  const rt = w.rt;
  w.buffer('bo-X', true);
  w.reclaim = async () => {
    const k = w.evictions.get('bo-X');
    if (k !== undefined) await w.resumeWaitsFor(k, 'the eviction of bo-X (the VM needs it back)');
  };
  let u: Fence | null = null;
  rt.spawn('vm0-setup', async () => {
    w.queue.start();
    await w.armPreemptFence();
    u = await w.exportUserFence(5n, { vmResvs: true });
  });
  await rt.advance(25);
  w.log('memory pressure: TTM picks bo-X');
  w.evict('bo-X');
  await rt.runUntilIdle();
  await rt.run(() => w.close(), 'vm0-close');
  if (u === null) throw new DepError('EIO', 'scenario setup did not export the user fence');
  const result = w.result('eviction', u);
  await rt.run(() => w.teardown(), 'vm0-teardown');
  return result;
}
