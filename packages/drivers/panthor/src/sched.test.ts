import type { Fence } from '@dep/dma-fence';
import { DmaResvUsage } from '@dep/dma-resv';
import { describe, expect, it } from 'vitest';
import { client, errnoOf, fenceOf, qs, queue, setup, signal, teardown, waitAll } from './__fixtures__/setup.js';
import type { PanthorFile } from './device.js';
import { PanthorGroupState } from './uapi.js';

const ETIMEDOUT = -110;
const EINVAL = -22;

async function outSyncs(file: PanthorFile, n: number): Promise<number[]> {
  const s: number[] = [];
  for (let i = 0; i < n; i++) s.push((await file.syncobjCreate()).handle);
  return s;
}

describe('arm every job, then add fences and push', () => {
  for (const inactive of [false, true]) {
    it(`arm order == resv order == push order across the queues of a batch${inactive ? ' (INACTIVE variant: push, then publish)' : ''}`, async () => {
      const env = setup({ inactiveFences: inactive });
      const { rt, dev, sink } = env;
      const { file, vmId } = await rt.run(() => client(dev));
      await rt.run(async () => {
        const { groupHandle } = await file.groupCreate({ vmId, queues: [queue(), queue(), queue()] });
        const g = file.groups.lookup(groupHandle)!;
        const s = await outSyncs(file, 3);
        const mark = sink.records.length;
        // Batch order q2, q0, q1: arm and push follow the batch, whatever the queue index.
        await file.groupSubmit({ groupHandle, queueSubmits: [qs(2, 5, [signal(s[0]!)]), qs(0, 5, [signal(s[1]!)]), qs(1, 5, [signal(s[2]!)])] });
        const ev = sink.records.slice(mark).filter((r) => r.name === 'drm_dep:job_arm' || r.name === 'drm_dep:job_push').map((r) => `${r.name === 'drm_dep:job_arm' ? 'arm' : 'push'} ${(r.args as { queue: string }).queue}`);
        const q = (i: number) => g.queues[i]!.dq.name;
        const armAll = [`arm ${q(2)}`, `arm ${q(0)}`, `arm ${q(1)}`];
        const pushAll = [`push ${q(2)}`, `push ${q(0)}`, `push ${q(1)}`];
        expect(ev).toEqual([...armAll, ...pushAll]);
        // The VM resv holds the three finished fences, BOOKKEEP, in batch (= arm = push) order.
        const snap = g.vm.resv.getFences(DmaResvUsage.BOOKKEEP);
        const inResv = snap.map((f) => f.context);
        for (const f of snap) f.put();
        expect(inResv).toEqual([g.queues[2]!.dq.context, g.queues[0]!.dq.context, g.queues[1]!.dq.context]);
        // The out-syncs hold the same finished fences.
        const fences = s.map((h) => fenceOf(file, h));
        expect(fences.map((f) => f.context)).toEqual(inResv);
        await waitAll(file, s);
        for (const f of fences) f.put();
      });
      expect(await teardown(env, [file])).toEqual([]);
    });
  }

  it('a job may wait for a syncobj that an earlier job of the same batch signals (intra-batch dependency)', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const out = await rt.run(async () => {
      const { groupHandle } = await file.groupCreate({ vmId, queues: [queue(), queue()] });
      const [a, b] = await outSyncs(file, 2);
      await file.groupSubmit({
        groupHandle,
        queueSubmits: [qs(0, 20, [signal(a!)]), qs(1, 3, [{ flags: 0, handle: a!, timelineValue: 0n }, signal(b!)])],
      });
      const fa = fenceOf(file, a!);
      const fb = fenceOf(file, b!);
      await waitAll(file, [a!, b!]);
      const r = { ta: fa.timestamp(), tb: fb.timestamp() };
      fa.put();
      fb.put();
      return r;
    });
    // q1's 3 ms job ran after q0's 20 ms one although its own queue was idle.
    expect(out.tb - out.ta).toBeGreaterThanOrEqual(3);
    expect(await teardown(env, [file])).toEqual([]);
  });
});

describe('slots', () => {
  it('more groups than slots: the firmware rotates them and every job of every group completes', async () => {
    const env = setup({ csf: { slots: 2, tickMs: 10 } });
    const { rt, dev } = env;
    const files: PanthorFile[] = [];
    const all: Fence[] = [];
    await rt.run(async () => {
      for (let c = 0; c < 3; c++) {
        const { file, vmId } = await client(dev);
        files.push(file);
        for (let k = 0; k < 2; k++) {
          const { groupHandle } = await file.groupCreate({ vmId, queues: [queue(), queue()] });
          for (let j = 0; j < 4; j++) {
            const s = await outSyncs(file, 1);
            await file.groupSubmit({ groupHandle, queueSubmits: [qs(j % 2, 7, [signal(s[0]!)])] });
            all.push(fenceOf(file, s[0]!));
          }
        }
      }
    });
    expect(dev.groups.length).toBe(6);
    await rt.runUntilIdle();
    expect(all.map((f) => f.getStatus())).toEqual(all.map(() => 1));
    expect(dev.gpu.stats.preemptions).toBeGreaterThan(0);
    for (const f of all) f.put();
    expect(await teardown(env, files)).toEqual([]);
  });
});

