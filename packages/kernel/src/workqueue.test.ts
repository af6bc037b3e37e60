import { describe, expect, it } from 'vitest';
import {
  DelayedWork,
  isDepError,
  isDepWarning,
  MemoryTraceSink,
  Runtime,
  Work,
  Workqueue,
  type Task,
} from './index.js';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('queue_work', () => {
  it('a work item queued twice runs once', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'events');
    let runs = 0;
    const w = new Work(() => {
      runs++;
    });
    expect(wq.queueWork(w)).toBe(true);
    expect(wq.queueWork(w)).toBe(false);
    expect(w.pending).toBe(true);
    await rt.runUntilIdle();
    expect(runs).toBe(1);
    expect(w.pending).toBe(false);
    expect(w.running).toBe(false);
    // Once it ran, it can be queued again.
    expect(wq.queueWork(w)).toBe(true);
    await rt.runUntilIdle();
    expect(runs).toBe(2);
  });

  it('queueing an item pending on another queue fails', async () => {
    const rt = new Runtime();
    const a = new Workqueue(rt, 'a');
    const b = new Workqueue(rt, 'b');
    const ran: string[] = [];
    const w = new Work(() => {
      ran.push(rt.current.name);
    });
    expect(a.queueWork(w)).toBe(true);
    expect(b.queueWork(w)).toBe(false);
    await rt.runUntilIdle();
    expect(ran).toEqual(['kworker/a:0']);
  });

  it('an item queued again while it runs runs once more afterwards, never concurrently with itself', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'unbound', { maxActive: 4 });
    let running = 0;
    let maxRunning = 0;
    const log: Array<[string, number]> = [];
    let runs = 0;
    const w = new Work(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      log.push(['start', rt.now()]);
      if (runs === 1) expect(wq.queueWork(w)).toBe(true);
      await rt.sleep(5);
      log.push(['end', rt.now()]);
      running--;
    });
    wq.queueWork(w);
    await rt.runUntilIdle();
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
    expect(log).toEqual([
      ['start', 0],
      ['end', 5],
      ['start', 5],
      ['end', 10],
    ]);
  });

  it('runs items on worker tasks named kworker/<wq>:<n> in worker context', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'submit', { memReclaim: true });
    const seen: Task[] = [];
    const w = new Work(() => {
      seen.push(rt.current);
    });
    wq.queueWork(w);
    await rt.runUntilIdle();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.name).toBe('kworker/submit:0');
    expect(seen[0]!.context).toBe('worker');
    expect(seen[0]!.memReclaim).toBe(true);
    expect(wq.memReclaim).toBe(true);
  });

  it('rejects bad input with DepError EINVAL and creates nothing', () => {
    const rt = new Runtime();
    expect(isDepError(errorOf(() => new Workqueue(rt, '')), 'EINVAL')).toBe(true);
    expect(isDepError(errorOf(() => new Workqueue(rt, 'x', { ordered: true, maxActive: 2 })), 'EINVAL')).toBe(true);
    expect(isDepError(errorOf(() => new Workqueue(rt, 'x', { maxActive: 0 })), 'EINVAL')).toBe(true);
    expect(rt.lifetimes.liveCount).toBe(0);
    const wq = new Workqueue(rt, 'x');
    expect(isDepError(errorOf(() => wq.queueWork({} as Work)), 'EINVAL')).toBe(true);
    const dw = new DelayedWork(() => undefined);
    expect(isDepError(errorOf(() => wq.queueDelayedWork(dw, -1)), 'EINVAL')).toBe(true);
    expect(isDepError(errorOf(() => wq.queueDelayedWork(dw, Number.NaN)), 'EINVAL')).toBe(true);
    expect(isDepError(errorOf(() => wq.queueDelayedWork(new Work(() => undefined) as DelayedWork, 1)), 'EINVAL')).toBe(true);
    expect(dw.pending).toBe(false);
  });

  it('emits the workqueue tracepoints, execute start/end as a slice on the worker lane', async () => {
    const rt = new Runtime();
    const sink = new MemoryTraceSink();
    rt.trace.attach(sink);
    const wq = new Workqueue(rt, 'tr');
    wq.queueWork(new Work(() => undefined, 'job_run'));
    await rt.runUntilIdle();
    const names = sink.records.filter((r) => r.name.startsWith('workqueue:')).map((r) => [r.name, r.ph, r.lane]);
    expect(names).toEqual([
      ['workqueue:workqueue_queue_work', 'i', 'external'],
      ['workqueue:workqueue_execute_start', 'B', 'kworker/tr:0'],
      ['workqueue:workqueue_execute_end', 'E', 'kworker/tr:0'],
    ]);
    expect(sink.named('workqueue:workqueue_queue_work')[0]!.args).toEqual({ work: 'job_run', workqueue: 'tr' });
  });

  it('an exception in a work function is an oops; the queue carries on', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const wq = new Workqueue(rt, 'ordered', { ordered: true });
    let after = false;
    wq.queueWork(new Work(async () => {
      await rt.sleep(1);
      throw new Error('boom');
    }, 'bad'));
    wq.queueWork(new Work(() => {
      after = true;
    }, 'good'));
    await rt.runUntilIdle();
    expect(after).toBe(true);
    const oops = rt.reports.list.filter((r) => r.kind === 'oops');
    expect(oops).toHaveLength(1);
    expect(oops[0]!.message).toContain('kworker/ordered:0');
    expect(oops[0]!.message).toContain('boom');
  });

  it('a work item that returns inside a signalling section is reported and its worker retired', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const wq = new Workqueue(rt, 'leaky', { ordered: true });
    const workers: string[] = [];
    wq.queueWork(new Work(() => {
      workers.push(rt.current.name);
      rt.current.signalling++;
    }, 'leaker'));
    wq.queueWork(new Work(() => {
      workers.push(rt.current.name);
    }, 'next'));
    await rt.runUntilIdle();
    const r = rt.reports.list.filter((x) => x.kind === 'lockdep');
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain('workqueue leaked');
    expect(r[0]!.details.join('\n')).toContain('leaker');
    expect(workers).toEqual(['kworker/leaky:0', 'kworker/leaky:1']);
  });
});

