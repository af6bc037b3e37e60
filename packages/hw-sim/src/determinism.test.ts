import { traceHash } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { createAieDevice } from './aie/device.js';
import { createCommandRing } from './commands.js';
import { createCsfDevice } from './csf/device.js';
import { createGucDevice } from './guc/device.js';
import { job, traced } from './__fixtures__/sim.js';

interface Knobs {
  readonly seed: number;
  readonly jitter: number;
  readonly chaos?: boolean;
  readonly faults?: boolean;
}

/** A busy mixed workload on all three firmware models; returns the trace hash and what was injected. */
async function workload(k: Knobs) {
  const { rt, sink } = traced({ seed: k.seed, chaos: k.chaos ?? false, checks: 'warn' });
  const cost = { render: { jitter: k.jitter }, compute: { jitter: k.jitter }, copy: { jitter: k.jitter }, npu: { jitter: k.jitter } };

  const guc = createGucDevice(rt, { cost, engines: { render: 1, compute: 1, copy: 1 } });
  guc.requestIrq(() => undefined);
  const seq = guc.memory.allocNow('system', 4096);
  if (k.faults === true) {
    guc.faults.stall({ probability: 0.3, ms: 2 });
    guc.faults.firmwareError({ site: 'guc:submit', probability: 0.2 });
  }
  const classes = ['render', 'compute', 'copy'] as const;
  for (let id = 0; id < 6; id++) {
    const ring = createCommandRing(256);
    guc.fw.registerContext({ id, engineClass: classes[id % 3]!, ring, priority: (id % 4) as 0 | 1 | 2 | 3 });
    guc.fw.enableScheduling(id);
    for (let j = 1; j <= 4; j++) ring.write(job(1 + ((id + j) % 3), seq.addr + id * 8, BigInt(j)));
  }
  for (let id = 0; id < 6; id++) guc.fw.submit(id);

  const csf = createCsfDevice(rt, { cost, slots: 1, tickMs: 2 });
  csf.requestIrq(() => undefined);
  const syncs = csf.memory.allocNow('system', 4096);
  for (let g = 0; g < 3; g++) {
    const ring = createCommandRing(256);
    const grp = csf.fw.createGroup({ queues: [{ ring, syncAddr: syncs.addr + g * 16 }] });
    for (let j = 1; j <= 3; j++) ring.write([{ op: 'batch', units: 3 }, { op: 'seqnoWrite', addr: syncs.addr + g * 16, value: BigInt(j) }]);
    grp.doorbell();
  }

  const aie = createAieDevice(rt, { cost });
  if (k.faults === true) aie.faults.firmwareError({ site: 'aie:execbuf', probability: 0.25 });
  const statuses: string[] = [];
  const run = rt.run(async () => {
    const ctxs = await Promise.all([aie.fw.createContext({ columns: 1 }), aie.fw.createContext({ columns: 2 })]);
    for (const c of ctxs) for (let j = 0; j < 4; j++) c.mailbox.send({ opcode: 'execbuf', units: 2 }, (r) => statuses.push(`${c.name}:${r.status}`));
  });
  await run;
  await rt.runUntilIdle();
  return {
    hash: traceHash(sink.records),
    events: sink.records.length,
    injected: [...guc.faults.injected, ...aie.faults.injected].map((f) => `${f.kind}@${f.site}@${f.time}`),
    statuses,
    end: rt.now(),
  };
}

describe('determinism', () => {
  it('same seed ⇒ same trace (byte for byte), also with jitter, chaos and probabilistic faults', async () => {
    for (const knobs of [{ seed: 7, jitter: 0 }, { seed: 7, jitter: 0.3 }, { seed: 11, jitter: 0.3, chaos: true, faults: true }]) {
      const a = await workload(knobs);
      const b = await workload(knobs);
      expect(a.events).toBeGreaterThan(200);
      expect(b).toEqual(a);
    }
  });

  it('different seeds with jitter ⇒ different traces; without jitter or faults the seed does not matter', async () => {
    const a = await workload({ seed: 1, jitter: 0.3 });
    const b = await workload({ seed: 2, jitter: 0.3 });
    expect(b.hash).not.toBe(a.hash);
    expect(b.end).not.toBe(a.end);
    const c = await workload({ seed: 1, jitter: 0 });
    const d = await workload({ seed: 2, jitter: 0 });
    expect(d.hash).toBe(c.hash);
  });

  it('same seed ⇒ same injected faults; different seed ⇒ different ones', async () => {
    const a = await workload({ seed: 5, jitter: 0, faults: true });
    const b = await workload({ seed: 5, jitter: 0, faults: true });
    const c = await workload({ seed: 6, jitter: 0, faults: true });
    expect(a.injected.length).toBeGreaterThan(0);
    expect(b.injected).toEqual(a.injected);
    expect(b.statuses).toEqual(a.statuses);
    expect(c.injected).not.toEqual(a.injected);
  });
});
