// Submit building blocks: exec locking of many objects under contention (chaos seeds),
// implicit sync (readers wait for writers, writers for both), fences into resvs, in-syncs
// and out-syncs, and a whole driver-style submit composed from them.
import { DmaFence, SyncobjWaitFlags, contextAlloc, type Fence } from '@dep/dma-fence';
import { DmaResvUsage } from '@dep/dma-resv';
import { isDepError, type ErrnoName } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { fenceOps, newFence, setup, timelineFences } from './__fixtures__/setup.js';
import type { DrmFile } from './file.js';
import type { GemObject } from './gem.js';
import { GpuVm } from './gpuvm.js';
import { OutSyncs, addFenceToObjects, collectImplicitDeps, lockObjects, resolveInSyncs, type SubmitObject } from './submit.js';
import { DRM_TIMEOUT_INFINITE } from './uapi.js';

async function errnoOf(p: Promise<unknown> | (() => unknown)): Promise<ErrnoName | null> {
  try {
    await (typeof p === 'function' ? p() : p);
    return null;
  } catch (e) {
    if (isDepError(e)) return e.code;
    throw e;
  }
}

async function withLocked<T>(objs: readonly GemObject[], fn: () => T): Promise<T> {
  const exec = await lockObjects(objs);
  try {
    return fn();
  } finally {
    exec.fini();
  }
}

describe('lockObjects under contention', () => {
  it('many tasks locking random overlapping subsets in random orders all finish, on 24 chaos seeds', async () => {
    let totalRetries = 0;
    for (let seed = 1; seed <= 24; seed++) {
      const { rt, dev } = setup({ seed, chaos: true });
      const objs: GemObject[] = [];
      const expected = new Map<GemObject, number>();
      const retries: number[] = [];
      await rt.run(async () => {
        for (let i = 0; i < 6; i++) objs.push(await dev.gemObjectCreate({ size: 4096n }));
        const tasks = [];
        for (let t = 0; t < 5; t++) {
          const mine = objs.filter(() => rt.random() < 0.6);
          if (mine.length === 0) mine.push(objs[t]!);
          mine.sort(() => rt.random() - 0.5);
          for (const o of mine) expected.set(o, (expected.get(o) ?? 0) + 1);
          tasks.push(
            rt.spawn(`submit${t}`, async () => {
              const fence = newFence(rt);
              const exec = await lockObjects(mine, { numFences: 1 });
              retries.push(exec.retries);
              await rt.sleep(rt.randomInt(3));
              addFenceToObjects(mine.map((obj) => ({ obj, write: true })), fence);
              exec.fini();
              return fence;
            }, { joinable: true }),
          );
        }
        const fences: Fence[] = [];
        for (const t of tasks) fences.push(await t.join());
        for (const o of objs) expect(o.resv.numFences, `seed ${seed}: one fence per submitter`).toBe(expected.get(o) ?? 0);
        for (const f of fences) {
          (f as DmaFence).signal();
          f.put();
        }
        for (const o of objs) o.put();
      });
      const idle = await rt.runUntilIdle();
      expect(idle.stalled, `seed ${seed}`).toEqual([]);
      totalRetries += retries.reduce((a, b) => a + b, 0);
      expect(rt.shutdown().filter((r) => r.kind !== 'warn'), `seed ${seed}`).toEqual([]);
    }
    expect(totalRetries, 'contention happened and was backed off from').toBeGreaterThan(0);
  });

  it('VM-private objects (one shared resv) and duplicates lock once', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const vm = new GpuVm(dev);
      const p1 = await dev.gemObjectCreate({ size: 4096n, vm });
      const p2 = await dev.gemObjectCreate({ size: 4096n, vm });
      const exec = await lockObjects([p1, p2, p1]);
      expect(exec.numObjects).toBe(1);
      expect(vm.resv.isLocked).toBe(true);
      exec.fini();
      expect(vm.resv.isLocked).toBe(false);
      const withVm = await lockObjects([p1], { vm });
      expect(withVm.objects).toEqual([vm.resvObj]);
      withVm.fini();
      vm.close();
      p1.put();
      p2.put();
      vm.put();
    });
  });

  it('ENOMEM while reserving slots drops every lock', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = await dev.gemObjectCreate({ size: 4096n });
      const b = await dev.gemObjectCreate({ size: 4096n });
      rt.faults.failAlloc({ site: 'dma_resv_reserve_fences', nth: 2 });
      expect(await errnoOf(lockObjects([a, b]))).toBe('ENOMEM');
      expect([a.resv.isLocked, b.resv.isLocked]).toEqual([false, false]);
      expect(await errnoOf(lockObjects([]))).toBe('EINVAL');
      a.put();
      b.put();
    });
  });
});

