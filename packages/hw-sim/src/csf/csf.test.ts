import { isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { createCommandRing, type Command } from '../commands.js';
import type { DeviceLostIrq } from '../irq.js';
import { traced } from '../__fixtures__/sim.js';
import { createCsfDevice } from './device.js';
import type { CsfGroup } from './group.js';
import { CSF_SYNC_STATUS_FAULT, type CsfConfig, type CsfIrq, type CsfPriority } from './types.js';

type Ev = CsfIrq | DeviceLostIrq;

function setup(config: CsfConfig = {}) {
  const { rt, sink } = traced();
  const dev = createCsfDevice(rt, { cost: { compute: { fixedMs: 0 } }, ...config });
  const irqs: Array<{ t: number; ev: Ev }> = [];
  dev.requestIrq((ev) => irqs.push({ t: rt.now(), ev }));
  const syncs = dev.memory.allocNow('system', 64 * 1024, { name: 'syncobjs' });
  let next = 0;
  const group = (cmds: Command[][], priority: CsfPriority = 'medium', name?: string): CsfGroup => {
    const g = dev.fw.createGroup({
      priority,
      ...(name === undefined ? {} : { name }),
      queues: cmds.map(() => ({ ring: createCommandRing(1024), syncAddr: syncs.addr + 16 * next++ })),
    });
    cmds.forEach((c, i) => {
      if (c.length > 0) {
        g.queues[i]!.ring.write(c);
        g.doorbell(i);
      }
    });
    return g;
  };
  return { rt, sink, dev, irqs, syncs, group };
}

function errCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isDepError(e) ? e.code : String(e);
  }
  return undefined;
}

