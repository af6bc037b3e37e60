// Priority 2: the TDR with the running-time check, bans, GuC engine resets, kill.
import { describe, expect, it } from 'vitest';
import { BO_VA, client, errnoOf, execWithFence, setup, teardown } from './__fixtures__/setup.js';
import { XeEngineClass } from './uapi.js';

const ETIME = -62;
const ECANCELED = -125;

describe('TDR', () => {
  it('a hang: the TDR samples the running time, bans the queue (-ETIME, then -ECANCELED); another client on another engine completes', async () => {
    const { rt, xe } = setup({ gpuConfig: { engines: { render: 1, copy: 1 }, defaults: { preemptTimeoutMs: 50 } } });
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe, XeEngineClass.COPY);
      const qa = a.f.execQueues.lookup(a.execQueueId)!;
      xe.gpu.faults.hang({ site: `guc${qa.gucId}` });
      const hung = await execWithFence(a.f, a.execQueueId, 5);
      const behind = await execWithFence(a.f, a.execQueueId, 5);
      const fb = [];
      for (let i = 0; i < 4; i++) fb.push(await execWithFence(b.f, b.execQueueId, 30));
      await hung.wait();
      await behind.wait();
      expect(hung.getStatus()).toBe(ETIME);
      expect(behind.getStatus()).toBe(ECANCELED);
      expect(qa.state.banned).toBe(true);
      expect(qa.dep.stats.timeouts).toBe(1);
      expect(qa.falsePositives).toBe(0);
      expect(rt.now(), 'the TDR fired at the job timeout').toBeGreaterThanOrEqual(100);
      expect(await errnoOf(a.f.exec({ execQueueId: a.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1 })), 'a banned queue').toBe('ECANCELED');
      for (const x of fb) await x.wait();
      expect(fb.map((x) => x.getStatus()), 'the other client is unaffected').toEqual([1, 1, 1, 1]);
      for (const x of [hung, behind, ...fb]) x.put();
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('a false positive (it waited for the engine, ran less than the timeout): re-enabled and re-armed, the job completes', async () => {
    const { rt, xe } = setup({ gpuConfig: { engines: { render: 1 }, defaults: { timesliceMs: Infinity } } });
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe);
      const qb = b.f.execQueues.lookup(b.execQueueId)!;
      const fa = await execWithFence(a.f, a.execQueueId, 90);
      const fb = await execWithFence(b.f, b.execQueueId, 10);
      await fa.wait();
      await fb.wait();
      expect(fa.getStatus()).toBe(1);
      expect(fb.getStatus()).toBe(1);
      expect(qb.dep.stats.timeouts, 'the TDR fired for b while a held the engine').toBeGreaterThanOrEqual(1);
      expect(qb.falsePositives).toBe(qb.dep.stats.timeouts);
      expect(qb.state.banned).toBe(false);
      expect(fb.timestamp()).toBeGreaterThan(100);
      // The queue still works.
      const again = await execWithFence(b.f, b.execQueueId, 1);
      await again.wait();
      expect(again.getStatus()).toBe(1);
      for (const x of [fa, fb, again]) x.put();
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('a job running longer than the timeout is a real timeout even when nothing hangs', async () => {
    const { rt, xe } = setup({ gpuConfig: { engines: { render: 1 } } });
    await rt.run(async () => {
      const a = await client(xe);
      const long = await execWithFence(a.f, a.execQueueId, 400);
      await long.wait();
      expect(long.getStatus()).toBe(ETIME);
      expect(a.f.execQueues.lookup(a.execQueueId)!.state.banned).toBe(true);
      long.put();
      await teardown(rt, xe, [a.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('the GuC resets the engine (a hung context would not yield its timeslice): context-reset G2H → TDR → ban; the peer on the engine completes', async () => {
    const { rt, xe } = setup({ jobTimeoutMs: 10_000, gpuConfig: { engines: { render: 1 }, defaults: { preemptTimeoutMs: 20, timesliceMs: 1 } } });
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe);
      const qa = a.f.execQueues.lookup(a.execQueueId)!;
      xe.gpu.faults.hang({ site: `guc${qa.gucId}` });
      const hung = await execWithFence(a.f, a.execQueueId, 5);
      await rt.sleep(1);
      const fb = await execWithFence(b.f, b.execQueueId, 5);
      await hung.wait();
      await fb.wait();
      expect(rt.now(), 'long before the 10 s job timeout').toBeLessThan(1000);
      expect(qa.state.reset).toBe(true);
      expect(qa.state.banned).toBe(true);
      expect(hung.getStatus()).toBe(ETIME);
      expect(fb.getStatus()).toBe(1);
      for (const x of [hung, fb]) x.put();
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('kill', () => {
  it('killing the VM kills its queues: running and queued work errors out, exec refuses, other VMs carry on', async () => {
    const { rt, xe } = setup({ jobTimeoutMs: 10_000 });
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe, XeEngineClass.COPY);
      const running = await execWithFence(a.f, a.execQueueId, 100);
      const other = await execWithFence(b.f, b.execQueueId, 20);
      await rt.sleep(5);
      const vm = a.f.vms.lookup(a.vmId)!;
      (vm as import('./vm.js').XeVm).kill('test');
      await running.wait();
      expect(running.getStatus()).toBe(ECANCELED);
      expect(await errnoOf(a.f.exec({ execQueueId: a.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1 }))).toBe('ECANCELED');
      await other.wait();
      expect(other.getStatus()).toBe(1);
      for (const x of [running, other]) x.put();
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('GT reset', () => {
  it('the queue whose job was running is banned (-EIO); a queue whose job had not started is replayed and completes', async () => {
    const { rt, xe } = setup({ jobTimeoutMs: 10_000, gpuConfig: { engines: { render: 1 }, defaults: { timesliceMs: Infinity } } });
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe);
      const qa = a.f.execQueues.lookup(a.execQueueId)!;
      const qb = b.f.execQueues.lookup(b.execQueueId)!;
      xe.gpu.faults.hang({ site: `guc${qa.gucId}` });
      const hung = await execWithFence(a.f, a.execQueueId, 5);
      await rt.sleep(1);
      const waiting = await execWithFence(b.f, b.execQueueId, 5);
      await rt.sleep(20);
      expect(waiting.isSignaled()).toBe(false);
      await xe.gtReset();
      expect(xe.gtResets).toBe(1);
      await hung.wait();
      await waiting.wait();
      expect(hung.getStatus()).toBe(-5);
      expect(qa.state.banned).toBe(true);
      expect(waiting.getStatus()).toBe(1);
      expect(qb.state.banned).toBe(false);
      expect(xe.gpu.fw.contextIds()).toEqual([qb.gucId]);
      const again = await execWithFence(b.f, b.execQueueId, 1);
      await again.wait();
      expect(again.getStatus()).toBe(1);
      for (const x of [hung, waiting, again]) x.put();
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('device lost', () => {
  it('every pending fence signals with -ENODEV at once (LR queues too), exec refuses, teardown completes', async () => {
    const { rt, xe } = setup({ jobTimeoutMs: 10_000 });
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe, XeEngineClass.COPY);
      const fa = await execWithFence(a.f, a.execQueueId, 100);
      const fb = await execWithFence(b.f, b.execQueueId, 100);
      await rt.sleep(5);
      xe.gpu.lose('surprise removal');
      await fa.wait();
      await fb.wait();
      expect([fa.getStatus(), fb.getStatus()]).toEqual([-19, -19]);
      expect(rt.now()).toBeLessThan(10);
      expect(await errnoOf(a.f.exec({ execQueueId: a.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1 }))).toBe('ECANCELED');
      for (const x of [fa, fb]) x.put();
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('firmware errors', () => {
  it('an error G2H for the first job\'s enable-scheduling bans the queue: its fences error out instead of re-arming forever', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe, XeEngineClass.COPY);
      xe.gpu.faults.firmwareError({ site: 'guc:enable-scheduling', nth: 1 });
      const fa = await execWithFence(a.f, a.execQueueId, 5);
      await fa.wait();
      expect(fa.getStatus()).toBeLessThan(0);
      expect(a.f.execQueues.lookup(a.execQueueId)!.state.banned).toBe(true);
      const fb = await execWithFence(b.f, b.execQueueId, 5);
      await fb.wait();
      expect(fb.getStatus(), 'the next context enables fine').toBe(1);
      for (const x of [fa, fb]) x.put();
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});