describe('ordered and unbound queues', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`an ordered queue runs items one at a time in queue order (chaos seed ${seed})`, async () => {
      const rt = new Runtime({ chaos: true, seed });
      const wq = new Workqueue(rt, 'ord', { ordered: true });
      const log: string[] = [];
      let running = 0;
      for (let i = 0; i < 6; i++) {
        wq.queueWork(new Work(async () => {
          running++;
          expect(running).toBe(1);
          log.push(`start ${i}`);
          await rt.sleep(rt.randomInt(3));
          log.push(`end ${i}`);
          running--;
        }, `w${i}`));
      }
      await rt.runUntilIdle();
      expect(log).toEqual([0, 1, 2, 3, 4, 5].flatMap((i) => [`start ${i}`, `end ${i}`]));
    });
  }

  it('an unbound queue runs at most maxActive items at once', async () => {
    const rt = new Runtime({ chaos: true, seed: 7 });
    const wq = new Workqueue(rt, 'ub', { maxActive: 2 });
    let running = 0;
    let maxRunning = 0;
    let done = 0;
    for (let i = 0; i < 6; i++) {
      wq.queueWork(new Work(async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        expect(wq.active).toBeLessThanOrEqual(2);
        await rt.sleep(10);
        running--;
        done++;
      }));
    }
    expect(wq.queued).toBe(6);
    await rt.advance(1);
    expect(wq.active).toBe(2);
    expect(wq.queued).toBe(4);
    await rt.runUntilIdle();
    expect(done).toBe(6);
    expect(maxRunning).toBe(2);
    expect(rt.now()).toBe(30);
  });

  it('an unbound queue with maxActive 4 runs four items concurrently', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'ub4');
    expect(wq.maxActive).toBe(4);
    const workers = new Set<string>();
    for (let i = 0; i < 4; i++) {
      wq.queueWork(new Work(async () => {
        workers.add(rt.current.name);
        await rt.sleep(10);
      }));
    }
    await rt.runUntilIdle();
    expect(rt.now()).toBe(10);
    expect(workers.size).toBe(4);
  });
});

