// The preempt fence base class (rfc-designs B.1, B.4): enableSignaling only queues work;
// the worker (WQ_MEM_RECLAIM, inside the signalling annotation) resolves and waits for the
// gate, preempts, waits, signals, and runs the follow-up after (Xe) or before (AMD).
import { DepError, MemoryTraceSink, Runtime, Timer, Workqueue, type Report } from '@dep/kernel';
import { CHAIN_LOCK_CLASS, DmaFence, DmaFenceChain, contextAlloc, fenceWaitsOf, getStub, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import { DmaResv, DmaResvUsage } from '@dep/dma-resv';
import { describe, expect, it } from 'vitest';
import { PREEMPT_FENCE_BRAND, PreemptFence, allocPreemptWorkqueue, isPreempt, type PreemptFenceOps, type PreemptFenceOptions } from './index.js';

const plainOps: DmaFenceOps = { getDriverName: () => 'drv', getTimelineName: () => 'exported' };

interface Harness {
  rt: Runtime;
  wq: Workqueue;
  log: string[];
  ops: PreemptFenceOps;
  make(options?: Partial<PreemptFenceOptions>, ops?: Partial<PreemptFenceOps>): PreemptFence;
  gate: Fence | null;
  fence(name?: string): DmaFence;
}

/** A queue that takes `suspendMs` to come off the hardware once asked. */
function harness(checks: 'strict' | 'warn' = 'strict', suspendMs = 1): Harness {
  const rt = new Runtime({ checks });
  const wq = allocPreemptWorkqueue(rt);
  const log: string[] = [];
  const ctx = contextAlloc(1, rt);
  const exported = contextAlloc(1, rt);
  let n = 1n;
  let m = 1n;
  const h: Harness = {
    rt,
    wq,
    log,
    gate: null,
    ops: {
      getDriverName: () => 'xe',
      getTimelineName: () => 'preempt',
      preemptDelay: () => h.gate?.get() ?? null,
      preempt: (f) => { log.push(`${rt.now()}: preempt ${f.seqno}`); },
      preemptWait: async (f) => {
        await rt.sleep(suspendMs);
        log.push(`${rt.now()}: suspended ${f.seqno}`);
      },
      preemptFinished: (f) => { log.push(`${rt.now()}: finished ${f.seqno} (${f.testSignaledFlag() ? 'signalled' : 'unsignalled'})`); },
    },
    make(options = {}, ops = {}) {
      return new PreemptFence({ ...h.ops, ...ops }, ctx, n++, { wq, ...options });
    },
    fence: (name = 'exported') => new DmaFence({ ...plainOps, getTimelineName: () => name }, exported, m++, { runtime: rt }),
  };
  return h;
}

function signalAt(rt: Runtime, ms: number, f: DmaFence): void {
  new Timer(rt, () => { f.signal(); }).mod(ms);
}

async function settle(h: Harness): Promise<void> {
  await h.rt.runUntilIdle();
  await h.wq.destroy();
}

function text(r: Report): string {
  return [r.message, ...r.details].join('\n');
}

describe('PreemptFence: the worker', () => {
  it('enableSignaling only queues the worker: no driver op runs until the worker does', async () => {
    const h = harness();
    const p = h.make();
    p.enableSwSignaling();
    expect(p.stage).toBe('queued');
    expect(h.log).toEqual([]);
    expect(h.wq.queued).toBe(1);
    await settle(h);
    expect(h.log).toEqual(['0: preempt 1', '1: suspended 1', '1: finished 1 (signalled)']);
    expect(p.getStatus()).toBe(1);
    expect(p.stage).toBe('signalled');
  });

  it('finishedBeforeSignal: the follow-up runs before the signal (the AMD order)', async () => {
    const h = harness();
    const p = h.make({ finishedBeforeSignal: true });
    p.enableSwSignaling();
    await settle(h);
    expect(h.log).toEqual(['0: preempt 1', '1: suspended 1', '1: finished 1 (unsignalled)']);
    expect(p.testSignaledFlag()).toBe(true);
  });

  it('a waiter is what triggers the preemption (dma_fence_wait enables signalling)', async () => {
    const h = harness();
    const p = h.make();
    const r = await h.rt.run(() => p.waitTimeout(100));
    expect(r).toBe(99);
    expect(h.log[0]).toBe('0: preempt 1');
    await h.wq.destroy();
  });

  it('runs on the WQ_MEM_RECLAIM worker inside the signalling annotation: an allocation there is reported', async () => {
    const h = harness('warn');
    const p = h.make({}, { preemptWait: () => { h.rt.alloc('GFP_KERNEL', 'bad_alloc_in_preempt_wait'); } });
    p.enableSwSignaling();
    await settle(h);
    expect(p.testSignaledFlag()).toBe(true);
    const r = h.rt.reports.list.filter((x) => x.kind === 'lockdep');
    expect(r.length).toBeGreaterThan(0);
    expect(r.map(text).join('\n')).toMatch(/bad_alloc_in_preempt_wait/);
  });

  it('a fence wait inside preemptWait is "wait inside a fence signalling section"', async () => {
    const h = harness('warn');
    const other = h.fence();
    signalAt(h.rt, 5, other);
    const p = h.make({}, { preemptWait: async () => { await other.waitTimeout(100); } });
    p.enableSwSignaling();
    await settle(h);
    expect(h.rt.reports.list.some((x) => /wait inside a fence signalling section/.test(x.message))).toBe(true);
    expect(p.testSignaledFlag()).toBe(true);
  });

  it('the worker holds a reference from enable to the end', async () => {
    const h = harness();
    const p = h.make();
    p.enableSwSignaling();
    expect(p.refcount).toBe(2);
    await settle(h);
    expect(p.refcount).toBe(1);
  });

  it('traces the preempt (and the gate)', async () => {
    const h = harness();
    const sink = new MemoryTraceSink();
    h.rt.trace.attach(sink);
    const g = h.fence();
    h.gate = g;
    signalAt(h.rt, 3, g);
    const p = h.make();
    p.enableSwSignaling();
    await settle(h);
    expect(sink.named('dma_fence_preempt:gate').map((r) => r.ts)).toEqual([0]);
    expect(sink.named('dma_fence_preempt:preempt').map((r) => [r.ts, r.args.ordering])).toEqual([[3, 'gate']]);
  });
});

describe('PreemptFence: errors always end in a signal', () => {
  it('an error from preempt goes on the fence; preemptWait is skipped; the follow-up still runs', async () => {
    const h = harness();
    const p = h.make({}, { preempt: () => -2 /* -ENOENT: queue already killed */ });
    p.enableSwSignaling();
    await settle(h);
    expect(p.getStatus()).toBe(-2);
    expect(h.log).toEqual(['0: finished 1 (signalled)']);
  });

  it('an error from preemptWait goes on the fence', async () => {
    const h = harness();
    const p = h.make({}, { preemptWait: () => -110 });
    p.enableSwSignaling();
    await settle(h);
    expect(p.getStatus()).toBe(-110);
  });

  it('-EAGAIN from preemptWait requeues the worker to wait again (Xe during VF recovery)', async () => {
    const h = harness();
    let calls = 0;
    const p = h.make({}, {
      preemptWait: async () => {
        calls++;
        await h.rt.sleep(2);
        return calls === 1 ? -11 : 0;
      },
    });
    p.enableSwSignaling();
    await settle(h);
    expect(calls).toBe(2);
    expect(p.getStatus()).toBe(1);
    expect(p.timestamp()).toBe(4);
    expect(h.log.filter((l) => l.includes('preempt 1'))).toHaveLength(1); // preempt issued once
  });

  it('a DepError thrown by an op: its errno goes on the fence, no oops', async () => {
    const h = harness();
    const p = h.make({}, { preempt: () => { throw new DepError('EIO', 'guc said no'); } });
    p.enableSwSignaling();
    await settle(h);
    expect(p.getStatus()).toBe(-5);
  });

  it('any other exception: the fence still signals (-EIO), then the oops surfaces', async () => {
    const h = harness('warn');
    const p = h.make({}, { preemptWait: () => { throw new TypeError('driver bug'); } });
    p.enableSwSignaling();
    await h.rt.runUntilIdle();
    expect(p.getStatus()).toBe(-5);
    expect(h.rt.reports.list.some((r) => r.kind === 'oops' && /driver bug/.test(r.message))).toBe(true);
    await h.wq.destroy();
  });

  it('a result that is not 0 or a negative errno is a WARN and -EINVAL', async () => {
    const h = harness('warn');
    const p = h.make({}, { preempt: () => 7 });
    p.enableSwSignaling();
    await settle(h);
    expect(p.getStatus()).toBe(-22);
    expect(h.rt.reports.count('warn')).toBe(1);
  });
});

describe('ordering \'gate\' (v2): the last exported fence gates the preemption', () => {
  it('preempts only after the gate signalled; the wait-for graph knows it meanwhile', async () => {
    const h = harness();
    const u = h.fence('user-fence');
    h.gate = u;
    const p = h.make();
    p.enableSwSignaling();
    await h.rt.advance(10);
    expect(p.stage).toBe('gated');
    expect(p.gate).toBe(u);
    expect(h.log).toEqual([]);
    expect(fenceWaitsOf(p).map((w) => w.reason)).toEqual(['preempt fence waits for the last exported fence (preemptDelay)']);
    signalAt(h.rt, 20, u);
    await settle(h);
    expect(h.log).toEqual(['30: preempt 1', '31: suspended 1', '31: finished 1 (signalled)']);
    expect(fenceWaitsOf(p)).toHaveLength(0);
    expect(u.refcount).toBe(1); // the gate reference preemptDelay handed over was put
  });

  it('waiting for a gate does not block the ordered preempt queue: a second fence preempts meanwhile', async () => {
    const h = harness();
    const u = h.fence();
    h.gate = u;
    const p1 = h.make();
    const p2 = h.make({}, { preemptDelay: () => null });
    p1.enableSwSignaling();
    p2.enableSwSignaling();
    signalAt(h.rt, 50, u);
    await settle(h);
    expect(p2.timestamp()).toBe(1);
    expect(p1.timestamp()).toBe(51);
  });

  it('a gate already signalled, the stub, or null: no wait', async () => {
    for (const gate of ['signalled', 'stub', 'null'] as const) {
      const h = harness();
      const g = h.fence();
      g.signal();
      const p = h.make({}, { preemptDelay: () => (gate === 'signalled' ? g.get() : gate === 'stub' ? getStub(h.rt) : null) });
      p.enableSwSignaling();
      await settle(h);
      expect(p.timestamp()).toBe(1);
    }
  });

  it('preemptDelay returning garbage or the fence itself: WARN, the fence signals with the error', async () => {
    const h = harness('warn');
    const a = h.make({}, { preemptDelay: () => ({}) as Fence });
    const b = h.make({}, { preemptDelay: (f) => f.get() });
    a.enableSwSignaling();
    b.enableSwSignaling();
    await settle(h);
    expect(a.getStatus()).toBe(-22);
    expect(b.getStatus()).toBe(-35);
    expect(h.rt.reports.count('warn')).toBe(2);
    expect(h.log.filter((l) => l.includes('preempt'))).toEqual([]); // never preempted
  });

  it('\'none\' ignores preemptDelay: preempts at once', async () => {
    const h = harness();
    h.gate = h.fence();
    const p = h.make({ ordering: 'none' });
    p.enableSwSignaling();
    await settle(h);
    expect(p.timestamp()).toBe(1);
  });
});

describe('Christian König\'s lock inversion (rfc-designs B.4): enableSignaling must not touch another fence', () => {
  it('v2 as posted (callback on the gate from enableSignaling), one lock class: "possible recursive locking"', async () => {
    const h = harness();
    const u = h.fence('user-fence');
    h.gate = u;
    const p = h.make({ gateInEnableSignaling: true });
    let err: unknown;
    try {
      p.enableSwSignaling();
    } catch (e) {
      err = e;
    }
    const r = h.rt.reports.list.find((x) => x.kind === 'lockdep')!;
    expect(String(err)).toMatch(/possible recursive locking detected/);
    expect(r.message).toMatch(/&fence->inline_lock/);
    // Still no lost fence: the worker adds the callback outside the lock and goes on.
    signalAt(h.rt, 5, u);
    await settle(h);
    expect(p.timestamp()).toBe(6);
  });

  it('Brost\'s distinct preempt lock and Xe\'s chain gate: lockdep is not quiet — "possible circular locking dependency"', async () => {
    const h = harness('warn');
    const u = h.fence('user-fence');
    const chain = DmaFenceChain.create(null, u.get(), 1n);
    h.gate = chain;
    const p = h.make({ gateInEnableSignaling: true, lockClass: '&xe_preempt_fence->lock' });
    p.enableSwSignaling();
    const r = h.rt.reports.list.find((x) => x.kind === 'lockdep')!;
    expect(r.message).toMatch(/possible circular locking dependency detected/);
    expect(r.message).toContain('trying to acquire &chain->lock while holding &xe_preempt_fence->lock');
    const t = text(r);
    expect(t).toContain(`${CHAIN_LOCK_CLASS} -> &xe_preempt_fence->lock`);
    expect(t).toMatch(/signalPathEnablesPreemptFence/); // where the order was recorded
    u.signal();
    await settle(h);
    expect(p.testSignaledFlag()).toBe(true);
  });

  it('the fixed design (worker resolves the gate) is quiet in both setups', async () => {
    for (const lockClass of [undefined, '&xe_preempt_fence->lock']) {
      const h = harness();
      const u = h.fence('user-fence');
      h.gate = DmaFenceChain.create(null, u.get(), 1n);
      const p = h.make(lockClass === undefined ? {} : { lockClass });
      p.enableSwSignaling();
      signalAt(h.rt, 2, u);
      await settle(h);
      expect(p.testSignaledFlag()).toBe(true);
      expect(h.rt.reports.count()).toBe(0);
    }
  });

  it('a gate\'s signal path enabling the preempt fence (drm/sched v1 draining preempt deps last) is the legal direction', async () => {
    const h = harness();
    const u = h.fence();
    h.gate = u;
    const p = h.make({ lockClass: '&xe_preempt_fence->lock' });
    u.addCallback(() => { p.enableSwSignaling(); });
    u.signal();
    await settle(h);
    expect(p.testSignaledFlag()).toBe(true);
    expect(h.rt.reports.count()).toBe(0);
  });

  it('with one lock class for both, even that direction nests two fence locks: recursive locking (defer it)', async () => {
    const h = harness('warn');
    const u = h.fence();
    const p = h.make({ ordering: 'none' });
    u.addCallback(() => { p.enableSwSignaling(); });
    u.signal();
    expect(h.rt.reports.list[0]?.message).toMatch(/possible recursive locking detected/);
    await settle(h);
    expect(p.testSignaledFlag()).toBe(true);
  });

  it('a callback on the preempt fence that takes another fence\'s lock is the same inversion, reported', () => {
    const h = harness('warn');
    const p = h.make({ lockClass: '&xe_preempt_fence->lock' });
    const other = h.fence();
    p.addCallback(() => { other.signal(); });
    h.rt.reports.clear();
    p.lockIrqsave();
    p.signalLocked();
    p.unlockIrqrestore();
    expect(h.rt.reports.list.some((r) => /circular locking dependency/.test(r.message))).toBe(true);
  });
});

describe('ordering \'slot\' (v1): the resv\'s PREEMPT usage orders it', () => {
  it('usage: PREEMPT for slot, BOOKKEEP otherwise', () => {
    const h = harness();
    expect(h.make({ ordering: 'slot' }).usage).toBe(DmaResvUsage.PREEMPT);
    expect(h.make({ ordering: 'gate' }).usage).toBe(DmaResvUsage.BOOKKEEP);
    expect(h.make({ ordering: 'none' }).usage).toBe(DmaResvUsage.BOOKKEEP);
  });

  it('a PREEMPT wait enables it only after the other fences signalled', async () => {
    const h = harness();
    const resv = new DmaResv({ runtime: h.rt, preempt: true, name: 'bo' });
    const p = h.make({ ordering: 'slot', resv });
    const u = h.fence();
    await h.rt.run(async () => {
      await resv.lock();
      expect(resv.reserveFences(2)).toBe(0);
      resv.addFence(p, p.usage);
      resv.addFence(u, DmaResvUsage.BOOKKEEP);
      resv.unlock();
    });
    signalAt(h.rt, 40, u);
    await h.rt.run(() => resv.waitTimeout(DmaResvUsage.PREEMPT, Infinity));
    expect(h.log[0]).toBe('40: preempt 1');
    expect(h.rt.reports.count()).toBe(0);
    resv.fini();
    await h.wq.destroy();
  });

  it('enabled directly, around the resv\'s ordering: the v1 WARN', async () => {
    const h = harness('warn');
    const resv = new DmaResv({ runtime: h.rt, preempt: true, name: 'bo' });
    const p = h.make({ ordering: 'slot', resv });
    const u = h.fence();
    await h.rt.run(async () => {
      await resv.lock();
      resv.reserveFences(2);
      resv.addFence(p, p.usage);
      resv.addFence(u, DmaResvUsage.BOOKKEEP);
      resv.unlock();
    });
    p.enableSwSignaling();
    await h.rt.runUntilIdle();
    expect(h.rt.reports.list.find((r) => r.kind === 'warn')?.message).toMatch(/enabled while bo still has unsignalled fences/);
    u.signal();
    resv.fini();
    await h.wq.destroy();
  });
});

describe('isPreempt and the brand @dep/queue checks', () => {
  it('true for a PreemptFence only; the brand is Symbol.for(\'@dep/fence-preempt:preempt-fence\')', () => {
    const h = harness();
    const p = h.make();
    expect(isPreempt(p)).toBe(true);
    expect(isPreempt(h.fence())).toBe(false);
    expect(isPreempt(null)).toBe(false);
    expect(isPreempt({})).toBe(false);
    expect(PREEMPT_FENCE_BRAND).toBe(Symbol.for('@dep/fence-preempt:preempt-fence'));
    expect((p as unknown as Record<symbol, unknown>)[Symbol.for('@dep/fence-preempt:preempt-fence')]).toBe(true);
  });
});

describe('bad input is a DepError (EINVAL) and makes nothing', () => {
  function code(fn: () => unknown): string {
    try {
      fn();
    } catch (e) {
      return e instanceof DepError ? `${e.code}: ${e.message.length > 30 ? 'ok' : e.message}` : `not DepError ${String(e)}`;
    }
    return 'none';
  }

  it('ops, options, workqueue, context, seqno', async () => {
    const h = harness();
    const ctx = contextAlloc(1, h.rt);
    const ok = h.ops;
    const plain = new Workqueue(h.rt, 'plain');
    const other = new Runtime();
    expect(code(() => new PreemptFence({} as PreemptFenceOps, ctx, 1n, { wq: h.wq }))).toBe('EINVAL: ok');
    expect(code(() => new PreemptFence({ ...ok, preemptDelay: undefined } as unknown as PreemptFenceOps, ctx, 1n, { wq: h.wq }))).toBe('EINVAL: ok');
    expect(code(() => new PreemptFence({ ...ok, preemptDelay: undefined } as unknown as PreemptFenceOps, ctx, 1n, { wq: h.wq, ordering: 'none' }))).toBe('none');
    expect(code(() => new PreemptFence(ok, ctx, 1n, { wq: h.wq, ordering: 'fifo' as 'gate' }))).toBe('EINVAL: ok');
    expect(code(() => new PreemptFence(ok, ctx, 1n, { wq: plain }))).toBe('EINVAL: ok');
    expect(code(() => new PreemptFence(ok, ctx, 1n, { wq: {} as Workqueue }))).toBe('EINVAL: ok');
    expect(code(() => new PreemptFence(ok, ctx, 1n, undefined as unknown as PreemptFenceOptions))).toBe('EINVAL: ok');
    expect(code(() => new PreemptFence(ok, ctx, 1n, { wq: h.wq, ordering: 'none', gateInEnableSignaling: true }))).toBe('EINVAL: ok');
    expect(code(() => new PreemptFence(ok, ctx, 1n, { wq: h.wq, finishedBeforeSignal: 1 as unknown as boolean }))).toBe('EINVAL: ok');
    expect(code(() => new PreemptFence(ok, ctx, 1n, { wq: h.wq, resv: new DmaResv({ runtime: other }) }))).toBe('EINVAL: ok');
    expect(code(() => new PreemptFence(ok, 1 as unknown as bigint, 1n, { wq: h.wq }))).toBe('EINVAL: ok');
    expect(code(() => new PreemptFence(ok, ctx, -1n, { wq: h.wq }))).toBe('EINVAL: ok');
    await plain.destroy();
    expect(code(() => new PreemptFence(ok, ctx, 1n, { wq: plain }))).toBe('EINVAL: ok');
    await h.wq.destroy();
    expect(code(() => new PreemptFence(ok, ctx, 1n, { wq: h.wq }))).toBe('EINVAL: ok');
  });
});
