import { describe, expect, it } from 'vitest';
import { runKernelScenario } from './kernel.js';

describe('kernel scenario', () => {
  it('lockdep reports the AB-BA order and the reclaim allocation, and nothing else', async () => {
    const { reports, deadlocked } = await runKernelScenario(1);
    expect(deadlocked).toBe(false);
    expect(reports.map((r) => r.kind)).toEqual(['lockdep', 'lockdep']);
    const text = reports.map((r) => r.message).join('\n');
    expect(text).toMatch(/possible circular locking dependency detected.*ring_lock.*vm_lock/);
    expect(text).toMatch(/GFP_KERNEL on a WQ_MEM_RECLAIM worker/);
    expect(reports).toHaveLength(2);
  });

  it('under another seed the predicted AB-BA deadlock happens and the stall guard names the cycle', async () => {
    const { reports, deadlocked, lines } = await runKernelScenario(2);
    expect(deadlocked).toBe(true);
    const stall = reports.find((r) => r.kind === 'stall')!;
    expect(stall.details.join('\n')).toMatch(/deadlock: kworker\/submit:0\/\d+ -> Mutex vm_lock -> kworker\/cleanup:0\/\d+ -> Mutex ring_lock/);
    expect(reports.filter((r) => r.kind === 'leak').map((r) => r.message).join('\n')).toMatch(/workqueue object created at kernel scenario: submit wq still alive/);
    expect(lines.at(-1)).toMatch(/deadlock: 3 task\(s\) blocked/);
  });

  it('every submit job ran in order and the run ends with the queues destroyed', async () => {
    const { lines, deadlocked } = await runKernelScenario(7);
    expect(deadlocked).toBe(false);
    const submitted = lines.filter((l) => /job \d: submitted/.test(l)).map((l) => /job (\d)/.exec(l)![1]);
    expect(submitted).toEqual(['1', '2', '3']);
    expect(lines.at(-1)).toMatch(/workqueues destroyed/);
    expect(lines.filter((l) => l.includes('watchdog tick'))).toHaveLength(3);
  });

  it('same seed, same trace; other seeds may interleave differently', async () => {
    const a = await runKernelScenario(5);
    const b = await runKernelScenario(5);
    expect(a.hash).toBe(b.hash);
    expect(a.lines).toEqual(b.lines);
    const hashes = new Set<string>();
    for (let seed = 1; seed <= 8; seed++) hashes.add((await runKernelScenario(seed)).hash);
    expect(hashes.size).toBeGreaterThan(1);
  });
});