describe('delayed work', () => {
  it('fires at the virtual time it was queued for', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'tdr');
    const at: number[] = [];
    const dw = new DelayedWork(() => {
      at.push(rt.now());
    });
    expect(wq.queueDelayedWork(dw, 50)).toBe(true);
    expect(dw.pending).toBe(true);
    expect(dw.timerPending).toBe(true);
    expect(wq.queueDelayedWork(dw, 10)).toBe(false);
    expect(wq.queueWork(dw)).toBe(false);
    await rt.runUntilIdle();
    expect(at).toEqual([50]);
    expect(dw.pending).toBe(false);
  });

  it('a delay of 0 queues at once', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'tdr');
    const dw = new DelayedWork(() => undefined);
    expect(wq.queueDelayedWork(dw, 0)).toBe(true);
    expect(dw.timerPending).toBe(false);
    expect(wq.queued + wq.active).toBe(1);
    await rt.runUntilIdle();
  });

  it('modDelayedWork re-arms a pending item (once) and queues an idle one', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'tdr');
    const at: number[] = [];
    const dw = new DelayedWork(() => {
      at.push(rt.now());
    });
    await rt.run(async () => {
      expect(wq.modDelayedWork(dw, 20)).toBe(false); // idle: queued, was not pending
      await rt.sleep(10);
      expect(wq.modDelayedWork(dw, 100)).toBe(true); // pending: re-armed
      await rt.sleep(200);
      expect(at).toEqual([110]);
      // Pending on the worklist (delay 0), then pushed back by a mod.
      wq.queueDelayedWork(dw, 0);
      expect(wq.modDelayedWork(dw, 5)).toBe(true);
    });
    expect(at).toEqual([110, 215]);
  });

  it('cancel disarms the timer; flush of a delayed item queues it now', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'tdr');
    let runs = 0;
    const dw = new DelayedWork(async () => {
      runs++;
      await rt.sleep(3);
    });
    await rt.run(async () => {
      wq.queueDelayedWork(dw, 50);
      expect(dw.cancel()).toBe(true);
      expect(dw.pending).toBe(false);
      expect(dw.cancel()).toBe(false);
      await rt.sleep(100);
      expect(runs).toBe(0);
      wq.queueDelayedWork(dw, 1000);
      const t0 = rt.now();
      expect(await dw.flush()).toBe(true);
      expect(rt.now() - t0).toBe(3);
      expect(runs).toBe(1);
    });
  });
});

describe('cancel and flush', () => {
  it('cancel does not wait for a running instance; cancelSync does', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'wq');
    let finishedAt = -1;
    const w = new Work(async () => {
      await rt.sleep(10);
      finishedAt = rt.now();
    });
    await rt.run(async () => {
      wq.queueWork(w);
      await rt.sleep(2);
      expect(w.running).toBe(true);
      expect(w.cancel()).toBe(false); // not pending: nothing to cancel, no wait
      expect(rt.now()).toBe(2);
      expect(await w.cancelSync()).toBe(false);
      expect(rt.now()).toBe(10);
      expect(finishedAt).toBe(10);
      expect(w.running).toBe(false);
    });
  });

  it('cancelSync removes a pending re-queue and waits for the running one; queueing is refused meanwhile', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'wq');
    let runs = 0;
    const w = new Work(async () => {
      runs++;
      await rt.sleep(10);
    });
    await rt.run(async () => {
      wq.queueWork(w);
      await rt.sleep(1);
      expect(wq.queueWork(w)).toBe(true); // pending again while running
      const queuedDuringCancel: boolean[] = [];
      rt.spawn('requeuer', async () => {
        await rt.sleep(2);
        queuedDuringCancel.push(wq.queueWork(w));
      });
      expect(await w.cancelSync()).toBe(true);
      expect(rt.now()).toBe(10);
      expect(queuedDuringCancel).toEqual([false]);
    });
    expect(runs).toBe(1);
  });

  it('cancel takes a pending item off the queue before it runs', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'wq', { ordered: true });
    let ran = false;
    wq.queueWork(new Work(async () => rt.sleep(5)));
    const w = new Work(() => {
      ran = true;
    });
    wq.queueWork(w);
    expect(w.cancel()).toBe(true);
    expect(w.pending).toBe(false);
    await rt.runUntilIdle();
    expect(ran).toBe(false);
  });

  it('flushWork waits for the pending or running instance, returns false when idle', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'wq', { ordered: true });
    const w = new Work(async () => {
      await rt.sleep(10);
    });
    const blocker = new Work(async () => {
      await rt.sleep(5);
    });
    await rt.run(async () => {
      expect(await w.flush()).toBe(false); // never queued
      wq.queueWork(blocker);
      wq.queueWork(w);
      expect(await w.flush()).toBe(true); // pending behind blocker: 5 + 10
      expect(rt.now()).toBe(15);
      expect(await w.flush()).toBe(false); // idle now
      expect(rt.now()).toBe(15);
      wq.queueWork(w);
      await rt.sleep(3);
      expect(w.running).toBe(true);
      expect(await w.flush()).toBe(true); // running: until its end
      expect(rt.now()).toBe(25);
    });
  });

  it('flushWorkqueue waits for everything queued before the call, not for later items', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'wq', { maxActive: 4 });
    const done: string[] = [];
    const mk = (name: string, ms: number): Work =>
      new Work(async () => {
        await rt.sleep(ms);
        done.push(name);
      }, name);
    await rt.run(async () => {
      wq.queueWork(mk('a', 10));
      wq.queueWork(mk('b', 20));
      rt.spawn('late', async () => {
        await rt.sleep(5);
        wq.queueWork(mk('c', 100));
      });
      await wq.flush();
      expect(rt.now()).toBe(20);
      expect(done).toEqual(['a', 'b']);
      await wq.flush(); // c was queued before this call
      expect(rt.now()).toBe(105);
      expect(done).toEqual(['a', 'b', 'c']);
      await wq.flush(); // idle: returns at once
      expect(rt.now()).toBe(105);
    });
  });

  it('flushWorkqueue does not wait for delayed items whose timer has not fired', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'wq');
    const dw = new DelayedWork(() => undefined);
    await rt.run(async () => {
      wq.queueDelayedWork(dw, 100);
      await wq.flush();
      expect(rt.now()).toBe(0);
      expect(dw.pending).toBe(true);
      dw.cancel();
    });
  });

  it('flushing another item from a worker of an unbound queue is fine', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'ub');
    const other = new Work(async () => rt.sleep(4));
    let flushed: boolean | undefined;
    wq.queueWork(new Work(async () => {
      wq.queueWork(other);
      flushed = await other.flush();
    }));
    await rt.runUntilIdle();
    expect(flushed).toBe(true);
    expect(rt.now()).toBe(4);
  });
});

