/**
 * rfc-designs B.3: a kernel job in *another client's* resv waits on the exported user fence
 * through a syncobj — the case Christian König said the resv-slot design cannot handle.
 */
import { Syncobj, fenceWaitsOn } from '@dep/dma-fence';
import { DmaResvUsage } from '@dep/dma-resv';
import { DepError } from '@dep/kernel';
import type { Fence } from '@dep/dma-fence';
import { World, type ScenarioOptions, type ScenarioResult } from './world.js';

/**
 * The foreign-resv case of B.3, in virtual time. As in {@link evictionScenario}, queue
 * `vm0-q0` writes seqno k at k × 10 ms; but U = "seqno 5" is exported only into a syncobj
 * (AMD's design: no VM resv holds it). Client 2 submits a kernel job F that waits for the
 * syncobj's fence; F sits in client 2's buffer `bo-Z` (WRITE). At 25 ms TTM evicts the
 * VM's `bo-X`, whose resv holds P and nothing else; the rebind then needs memory and TTM
 * picks `bo-Z`, whose eviction waits for F, which waits for U:
 *
 * - `'slot'` (and `'none'`): nothing orders P after U — they never share a resv — so the
 *   queue is preempted at 25 ms; U ← resume ← eviction of bo-Z ← F ← U: a cycle, reported
 *   when it closes; the TDR fires at 5000 ms and kills the VM.
 * - `'gate'` and `'manager'`: P waits for the last exported fence wherever its waiters
 *   are; the queue writes seqno 5 at 50 ms, F runs, then the preemption, evictions and
 *   resume go through; nothing is lost.
 */
export async function foreignResvScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const w = new World(options);
  const rt = w.rt;
  w.buffer('bo-X', true);
  const z = w.buffer('bo-Z', false);
  const syncobj = Syncobj.create({ runtime: rt });
  w.reclaim = async () => {
    const kx = w.evictions.get('bo-X');
    if (kx !== undefined) await w.resumeWaitsFor(kx, 'the eviction of bo-X');
    w.log('rebind: not enough memory; TTM picks bo-Z of client 2');
    await w.resumeWaitsFor(w.evict('bo-Z'), 'the eviction of bo-Z (client 2)');
  };
  let u: Fence | null = null;
  rt.spawn('vm0-setup', async () => {
    w.queue.start();
    await w.armPreemptFence();
    u = await w.exportUserFence(5n, { vmResvs: false });
    syncobj.replaceFence(u);
    w.log(`syncobj holds ${w.label(u)}; no resv of the VM does`);
    // Client 2: a kernel job F on bo-Z that depends on the syncobj.
    const f = w.kernelFence('client2', 'kernel-job');
    await w.install(z, f, DmaResvUsage.WRITE);
    w.log(`client 2: kernel job ${w.label(f)} in bo-Z waits on the syncobj`);
    rt.spawn('client2-job', async () => {
      const dep = await syncobj.findFence(0n);
      const edge = fenceWaitsOn(f, dep, 'kernel job of client 2 depends on the syncobj fence');
      await dep.wait();
      edge.remove();
      if (dep.getStatus() < 0) f.setError(dep.getStatus());
      dep.put();
      await rt.sleep(2);
      w.log(`client 2: kernel job ${w.label(f)} done${f.error < 0 ? ` with error ${f.error}` : ''}`);
      f.signal();
    });
  });
  await rt.advance(25);
  w.log('memory pressure: TTM picks bo-X');
  w.evict('bo-X');
  await rt.runUntilIdle();
  await rt.run(() => w.close(), 'vm0-close');
  if (u === null) throw new DepError('EIO', 'scenario setup did not export the user fence');
  const result = w.result('foreign-resv', u);
  syncobj.put();
  await rt.run(() => w.teardown(), 'teardown');
  return result;
}