describe('implicit sync', () => {
  it('a reader waits for writers only; a writer waits for readers and writers', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const x = await dev.gemObjectCreate({ size: 4096n });
      const w1 = newFence(rt);
      const r1 = newFence(rt);
      const kernelMove = newFence(rt);
      const bookkeep = newFence(rt);
      await withLocked([x], () => {
        x.resv.reserveFences(4);
        addFenceToObjects([{ obj: x, write: true }], w1);
        addFenceToObjects([{ obj: x, write: false }], r1);
        x.resv.addFence(kernelMove, DmaResvUsage.KERNEL);
        addFenceToObjects([{ obj: x, write: false }], bookkeep, DmaResvUsage.BOOKKEEP);
      });
      const reader = await withLocked([x], () => collectImplicitDeps([{ obj: x, write: false }]));
      const writer = await withLocked([x], () => collectImplicitDeps([{ obj: x, write: true }]));
      expect(new Set(reader)).toEqual(new Set([w1, kernelMove]));
      expect(new Set(writer)).toEqual(new Set([w1, r1, kernelMove]));
      expect(writer.includes(bookkeep), 'BOOKKEEP is never implicit sync').toBe(false);
      for (const f of [...reader, ...writer]) f.put();
      // signalled fences are not dependencies
      w1.signal();
      kernelMove.signal();
      const later = await withLocked([x], () => collectImplicitDeps([{ obj: x, write: true }]));
      expect(later).toEqual([r1]);
      for (const f of later) f.put();
      for (const f of [w1, r1, kernelMove, bookkeep]) {
        f.signal();
        f.put();
      }
      x.put();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('dependencies are deduplicated per context, keeping the later fence', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = await dev.gemObjectCreate({ size: 4096n });
      const b = await dev.gemObjectCreate({ size: 4096n });
      const [f1, f2] = timelineFences(rt, 2);
      await withLocked([a, b], () => {
        addFenceToObjects([{ obj: a, write: true }], f1!);
        addFenceToObjects([{ obj: b, write: true }], f2!);
      });
      const deps = await withLocked([a, b], () => collectImplicitDeps([{ obj: a, write: true }, { obj: b, write: false }]));
      expect(deps).toEqual([f2]);
      expect(f1!.refcount, 'the earlier one was dropped again').toBe(2);
      for (const f of deps) f.put();
      for (const f of [f1!, f2!]) {
        f.signal();
        f.put();
      }
      a.put();
      b.put();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('a fence goes once into a shared resv, with the strongest usage of the objects sharing it', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const vm = new GpuVm(dev);
      const p1 = await dev.gemObjectCreate({ size: 4096n, vm });
      const p2 = await dev.gemObjectCreate({ size: 4096n, vm });
      const job = newFence(rt);
      const resvs = await withLocked([p1, p2], () => addFenceToObjects([{ obj: p1, write: false }, { obj: p2, write: true }], job));
      expect(resvs).toEqual([vm.resv]);
      expect(vm.resv.numFences).toBe(1);
      const deps = await withLocked([p1], () => collectImplicitDeps([{ obj: p1, write: false }]));
      expect(deps, 'added as WRITE: a reader waits for it').toEqual([job]);
      deps[0]!.put();
      job.signal();
      job.put();
      vm.close();
      p1.put();
      p2.put();
      vm.put();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });
});

describe('in-syncs and out-syncs', () => {
  it('OutSyncs: lookups and chain nodes are prepared first; install cannot fail; abort drops references', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const bin = (await f.syncobjCreate()).handle;
      const tl = (await f.syncobjCreate()).handle;
      const before = dev.snapshot();
      expect(await errnoOf(() => OutSyncs.prepare(f, [{ handle: bin }, { handle: 99 }]))).toBe('ENOENT');
      rt.faults.failAlloc({ site: 'dma_fence_chain_alloc', times: 1 });
      expect(await errnoOf(() => OutSyncs.prepare(f, [{ handle: bin }, { handle: tl, point: 3n }]))).toBe('ENOMEM');
      expect(dev.snapshot(), 'no reference left behind').toEqual(before);
      const out = OutSyncs.prepare(f, [{ handle: bin }, { handle: tl, point: 3n }]);
      expect(out.count).toBe(2);
      const job = newFence(rt);
      out.install(job);
      expect(await errnoOf(() => out.install(job))).toBe('EINVAL');
      expect(f.syncobjs.lookup(bin)!.fenceGet()).toBe(job);
      job.put();
      expect((await f.syncobjQuery({ handles: [tl], flags: 1 })).points).toEqual([3n]);
      const aborted = OutSyncs.prepare(f, [{ handle: bin }]);
      aborted.abort();
      expect(f.syncobjs.lookup(bin)!.refcount).toBe(1);
      job.signal();
      job.put();
      await f.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('resolveInSyncs: fences of binary and timeline syncobjs; ENOENT/EINVAL hold nothing; WAIT_FOR_SUBMIT waits', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const a = (await f.syncobjCreate({ flags: 1 })).handle;
      const t = (await f.syncobjCreate()).handle;
      const empty = (await f.syncobjCreate()).handle;
      const fence = newFence(rt);
      OutSyncs.prepare(f, [{ handle: t, point: 2n }]).install(fence);
      const got = await resolveInSyncs(f, [{ handle: a }, { handle: t, point: 2n }]);
      expect(got[0]!.isSignaled()).toBe(true);
      expect(got[1]!.seqno).toBe(2n);
      for (const g of got) g.put();
      expect(await errnoOf(resolveInSyncs(f, [{ handle: a }, { handle: 42 }]))).toBe('ENOENT');
      expect(await errnoOf(resolveInSyncs(f, [{ handle: empty }]))).toBe('EINVAL');
      rt.spawn('late', async () => {
        await rt.sleep(3);
        await f.syncobjSignal({ handles: [empty] });
      });
      const late = await resolveInSyncs(f, [{ handle: empty, flags: SyncobjWaitFlags.WAIT_FOR_SUBMIT }]);
      expect(rt.now()).toBe(3);
      late[0]!.put();
      fence.signal();
      fence.put();
      await f.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });
});

/** A toy driver submit composed from the pieces, as the README shows. */
async function submit(file: DrmFile, args: { bos: Array<{ handle: number; write: boolean }>; in: number[]; out: Array<{ handle: number; point?: bigint }>; duration: number }): Promise<Fence> {
  const rt = file.runtime;
  const objs = file.gemLookupArray(args.bos.map((b) => b.handle));
  const deps: Fence[] = [];
  let out: OutSyncs | null = null;
  try {
    deps.push(...(await resolveInSyncs(file, args.in.map((handle) => ({ handle })))));
    out = OutSyncs.prepare(file, args.out);
    const exec = await lockObjects(objs);
    const used: SubmitObject[] = objs.map((obj, i) => ({ obj, write: args.bos[i]!.write }));
    let job: DmaFence;
    try {
      deps.push(...collectImplicitDeps(used));
      job = new DmaFence(fenceOps, contextAlloc(1, rt), 1n, { runtime: rt });
      addFenceToObjects(used, job);
    } finally {
      exec.fini();
    }
    out.install(job);
    out = null;
    const waitFor = deps.splice(0);
    rt.spawn('hw', async () => {
      for (const d of waitFor) {
        await d.wait();
        d.put();
      }
      await rt.sleep(args.duration);
      job.signal();
    });
    return job;
  } finally {
    out?.abort();
    for (const d of deps) d.put();
    for (const o of objs) o.put();
  }
}

describe('a driver-style submit', () => {
  it('a buffer written by one client is read by another after the write, through implicit sync only', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const b = dev.open();
      const { handle } = await a.gemCreate({ size: 4096n });
      const { fd } = await a.primeHandleToFd({ handle });
      const { handle: bh } = await b.primeFdToHandle({ fd });
      fd.close();
      const done = (await b.syncobjCreate()).handle;
      const writer = await submit(a, { bos: [{ handle, write: true }], in: [], out: [], duration: 10 });
      const reader = await submit(b, { bos: [{ handle: bh, write: false }], in: [], out: [{ handle: done }], duration: 5 });
      const r = await b.syncobjWait({ handles: [done], timeoutNsec: DRM_TIMEOUT_INFINITE });
      expect(r.firstSignaled).toBe(0);
      expect(writer.timestamp()).toBe(10);
      expect(reader.timestamp(), 'the read ran after the write').toBe(15);
      writer.put();
      reader.put();
      await a.close();
      await b.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });

  it('explicit sync: an in-sync orders two submits on unrelated buffers', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const x = (await f.gemCreate({ size: 4096n })).handle;
      const y = (await f.gemCreate({ size: 4096n })).handle;
      const s = (await f.syncobjCreate()).handle;
      const first = await submit(f, { bos: [{ handle: x, write: true }], in: [], out: [{ handle: s, point: 1n }], duration: 7 });
      const tl = f.syncobjs.lookup(s)!;
      const seq = await tl.findFence(1n);
      const bin = (await f.syncobjCreate()).handle;
      OutSyncs.prepare(f, [{ handle: bin }]).install(seq);
      seq.put();
      const second = await submit(f, { bos: [{ handle: y, write: true }], in: [bin], out: [], duration: 1 });
      await second.wait();
      expect([first.timestamp(), second.timestamp()]).toEqual([7, 8]);
      first.put();
      second.put();
      await f.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });
});