describe('deadlocks on a queue from its own work items', () => {
  it('flushing the own ordered queue from its work item is reported and fails with EDEADLK', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const wq = new Workqueue(rt, 'ord', { ordered: true });
    let caught: unknown;
    wq.queueWork(new Work(async () => {
      try {
        await wq.flush();
      } catch (e) {
        caught = e;
      }
    }, 'self_flusher'));
    await rt.runUntilIdle();
    expect(isDepError(caught, 'EDEADLK')).toBe(true);
    const r = rt.reports.list.filter((x) => x.kind === 'lockdep');
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain('flush_workqueue');
    expect(r[0]!.task).toBe('kworker/ord:0');
  });

  it('flushing an item queued behind the caller on the same ordered queue is reported', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const wq = new Workqueue(rt, 'ord', { ordered: true });
    const behind = new Work(() => undefined, 'behind');
    let caught: unknown;
    let ranBehind = false;
    wq.queueWork(new Work(async () => {
      wq.queueWork(behind);
      try {
        await behind.flush();
      } catch (e) {
        caught = e;
      }
      ranBehind = !behind.pending;
    }, 'first'));
    await rt.runUntilIdle();
    expect(isDepError(caught, 'EDEADLK')).toBe(true);
    expect(ranBehind).toBe(false); // it was still queued when the flush failed
    expect(rt.reports.count('lockdep')).toBe(1);
  });

  it('flushWork and cancelSync of the running item itself are reported on any queue', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const wq = new Workqueue(rt, 'ub');
    const errors: unknown[] = [];
    const w = new Work(async () => {
      for (const op of [() => w.flush(), () => w.cancelSync()]) {
        try {
          await op();
        } catch (e) {
          errors.push(e);
        }
      }
    }, 'selfie');
    wq.queueWork(w);
    await rt.runUntilIdle();
    expect(errors.map((e) => isDepError(e, 'EDEADLK'))).toEqual([true, true]);
    expect(rt.reports.count('lockdep')).toBe(2);
  });

  it('under checks strict the report fails the run', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'ord', { ordered: true });
    wq.queueWork(new Work(async () => {
      await wq.flush();
    }));
    const err = await rt.runUntilIdle().then(() => undefined, (e: unknown) => e);
    expect(isDepWarning(err)).toBe(true);
    expect((err as { report: { kind: string } }).report.kind).toBe('lockdep');
  });
});