describe('progress timeout', () => {
  it('a hung queue: 5 s without progress → the group is terminated (TIMEDOUT), its fences fail, other clients are unaffected', async () => {
    const env = setup();
    const { rt, dev } = env;
    const bad = await rt.run(() => client(dev));
    const good = await rt.run(() => client(dev));
    const r = await rt.run(async () => {
      const { groupHandle: bg } = await bad.file.groupCreate({ vmId: bad.vmId, queues: [queue(), queue()] });
      const { groupHandle: gg } = await good.file.groupCreate({ vmId: good.vmId, queues: [queue()] });
      const g = bad.file.groups.lookup(bg)!;
      dev.gpu.faults.hang({ site: `${g.hwName}.q0` });
      const bs = await outSyncs(bad.file, 3);
      const gs = await outSyncs(good.file, 1);
      // q0 hangs; q1 finishes its first job, its second is queued behind the hang's end.
      await bad.file.groupSubmit({ groupHandle: bg, queueSubmits: [qs(0, 5, [signal(bs[0]!)]), qs(1, 2, [signal(bs[1]!)])] });
      await bad.file.groupSubmit({ groupHandle: bg, queueSubmits: [qs(0, 5, [signal(bs[2]!)])] });
      await good.file.groupSubmit({ groupHandle: gg, queueSubmits: [qs(0, 8, [signal(gs[0]!)])] });
      const fb = bs.map((h) => fenceOf(bad.file, h));
      const fg = fenceOf(good.file, gs[0]!);
      await waitAll(good.file, gs);
      const goodDone = rt.now();
      await waitAll(bad.file, bs);
      const out = {
        goodDone,
        goodStatus: fg.getStatus(),
        badStatus: fb.map((f) => f.getStatus()),
        badTs: fb[0]!.timestamp(),
        state: await bad.file.groupGetState({ groupHandle: bg }),
        goodState: await good.file.groupGetState({ groupHandle: gg }),
      };
      for (const f of [...fb, fg]) f.put();
      // A new submit to the dead group: its fence fails too (the group can no longer run).
      const late = await outSyncs(bad.file, 1);
      await bad.file.groupSubmit({ groupHandle: bg, queueSubmits: [qs(1, 1, [signal(late[0]!)])] });
      await waitAll(bad.file, late);
      const fl = fenceOf(bad.file, late[0]!);
      const lateStatus = fl.getStatus();
      fl.put();
      return { ...out, lateStatus };
    });
    expect(r.goodStatus).toBe(1);
    expect(r.goodDone).toBeLessThan(100);
    // q1's job completed normally; q0's jobs failed with -ETIMEDOUT after 5 s resident.
    expect(r.badStatus).toEqual([ETIMEDOUT, 1, ETIMEDOUT]);
    expect(r.badTs).toBeGreaterThanOrEqual(5000);
    expect(r.badTs).toBeLessThan(5100);
    expect(r.state).toEqual({ state: PanthorGroupState.TIMEDOUT, fatalQueues: 0 });
    expect(r.goodState).toEqual({ state: 0, fatalQueues: 0 });
    expect(r.lateStatus).toBeLessThan(0);
    expect(dev.stats.progressTimeouts).toBe(1);
    expect(await teardown(env, [bad.file, good.file])).toEqual([]);
  });

  it('fires at whatever fractional instants the group loaded and the timer was armed (a rounding residue of the resident-time sums re-queued the work at the same instant forever)', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const r = await rt.run(async () => {
      const out: { status: number; late: number }[] = [];
      // Groups loaded at instants with fractional parts past 5000 ms (5000.32: 10000.32 − 5000.32 is 4999.999999999999).
      await rt.sleep(5000.32 - rt.now());
      for (let i = 0; i < 12; i++) {
        await rt.sleep(Math.ceil(rt.now()) + 0.32 + 0.01 * i - rt.now());
        const { groupHandle } = await file.groupCreate({ vmId, queues: [queue()] });
        dev.gpu.faults.hang({ site: `${file.groups.lookup(groupHandle)!.hwName}.q0`, nth: 1 });
        const [h] = await outSyncs(file, 1);
        await file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 1 + (i % 3), [signal(h!)])] });
        const f = fenceOf(file, h!);
        const t0 = rt.now();
        await waitAll(file, [h!]);
        out.push({ status: f.getStatus(), late: f.timestamp() - t0 });
        f.put();
        await file.groupDestroy({ groupHandle });
        await file.syncobjDestroy({ handle: h! });
      }
      return out;
    });
    for (const { status, late } of r) {
      expect(status).toBe(ETIMEDOUT);
      expect(late).toBeGreaterThanOrEqual(5000);
      expect(late).toBeLessThan(5100);
    }
    expect(await teardown(env, [file])).toEqual([]);
  }, 30_000);

  it('the timer counts resident time only: a group kept off its slot is not timed out', async () => {
    // One slot, a real-time hog keeps a low group out for 6 s; the low group's job needs 1 ms.
    const env = setup({ csf: { slots: 1, tickMs: 10 } });
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const r = await rt.run(async () => {
      const { groupHandle: hog } = await file.groupCreate({ vmId, priority: 3, queues: [queue()] });
      const { groupHandle: low } = await file.groupCreate({ vmId, priority: 0, queues: [queue()] });
      const s = await outSyncs(file, 2);
      await file.groupSubmit({ groupHandle: hog, queueSubmits: Array.from({ length: 3 }, () => qs(0, 2000)) });
      await file.groupSubmit({ groupHandle: hog, queueSubmits: [qs(0, 1, [signal(s[0]!)])] });
      await rt.sleep(1);
      await file.groupSubmit({ groupHandle: low, queueSubmits: [qs(0, 1, [signal(s[1]!)])] });
      const f = s.map((h) => fenceOf(file, h));
      await waitAll(file, s);
      const out = { status: f.map((x) => x.getStatus()), t: f[1]!.timestamp(), state: await file.groupGetState({ groupHandle: low }) };
      for (const x of f) x.put();
      return out;
    });
    expect(r.status).toEqual([1, 1]);
    expect(r.t).toBeGreaterThan(6000);
    expect(r.state.state).toBe(0);
    expect(dev.stats.progressTimeouts).toBe(0);
    expect(await teardown(env, [file])).toEqual([]);
  });
});

