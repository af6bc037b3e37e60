import type { Fence } from '@dep/dma-fence';
import { describe, expect, it } from 'vitest';
import { client, errnoOf, fenceOf, qs, queue, setup, signal, teardown, wait, waitAll } from './__fixtures__/setup.js';
import type { PanthorFile } from './device.js';
import { PanthorGroupState } from './uapi.js';

describe('under load', () => {
  for (const variant of ['default', 'inactiveFences', 'bypass'] as const) it(`concurrent clients (two submitters each) submitting batches on 12 chaos seeds (${variant}): every fence signals, each queue completes in submission order`, async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const env = setup({ seed, chaos: true, csf: { slots: 2, tickMs: 5 }, ...(variant === 'default' ? {} : { [variant]: true }) });
      const { rt, dev } = env;
      const files: PanthorFile[] = [];
      const perQueue = new Map<string, Fence[]>();
      await rt.run(async () => {
        const tasks = [];
        for (let c = 0; c < 3; c++) {
          const { file, vmId } = await client(dev);
          files.push(file);
          const groups: number[] = [];
          for (let k = 0; k < 2; k++) groups.push((await file.groupCreate({ vmId, priority: rt.randomInt(2), queues: [queue(), queue()] })).groupHandle);
          // Two submitters per client share its groups: the VM resv lock serialises them.
          for (let t = 0; t < 2; t++) tasks.push(
            rt.spawn(`client${c}.${t}`, async () => {
              let prev: number | null = null;
              for (let n = 0; n < 6; n++) {
                const g = groups[rt.randomInt(2)]!;
                const jobs: Array<{ q: number; job: ReturnType<typeof qs> }> = [];
                const outs: number[] = [];
                for (let j = 0; j <= rt.randomInt(2); j++) {
                  const s = (await file.syncobjCreate()).handle;
                  outs.push(s);
                  const q = rt.randomInt(2);
                  const syncs = [signal(s)];
                  if (prev !== null && rt.random() < 0.5) syncs.unshift(wait(prev));
                  jobs.push({ q, job: qs(q, 1 + rt.randomInt(5), syncs) });
                }
                await file.groupSubmit({ groupHandle: g, queueSubmits: jobs.map((x) => x.job) });
                outs.forEach((s, i) => {
                  const key = `${file.label}/${g}/${jobs[i]!.q}`;
                  const list = perQueue.get(key) ?? [];
                  list.push(fenceOf(file, s));
                  perQueue.set(key, list);
                });
                prev = outs[outs.length - 1]!;
                await rt.sleep(rt.randomInt(3));
              }
            }, { joinable: true }),
          );
        }
        for (const t of tasks) await t.join();
      });
      await rt.runUntilIdle();
      const bypassed = dev.groups.flatMap((g) => g.queues).reduce((n, q) => n + q.dq.stats.bypassed, 0);
      expect(bypassed > 0, `seed ${seed}: runJob ran inline in the ioctl`).toBe(variant === 'bypass');
      for (const [key, fences] of perQueue) {
        expect(fences.map((f) => f.getStatus()), `seed ${seed} ${key}`).toEqual(fences.map(() => 1));
        // Whoever submitted them: in seqno (= push) order they completed in order.
        const bySeqno = [...fences].sort((a, b) => (a.seqno < b.seqno ? -1 : 1));
        expect(bySeqno.map((f) => f.seqno), `seed ${seed} ${key}: seqnos`).toEqual(bySeqno.map((_, i) => bySeqno[0]!.seqno + BigInt(i)));
        const ts = bySeqno.map((f) => f.timestamp());
        expect([...ts].sort((a, b) => a - b), `seed ${seed} ${key}: in order`).toEqual(ts);
        for (const f of fences) f.put();
      }
      expect(await teardown(env, files), `seed ${seed}`).toEqual([]);
    }
  });

  it('a hung queue in a group that must give up its slot: the suspend never finishes, the firmware terminates it, the state says TIMEDOUT', async () => {
    const env = setup({ csf: { slots: 1, tickMs: 10, suspendTimeoutMs: 100 } });
    const { rt, dev } = env;
    const a = await rt.run(() => client(dev));
    const b = await rt.run(() => client(dev));
    const r = await rt.run(async () => {
      const { groupHandle: ga } = await a.file.groupCreate({ vmId: a.vmId, queues: [queue()] });
      const { groupHandle: gb } = await b.file.groupCreate({ vmId: b.vmId, queues: [queue()] });
      dev.gpu.faults.hang({ site: `${a.file.groups.lookup(ga)!.hwName}.q0` });
      const sa = (await a.file.syncobjCreate()).handle;
      const sb = (await b.file.syncobjCreate()).handle;
      await a.file.groupSubmit({ groupHandle: ga, queueSubmits: [qs(0, 5, [signal(sa)])] });
      await rt.sleep(1);
      await b.file.groupSubmit({ groupHandle: gb, queueSubmits: [qs(0, 5, [signal(sb)])] });
      const fa = fenceOf(a.file, sa);
      const fb = fenceOf(b.file, sb);
      await waitAll(b.file, [sb]);
      await waitAll(a.file, [sa]);
      const out = { a: fa.getStatus(), b: fb.getStatus(), tb: fb.timestamp(), state: await a.file.groupGetState({ groupHandle: ga }) };
      fa.put();
      fb.put();
      return out;
    });
    expect(r.a).toBe(-110);
    expect(r.b).toBe(1);
    expect(r.tb).toBeLessThan(200);
    expect(r.state.state).toBe(PanthorGroupState.TIMEDOUT);
    expect(dev.stats.groupFaults).toBe(1);
    expect(dev.stats.progressTimeouts).toBe(0);
    expect(await teardown(env, [a.file, b.file])).toEqual([]);
  });

  it('device lost: every group is terminated as INNOCENT and every fence signals with an error', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const r = await rt.run(async () => {
      const { groupHandle } = await file.groupCreate({ vmId, queues: [queue(), queue()] });
      const s = [(await file.syncobjCreate()).handle, (await file.syncobjCreate()).handle];
      await file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 50, [signal(s[0]!)]), qs(1, 50, [signal(s[1]!)])] });
      const f = s.map((h) => fenceOf(file, h));
      await rt.sleep(5);
      dev.gpu.lose();
      await waitAll(file, s);
      const out = { status: f.map((x) => x.getStatus()), state: await file.groupGetState({ groupHandle }) };
      for (const x of f) x.put();
      return out;
    });
    expect(r.status).toEqual([-125, -125]);
    expect(r.state.state).toBe(PanthorGroupState.INNOCENT);
    expect(await teardown(env, [file])).toEqual([]);
  });

  it('ENOMEM at every allocation of a submit before the point of no return: the errno, nothing changed, and the retry works', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const sites = ['drm_dep_job_init', 'drm_dep_job_add_dependency', 'dma_fence_chain_alloc', 'dma_resv_reserve_fences'];
    const hit: string[] = [];
    await rt.run(async () => {
      const { groupHandle } = await file.groupCreate({ vmId, queues: [queue(), queue()] });
      // Two unsignalled in-fences of different contexts (another group's queues), so the
      // job's dependency store grows past its inline slot.
      const { groupHandle: other } = await file.groupCreate({ vmId, queues: [queue(), queue()] });
      const src = [(await file.syncobjCreate()).handle, (await file.syncobjCreate()).handle];
      await file.groupSubmit({ groupHandle: other, queueSubmits: [qs(0, 500, [signal(src[0]!)]), qs(1, 500, [signal(src[1]!)])] });
      const out = (await file.syncobjCreate()).handle;
      const tl = (await file.syncobjCreate()).handle;
      const args = { groupHandle, queueSubmits: [qs(0, 1, [wait(src[0]!), wait(src[1]!), signal(out)]), qs(1, 1, [wait(out), signal(tl, 1n)])] };
      for (const site of sites) {
        rt.faults.failAlloc({ site: new RegExp(`^${site}`), times: 1 });
        const before = dev.snapshot();
        const e = await errnoOf(file.groupSubmit(args));
        if (e !== null) {
          hit.push(site);
          expect(e, site).toBe('ENOMEM');
          expect(dev.snapshot(), `${site}: nothing changed`).toEqual(before);
        }
        rt.faults.clear();
      }
      await file.groupSubmit(args);
      await waitAll(file, [out]);
    });
    expect(hit).toEqual(sites);
    expect(await teardown(env, [file])).toEqual([]);
  });
});