describe('CSF-like firmware', () => {
  it('loads a group into a slot, runs its queues, updates sync objects and raises sync-update', async () => {
    const { rt, dev, irqs, group } = setup({ resumeLatencyMs: 0.25 });
    const g = group([
      [{ op: 'batch', units: 2 }],
      [{ op: 'batch', units: 1 }],
    ]);
    for (const q of g.queues) q.ring.write({ op: 'seqnoWrite', addr: q.syncAddr, value: 1n });
    g.doorbell(0);
    g.doorbell(1);
    await rt.runUntilIdle();
    expect(g.state).toBe('active');
    expect(g.slot).toBe(0);
    expect(g.queues.map((q) => q.readSync())).toEqual([
      { seqno: 1n, status: 0 },
      { seqno: 1n, status: 0 },
    ]);
    // Both queues ran in parallel on their streams, one sync-update per instant.
    expect(irqs.map((i) => [i.t, i.ev])).toEqual([
      [1.25, { kind: 'sync-update', groups: [g.id] }],
      [2.25, { kind: 'sync-update', groups: [g.id] }],
    ]);
    expect(dev.engine('csg0.cs1').name).toBe('csg0.cs1');
    expect(g.runtimeMs()).toBe(3);
  });

  it('rotates groups through the slots fairly over a long run (round-robin within a priority)', async () => {
    const { rt, dev, group } = setup({ slots: 2, tickMs: 10, suspendLatencyMs: 0.05, resumeLatencyMs: 0.05 });
    const groups = Array.from({ length: 6 }, (_, i) => group([[{ op: 'batch', units: 100_000 }]], 'medium', `g${i}`));
    await rt.advance(6000);
    const shares = groups.map((g) => g.runtimeMs());
    const total = shares.reduce((a, b) => a + b, 0);
    // Two slots busy all the time, minus save/load overheads: close to 2 × 6000 ms.
    expect(total).toBeGreaterThan(2 * 6000 * 0.98);
    for (const s of shares) {
      expect(s).toBeGreaterThan((total / 6) * 0.95);
      expect(s).toBeLessThan((total / 6) * 1.05);
    }
    expect(dev.fw.ticks).toBeGreaterThanOrEqual(590);
    expect(dev.stats.preemptions).toBeGreaterThan(500);
  });

  it('a higher priority takes a slot at the next tick; a real-time group evicts at once', async () => {
    const { rt, sink, group } = setup({ slots: 1, tickMs: 10, suspendLatencyMs: 0.5, resumeLatencyMs: 0.25 });
    const low = group([[{ op: 'batch', units: 100 }]], 'low', 'low');
    await rt.advance(3);
    const high = group([[{ op: 'batch', units: 1 }]], 'high', 'high');
    await rt.advance(20);
    const loads = () => sink.records.filter((r) => r.name === 'hw:csg' && (r.args as { op: string }).op === 'load').map((r) => [r.ts, (r.args as { group: number }).group]);
    // high waited for the tick at 10, low was suspended (0.5) then high loaded (0.25),
    // ran 1 ms, went idle at 11.75 and was suspended (0.5) for low to come back.
    expect(loads()).toEqual([
      [0, low.id],
      [10.5, high.id],
      [12.25, low.id],
    ]);
    const rtg = group([[{ op: 'batch', units: 1 }]], 'realtime', 'rt');
    await rt.advance(5);
    // Immediate tick at 23: low suspended (0.5), rt loaded; low comes back after rt is done.
    expect(loads().slice(3)).toEqual([
      [23.5, rtg.id],
      [23.5 + 0.25 + 1 + 0.5, low.id],
    ]);
    expect(rtg.runtimeMs()).toBe(1);
  });

  it('evicts an idle resident group as soon as another group waits', async () => {
    const { rt, sink, group } = setup({ slots: 1, tickMs: 10 });
    const a = group([[{ op: 'batch', units: 1 }]], 'high', 'a');
    await rt.advance(2);
    expect(a.resident).toBe(true);
    const b = group([[{ op: 'batch', units: 1 }]], 'low', 'b');
    await rt.runUntilIdle();
    const bLoad = sink.records.find((r) => r.name === 'hw:csg' && (r.args as { op: string; group: number }).op === 'load' && (r.args as { group: number }).group === b.id)!;
    expect(bLoad.ts).toBeCloseTo(2.05, 9);
    expect(a.state).toBe('suspended');
  });

  it('suspend saves progress and keeps the group out until resume', async () => {
    const { rt, group } = setup({ suspendLatencyMs: 0.5, resumeLatencyMs: 0 });
    const g = group([[{ op: 'batch', units: 10 }]]);
    await rt.advance(4);
    await rt.run(() => g.suspend());
    expect(rt.now()).toBe(4.5);
    expect(g.state).toBe('suspended');
    expect(g.resident).toBe(false);
    await rt.advance(100);
    expect(g.runtimeMs()).toBe(4.5);
    g.resume();
    await rt.runUntilIdle();
    // 4 ms ran before the save, the other 6 after resume.
    expect(rt.now()).toBe(104.5 + 6);
    expect(g.queues[0]!.state).toBe('idle');
  });

  it('a suspend that never finishes (hung queue) escalates to termination', async () => {
    const { rt, dev, irqs, group } = setup({ suspendTimeoutMs: 20 });
    dev.faults.hang({ site: 'hung.q1' });
    const g = group([[{ op: 'batch', units: 1 }], [{ op: 'batch', units: 1 }]], 'medium', 'hung');
    await rt.advance(5);
    const res = rt.run(() => g.suspend());
    await res;
    expect(rt.now()).toBe(25);
    expect(g.state).toBe('terminated');
    expect(irqs.map((i) => i.ev)).toContainEqual({ kind: 'group-fault', group: g.id, queueMask: 0b10, reason: 'suspend-timeout' });
    expect(dev.fw.slots).toEqual([null, null, null, null]);
    expect(errCode(() => g.doorbell(0))).toBe('ECANCELED');
  });

  it('terminate recovers from a hung queue: the slot frees and other groups run', async () => {
    const { rt, dev, group } = setup({ slots: 1 });
    dev.faults.hang({ site: 'bad.q0' });
    const bad = group([[{ op: 'batch', units: 1 }]], 'high', 'bad');
    const good = group([[{ op: 'batch', units: 1 }]], 'low', 'good');
    await rt.advance(50);
    expect(good.runtimeMs()).toBe(0);
    bad.terminate();
    await rt.runUntilIdle();
    expect(good.runtimeMs()).toBe(1);
    expect(bad.state).toBe('terminated');
  });

  it('a queue fault writes the sync status and terminates the group', async () => {
    const { rt, irqs, group } = setup();
    const g = group([[{ op: 'batch', units: 1 }, { op: 'seqnoWrite', addr: 0x40, value: 1n }]]);
    await rt.runUntilIdle();
    expect(g.queues[0]!.readSync()).toEqual({ seqno: 0n, status: CSF_SYNC_STATUS_FAULT });
    expect(irqs.map((i) => i.ev)).toEqual([
      { kind: 'group-fault', group: g.id, queueMask: 1, reason: 'page-fault' },
      { kind: 'sync-update', groups: [g.id] },
    ]);
    expect(g.state).toBe('terminated');
  });

  it('a firmware error on a slot request terminates the group (panthor escalates)', async () => {
    const { rt, dev, irqs, group } = setup();
    dev.faults.firmwareError({ site: 'csf:load', nth: 1 });
    const g = group([[{ op: 'batch', units: 1 }]]);
    const h = group([[{ op: 'batch', units: 1 }]]);
    await rt.runUntilIdle();
    expect(g.state).toBe('terminated');
    expect(irqs.map((i) => i.ev)).toContainEqual({ kind: 'group-fault', group: g.id, queueMask: 0, reason: 'fw-error' });
    expect(h.runtimeMs()).toBe(1);
  });

  it('rejects bad group descriptors with EINVAL and creates nothing', () => {
    const { dev, syncs } = setup({ maxQueuesPerGroup: 2 });
    const ring = () => createCommandRing(64);
    const cases = [
      () => dev.fw.createGroup({ queues: [] }),
      () => dev.fw.createGroup({ queues: [{ ring: ring(), syncAddr: syncs.addr }, { ring: ring(), syncAddr: syncs.addr + 16 }, { ring: ring(), syncAddr: syncs.addr + 32 }] }),
      () => dev.fw.createGroup({ queues: [{ ring: {} as never, syncAddr: syncs.addr }] }),
      () => dev.fw.createGroup({ queues: [{ ring: ring(), syncAddr: 0x10 }] }),
      () => dev.fw.createGroup({ queues: [{ ring: ring(), syncAddr: syncs.addr + 4 }] }),
      () => dev.fw.createGroup({ priority: 'urgent' as never, queues: [{ ring: ring(), syncAddr: syncs.addr }] }),
    ];
    for (const c of cases) expect(errCode(c)).toBe('EINVAL');
    const r = ring();
    const g = dev.fw.createGroup({ queues: [{ ring: r, syncAddr: syncs.addr }] });
    expect(errCode(() => dev.fw.createGroup({ queues: [{ ring: r, syncAddr: syncs.addr }] }))).toBe('EBUSY');
    expect(errCode(() => g.doorbell(1))).toBe('EINVAL');
    expect(dev.fw.groups).toEqual([g]);
  });
});
