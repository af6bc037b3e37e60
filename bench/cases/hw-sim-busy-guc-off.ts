// Group "hw-sim-busy": simulated time per wall time on a busy 3-engine GuC workload. One
// op: one simulated millisecond, so simulated seconds per wall second = 1e6 / (ns per op).
// Checks off, no tracing. No baseline: the figure is absolute (compare it across changes
// of hw-sim on one machine, not across machines).
//
// The workload (also used by hw-sim-busy-guc-traced.ts): render, compute and copy engines,
// two contexts per engine (equal priority, 1 ms timeslices, so they preempt each other),
// each running jobs of [batch ≈ 0.2 ms, seqnoWrite, interrupt]. The interrupt handler plays
// the driver: it writes the context's next job and submits it (an H2G), so the engines
// never run dry. Cost jitter 10 %.
import { MemoryTraceSink, Runtime, type Checks } from '@dep/kernel';
import { createCommandRing, createGucDevice, type CommandRing } from '@dep/hw-sim';
import { defineCase } from '../case.js';

export interface BusyResult {
  /** Simulated ms run. */
  readonly simMs: number;
  readonly jobs: number;
  readonly events: number;
}

export async function runBusy(simMs: number, checks: Checks, traced: boolean): Promise<BusyResult> {
  const rt = new Runtime({ checks, seed: 1 });
  if (traced) rt.trace.attach(new MemoryTraceSink());
  const jitter = 0.1;
  const dev = createGucDevice(rt, {
    engines: { render: 1, compute: 1, copy: 1 },
    cost: { render: { perUnitMs: 0.01, jitter }, compute: { perUnitMs: 0.01, jitter }, copy: { perUnitMs: 0.01, jitter } },
  });
  const seq = dev.memory.allocNow('system', 4096);
  const rings: CommandRing[] = [];
  const seqnos: bigint[] = [];
  let jobs = 0;
  const emit = (id: number): void => {
    const s = ++seqnos[id]!;
    rings[id]!.write([
      { op: 'batch', units: 20 },
      { op: 'seqnoWrite', addr: seq.addr + id * 8, value: s },
      { op: 'interrupt', data: id },
    ]);
  };
  dev.requestIrq((ev) => {
    if (ev.kind !== 'user-interrupt') return;
    jobs++;
    emit(ev.ctxId);
    dev.fw.submit(ev.ctxId);
  });
  const classes = ['render', 'compute', 'copy'] as const;
  for (let id = 0; id < 6; id++) {
    rings.push(createCommandRing(256));
    seqnos.push(0n);
    dev.fw.registerContext({ id, engineClass: classes[id % 3]!, ring: rings[id]!, timesliceMs: 1 });
    emit(id);
    emit(id);
    dev.fw.enableScheduling(id);
  }
  const e0 = rt.executor.stats.events;
  await rt.advance(simMs);
  return { simMs: rt.now(), jobs, events: rt.executor.stats.events - e0 };
}

export default defineCase({
  name: 'guc-3-engines (off)',
  group: 'hw-sim-busy',
  ops: 1_000,
  async batch(n) {
    const r = await runBusy(n, 'off', false);
    return r.jobs > 0 ? r.simMs : -1;
  },
});