describe('a failure between arm and push (rfc-designs E.2)', () => {
  for (const inactive of [false, true]) {
    it(`ENOMEM adding an intra-batch dependency after the first job was armed: ${inactive ? 'INACTIVE fences: the armed fence is just dropped' : 'the drm_sched contract: a WARN, the armed fence signalled -ECANCELED'}`, async () => {
      const env = setup({ checks: 'warn', inactiveFences: inactive });
      const { rt, dev } = env;
      const { file, vmId } = await rt.run(() => client(dev));
      const r = await rt.run(async () => {
        const { groupHandle: other } = await file.groupCreate({ vmId, queues: [queue()] });
        const { groupHandle } = await file.groupCreate({ vmId, queues: [queue(), queue()] });
        const [ext, mid, out] = [(await file.syncobjCreate()).handle, (await file.syncobjCreate()).handle, (await file.syncobjCreate()).handle];
        await file.groupSubmit({ groupHandle: other, queueSubmits: [qs(0, 50, [signal(ext)])] });
        // Job 1 waits on an external fence (inline slot) and on job 0 (needs the store to grow,
        // after job 0 was armed): the allocation fails.
        rt.faults.failAlloc({ site: 'drm_dep_job_add_dependency', times: 1 });
        const warnsBefore = rt.reports.list.filter((x) => x.kind === 'warn').length;
        const before = dev.snapshot();
        const e = await errnoOf(file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 1, [signal(mid)]), qs(1, 1, [wait(ext), wait(mid), signal(out)])] }));
        const warns = rt.reports.list.filter((x) => x.kind === 'warn').length - warnsBefore;
        return { e, warns, same: JSON.stringify(dev.snapshot(), (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) === JSON.stringify(before, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) };
      });
      expect(r.e).toBe('ENOMEM');
      expect(r.same, 'nothing was published: no resv, no syncobj changed').toBe(true);
      expect(r.warns).toBe(inactive ? 0 : 1);
      const reports = await teardown(env, [file]);
      expect(reports.filter((x) => (x as { kind: string }).kind !== 'warn')).toEqual([]);
    });
  }
});