describe('faults', () => {
  it('a stream address the VM does not map: the queue faults, the group is FATAL with that queue in the mask', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const r = await rt.run(async () => {
      const { groupHandle } = await file.groupCreate({ vmId, queues: [queue(), queue()] });
      const s = await outSyncs(file, 2);
      await file.groupSubmit({ groupHandle, queueSubmits: [{ ...qs(1, 4, [signal(s[0]!)]), streamAddr: 0x4000_0000n }, qs(0, 50, [signal(s[1]!)])] });
      const f = s.map((h) => fenceOf(file, h));
      await waitAll(file, s);
      const out = { status: f.map((x) => x.getStatus()), state: await file.groupGetState({ groupHandle }) };
      for (const x of f) x.put();
      return out;
    });
    expect(r.status[0]).toBe(EINVAL);
    expect(r.status[1]).toBeLessThan(0); // the other queue of the group dies with it
    expect(r.state).toEqual({ state: PanthorGroupState.FATAL_FAULT, fatalQueues: 0b10 });
    expect(await teardown(env, [file])).toEqual([]);
  });
});

describe('group destroy', () => {
  it('with jobs on the ring and one queued behind a dependency: every fence signals with an error, nothing leaks', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const r = await rt.run(async () => {
      const { groupHandle } = await file.groupCreate({ vmId, queues: [queue(), queue()] });
      const { groupHandle: other } = await file.groupCreate({ vmId, queues: [queue()] });
      const [gate, ...s] = await outSyncs(file, 4);
      await file.groupSubmit({ groupHandle: other, queueSubmits: [qs(0, 200, [signal(gate!)])] });
      await file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 100, [signal(s[0]!)]), qs(0, 100, [signal(s[1]!)])] });
      // Queued on q1 behind the other group's 200 ms job.
      await file.groupSubmit({ groupHandle, queueSubmits: [qs(1, 5, [{ flags: 0, handle: gate!, timelineValue: 0n }, signal(s[2]!)])] });
      await rt.sleep(10);
      const f = s.map((h) => fenceOf(file, h));
      const gateFence = fenceOf(file, gate!);
      await file.groupDestroy({ groupHandle });
      await waitAll(file, s);
      const out = { status: f.map((x) => x.getStatus()), t: f.map((x) => x.timestamp()), gateAt: gateFence.timestamp() };
      for (const x of [...f, gateFence]) x.put();
      out.status.push(await errnoOf(file.groupGetState({ groupHandle })) === 'EINVAL' ? 1 : 0);
      return out;
    });
    // On the ring: -ECANCELED at once. Queued: -ESRCH, only once its dependency signalled.
    expect(r.status).toEqual([-125, -125, -3, 1]);
    expect(r.t[0]).toBeLessThan(11);
    expect(r.t[2]).toBeGreaterThanOrEqual(r.gateAt);
    await rt.runUntilIdle();
    expect(dev.groups.length).toBe(1);
    expect(await teardown(env, [file])).toEqual([]);
  });

  it('closing the file destroys its groups and VMs with jobs still pending', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const r = await rt.run(async () => {
      const { groupHandle } = await file.groupCreate({ vmId, queues: [queue()] });
      const s = await outSyncs(file, 2);
      await file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 1000, [signal(s[0]!)]), qs(0, 1000, [signal(s[1]!)])] });
      const f = s.map((h) => fenceOf(file, h));
      await rt.sleep(10);
      await file.close();
      await rt.sleep(1);
      const out = { status: f.map((x) => x.getStatus()), t: rt.now() };
      for (const x of f) x.put();
      return out;
    });
    expect(r.status.map((x) => x < 0)).toEqual([true, true]);
    expect(r.t).toBeLessThan(1000);
    expect(dev.groups).toEqual([]);
    expect(await teardown(env, [])).toEqual([]);
  });
});