describe('destroy_workqueue', () => {
  it('drains queued and chained items, then refuses queueing with a WARN', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const wq = new Workqueue(rt, 'dying');
    const done: string[] = [];
    const chained = new Work(() => {
      done.push('chained');
    }, 'chained');
    wq.queueWork(new Work(async () => {
      await rt.sleep(5);
      expect(wq.queueWork(chained)).toBe(true); // own work item may chain while draining
      done.push('first');
    }, 'first'));
    let outsider: boolean | undefined;
    await rt.run(async () => {
      rt.spawn('outsider', async () => {
        await rt.sleep(1);
        outsider = wq.queueWork(new Work(() => undefined, 'outsider'));
      });
      await wq.destroy();
      expect(rt.now()).toBe(5);
    });
    expect(done).toEqual(['first', 'chained']);
    expect(outsider).toBe(false);
    expect(wq.destroyed).toBe(true);
    const before = rt.reports.count('warn');
    expect(wq.queueWork(new Work(() => undefined, 'late'))).toBe(false);
    expect(rt.reports.count('warn')).toBe(before + 1);
    expect(rt.reports.list.at(-1)!.message).toContain('destroyed workqueue dying');
    expect(rt.shutdown().filter((r) => r.kind === 'leak')).toEqual([]);
  });

  it('a delayed item firing after destroy is a WARN and does not run', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const wq = new Workqueue(rt, 'dying');
    let ran = false;
    const dw = new DelayedWork(() => {
      ran = true;
    });
    await rt.run(async () => {
      wq.queueDelayedWork(dw, 10);
      await wq.destroy();
    });
    expect(ran).toBe(false);
    expect(rt.reports.list.some((r) => r.kind === 'warn' && r.message.includes('destroyed'))).toBe(true);
  });

  it('a queue never destroyed is a leak at shutdown', () => {
    const rt = new Runtime({ checks: 'warn' });
    new Workqueue(rt, 'forgotten', { site: 'my_driver_init' });
    const leaks = rt.shutdown().filter((r) => r.kind === 'leak');
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.message).toContain('workqueue');
    expect(leaks[0]!.message).toContain('my_driver_init');
  });
});

describe('lockdep annotations of workqueues', () => {
  it('cancelSync of a running item that takes a lock the caller holds is a circular dependency', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const ld = rt.lockdep;
    const cls = ld.classFor('driver_lock');
    const lock = { name: 'driver_lock' };
    const wq = new Workqueue(rt, 'tdr_wq');
    const tdr = new Work(async () => {
      ld.acquire(cls, lock, { sleeping: true });
      await rt.sleep(5);
      ld.release(lock);
    }, 'tdr');
    await rt.run(async () => {
      wq.queueWork(tdr);
      await tdr.flush();
      expect(ld.dependsOn('(work_completion)tdr', 'driver_lock')).toBe(true);
      expect(rt.reports.count()).toBe(0);
      wq.queueWork(tdr);
      await rt.sleep(1);
      ld.acquire(cls, lock, { sleeping: true });
      await tdr.cancelSync();
      ld.release(lock);
    });
    const r = rt.reports.list.filter((x) => x.kind === 'lockdep');
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain('possible circular locking dependency detected');
    expect(r[0]!.message).toContain('(work_completion)tdr');
  });

  it('a worker holds the queue and item maps while it runs and releases them after', async () => {
    const rt = new Runtime();
    const wq = new Workqueue(rt, 'maps');
    let held: string[] = [];
    let task: Task | undefined;
    wq.queueWork(new Work(async () => {
      await rt.sleep(1);
      task = rt.current;
      held = rt.current.held.map((h) => h.className);
    }, 'item'));
    await rt.runUntilIdle();
    expect(held).toEqual(['(wq_completion)maps', '(work_completion)item']);
    expect(task!.held).toHaveLength(0);
  });

  it('a WQ_MEM_RECLAIM queue is tainted with fs_reclaim', () => {
    const rt = new Runtime();
    new Workqueue(rt, 'submit', { memReclaim: true });
    new Workqueue(rt, 'plain');
    expect(rt.lockdep.dependsOn('fs_reclaim', '(wq_completion)submit')).toBe(true);
    expect(rt.lockdep.dependsOn('fs_reclaim', '(wq_completion)plain')).toBe(false);
  });

  it('a WQ_MEM_RECLAIM worker flushing a queue without it is a WARN (once)', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const reclaim = new Workqueue(rt, 'submit', { memReclaim: true });
    const plain = new Workqueue(rt, 'events');
    const other = new Work(() => undefined, 'other');
    for (let i = 0; i < 2; i++) {
      reclaim.queueWork(new Work(async () => {
        plain.queueWork(other);
        await other.flush();
        await plain.flush();
      }, `flusher${i}`));
    }
    await rt.runUntilIdle();
    const w = rt.reports.list.filter((r) => r.kind === 'warn');
    expect(w.map((r) => r.message)).toEqual(['workqueue: WQ_MEM_RECLAIM submit:flusher0 is flushing !WQ_MEM_RECLAIM events:other']);
  });
});