describe('system suspend', () => {
  it('suspend saves every group (a hung one is terminated, TIMEDOUT); after 10 s suspended and a resume the others finish, none timed out', async () => {
    const env = setup({ csf: { suspendTimeoutMs: 100 } });
    const { rt, dev } = env;
    const { file, vmId } = await rt.run(() => client(dev));
    const r = await rt.run(async () => {
      const { groupHandle: ok } = await file.groupCreate({ vmId, queues: [queue(), queue()] });
      const { groupHandle: hung } = await file.groupCreate({ vmId, queues: [queue()] });
      dev.gpu.faults.hang({ site: `${file.groups.lookup(hung)!.hwName}.q0` });
      const s = [(await file.syncobjCreate()).handle, (await file.syncobjCreate()).handle, (await file.syncobjCreate()).handle];
      await file.groupSubmit({ groupHandle: ok, queueSubmits: [qs(0, 3000, [signal(s[0]!)]), qs(1, 4000, [signal(s[1]!)])] });
      await file.groupSubmit({ groupHandle: hung, queueSubmits: [qs(0, 10, [signal(s[2]!)])] });
      const f = s.map((h) => fenceOf(file, h));
      await rt.sleep(1000);
      await dev.suspend();
      const suspendedAt = rt.now();
      await rt.sleep(10_000);
      dev.resume();
      await waitAll(file, s);
      const out = {
        suspendedAt,
        status: f.map((x) => x.getStatus()),
        t: f.map((x) => x.timestamp()),
        ok: await file.groupGetState({ groupHandle: ok }),
        hung: await file.groupGetState({ groupHandle: hung }),
      };
      for (const x of f) x.put();
      return out;
    });
    expect(r.suspendedAt).toBeGreaterThanOrEqual(1100);
    expect(r.status).toEqual([1, 1, -110]);
    expect(r.t[1]!).toBeGreaterThan(14_000);
    expect(r.ok.state).toBe(0);
    expect(r.hung.state).toBe(PanthorGroupState.TIMEDOUT);
    expect(dev.stats.progressTimeouts).toBe(0);
    expect(await teardown(env, [file])).toEqual([]);
  });
});
