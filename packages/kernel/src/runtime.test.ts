import { describe, expect, it } from 'vitest';
import {
  INTERRUPTED,
  isDepError,
  isDepWarning,
  MemoryTraceSink,
  Runtime,
  TIMED_OUT,
  Timer,
  traceHash,
  type Waker,
} from './index.js';

describe('virtual time and promise continuations', () => {
  it('resumes an await at the instant of the wake-up, through nested async functions', async () => {
    const rt = new Runtime();
    const log: Array<[string, number, string]> = [];
    let waker: Waker<number> | undefined;
    const inner = async (): Promise<number> => {
      const v = await rt.sleepOn<number>('inner', (w) => { waker = w; });
      log.push(['inner', rt.now(), rt.current.name]);
      return v as number;
    };
    const middle = async (): Promise<number> => (await inner()) * 2;
    rt.spawn('waiter', async () => {
      const v = await middle();
      log.push([`outer ${v}`, rt.now(), rt.current.name]);
      await rt.sleep(1);
      log.push(['after sleep', rt.now(), rt.current.name]);
    });
    rt.spawn('signaller', async () => {
      await rt.sleep(5);
      waker!.wake(21);
      await rt.sleep(100);
      log.push(['signaller done', rt.now(), rt.current.name]);
    });
    await rt.runUntilIdle();
    expect(log).toEqual([
      ['inner', 5, 'waiter'],
      ['outer 42', 5, 'waiter'],
      ['after sleep', 6, 'waiter'],
      ['signaller done', 105, 'signaller'],
    ]);
  });

  it('times out a wait at exactly its deadline', async () => {
    const rt = new Runtime();
    const r = await rt.run(async () => {
      const v = await rt.sleepOn('never', () => undefined, { timeout: 7 });
      return [v, rt.now()] as const;
    });
    expect(r).toEqual([TIMED_OUT, 7]);
  });

  it('a timeout of 0 or less times out at once without arming a timer', async () => {
    const rt = new Runtime();
    const v = await rt.run(() => rt.sleepOn('poll', () => undefined, { timeout: 0 }));
    expect(v).toBe(TIMED_OUT);
    expect(rt.now()).toBe(0);
  });

  it('an AbortSignal interrupts a wait, and an aborted one never sleeps', async () => {
    const rt = new Runtime();
    const ac = new AbortController();
    const out = await rt.run(async () => {
      const t = rt.spawn('aborter', async () => {
        await rt.sleep(3);
        ac.abort();
      });
      const v = await rt.sleepOn('intr', () => undefined, { signal: ac.signal });
      const again = await rt.sleepOn('intr2', () => undefined, { signal: ac.signal });
      await t.join();
      return [v, again, rt.now()];
    });
    expect(out).toEqual([INTERRUPTED, INTERRUPTED, 3]);
  });

  it('sleep returns the time left when interrupted', async () => {
    const rt = new Runtime();
    const ac = new AbortController();
    const left = await rt.run(async () => {
      rt.spawn('aborter', async () => {
        await rt.sleep(4);
        ac.abort();
      });
      return rt.sleep(10, { signal: ac.signal });
    });
    expect(left).toBe(6);
  });

  it('a waker wakes once; later wakes return false', async () => {
    const rt = new Runtime();
    let w: Waker<string> | undefined;
    const p = rt.run(() => rt.sleepOn<string>('x', (k) => { w = k; k.wake('first'); }));
    expect(w!.wake('second')).toBe(false);
    expect(await p).toBe('first');
  });

  it('advance runs only what is due and moves the clock', async () => {
    const rt = new Runtime();
    const fired: number[] = [];
    const t1 = new Timer(rt, () => fired.push(rt.now()), 't1');
    const t2 = new Timer(rt, () => fired.push(rt.now()), 't2');
    t1.mod(5);
    t2.mod(15);
    await rt.advance(10);
    expect(fired).toEqual([5]);
    expect(rt.now()).toBe(10);
    expect(t2.pending).toBe(true);
    await rt.advance(10);
    expect(fired).toEqual([5, 15]);
    expect(rt.now()).toBe(20);
  });

  it('refuses a negative advance', async () => {
    const rt = new Runtime();
    await expect(rt.advance(-1)).rejects.toSatisfy((e) => isDepError(e, 'EINVAL'));
  });

  it('refuses to be driven twice at once (EBUSY)', async () => {
    const rt = new Runtime();
    rt.spawn('sleeper', () => rt.sleep(1));
    const first = rt.runUntilIdle();
    await expect(rt.runUntilIdle()).rejects.toSatisfy((e) => isDepError(e, 'EBUSY'));
    await first;
  });
});

describe('timers', () => {
  it('mod re-arms and reports whether it was pending; del disarms', async () => {
    const rt = new Runtime();
    const fired: Array<[number, string]> = [];
    const t = new Timer(rt, () => fired.push([rt.now(), rt.context]));
    expect(t.mod(10)).toBe(false);
    expect(t.mod(20)).toBe(true);
    expect(t.expires).toBe(20);
    await rt.runUntilIdle();
    expect(fired).toEqual([[20, 'timer']]);
    expect(t.pending).toBe(false);
    t.mod(5);
    expect(t.del()).toBe(true);
    expect(t.del()).toBe(false);
    await rt.runUntilIdle();
    expect(fired).toHaveLength(1);
    expect(rt.now()).toBe(20);
  });
});

describe('contexts', () => {
  it('knows the context of the running code', async () => {
    const rt = new Runtime();
    const seen: string[] = [];
    seen.push(rt.context);
    rt.queueIrq(() => seen.push(`${rt.context}:${rt.inIrq()}`));
    rt.spawn('w', () => { seen.push(rt.context); }, { context: 'worker' });
    await rt.runUntilIdle();
    expect(seen).toEqual(['process', 'irq:true', 'worker']);
  });

  it('reports a sleeping function called from irq context', async () => {
    const rt = new Runtime({ checks: 'warn' });
    rt.queueIrq(() => {
      void rt.sleepOn('illegal', (w) => { w.wake(null); });
    });
    await rt.runUntilIdle();
    const r = rt.reports.list.filter((x) => x.kind === 'context');
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toMatch(/sleeping function called from invalid context: illegal/);
    expect(r[0]!.task).toBe('irq');
  });

  it('reports a task that awaits while atomic (preempt_count left raised)', async () => {
    const rt = new Runtime({ checks: 'warn' });
    await rt.run(async () => {
      rt.current.atomic++;
      await Promise.resolve();
      rt.current.atomic--;
      rt.current.atomic++;
      await rt.yield();
      rt.current.atomic--;
    });
    const msgs = rt.reports.list.map((r) => r.message);
    expect(msgs.some((m) => /sleeping function called from invalid context: cond_resched/.test(m))).toBe(true);
    expect(msgs.some((m) => /scheduling while atomic: main/.test(m))).toBe(true);
  });

  it('checks off skips the context checks', async () => {
    const rt = new Runtime({ checks: 'off' });
    rt.queueIrq(() => rt.mightSleep('x'));
    await rt.runUntilIdle();
    expect(rt.reports.count()).toBe(0);
  });

  it('irqWorkQueue batches works into one irq event, oldest first; works queued while it runs get the next raise', async () => {
    const rt = new Runtime();
    const seen: string[] = [];
    const work = (name: string): void => {
      seen.push(`${name}:${rt.context}`);
      if (name === 'b') rt.irqWorkQueue(work, 'late');
    };
    rt.irqWorkQueue(work, 'a');
    rt.irqWorkQueue(work, 'b');
    rt.irqWorkQueue(work, 'c');
    expect(rt.executor.pending, 'one raise for three works').toBe(1);
    rt.queueIrq(() => seen.push('queueIrq'));
    await rt.runUntilIdle();
    expect(seen).toEqual(['a:irq', 'b:irq', 'c:irq', 'queueIrq', 'late:irq']);
  });

  it('a throwing irq work is that raise\'s oops; the works after it still run, before later ones', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const seen: string[] = [];
    rt.irqWorkQueue((n: string) => seen.push(n), 'a');
    rt.irqWorkQueue(() => {
      rt.irqWorkQueue((n: string) => seen.push(n), 'queued-before-the-throw');
      throw new Error('irq work boom');
    }, undefined);
    rt.irqWorkQueue((n: string) => seen.push(n), 'c');
    await rt.runUntilIdle();
    expect(seen).toEqual(['a', 'c', 'queued-before-the-throw']);
    expect(rt.reports.count('oops')).toBe(1);
    expect(rt.reports.list[0]!.message).toMatch(/irq work boom/);
    rt.irqWorkQueue((n: string) => seen.push(n), 'after');
    await rt.runUntilIdle();
    expect(seen.at(-1)).toBe('after');
  });
});

describe('tasks', () => {
  it('run returns the result of the main task, join returns a spawned one', async () => {
    const rt = new Runtime();
    const v = await rt.run(async () => {
      const t = rt.spawn('child', async () => {
        await rt.sleep(2);
        return 'child-result';
      });
      return `${await t.join()}@${rt.now()}`;
    });
    expect(v).toBe('child-result@2');
  });

  it('an uncaught error in a task is an oops; strict makes runUntilIdle reject with it', async () => {
    const rt = new Runtime({ checks: 'strict' });
    rt.spawn('crash', () => {
      throw new Error('boom');
    });
    await expect(rt.runUntilIdle()).rejects.toThrow('boom');
    expect(rt.reports.count('oops')).toBe(1);
  });

  it('under warn an oops is recorded and the run goes on', async () => {
    const rt = new Runtime({ checks: 'warn' });
    let after = false;
    rt.spawn('crash', async () => {
      await rt.sleep(1);
      throw new Error('late boom');
    });
    rt.spawn('other', async () => {
      await rt.sleep(2);
      after = true;
    });
    await rt.runUntilIdle();
    expect(after).toBe(true);
    expect(rt.reports.list[0]!.message).toMatch(/oops in crash\/\d+: late boom/);
  });

  it('a joinable task hands its error to join', async () => {
    const rt = new Runtime();
    const err = await rt.run(async () => {
      const t = rt.spawn('j', () => Promise.reject(new Error('mine')), { joinable: true });
      return t.join().catch((e: unknown) => (e as Error).message);
    });
    expect(err).toBe('mine');
    expect(rt.reports.count()).toBe(0);
  });
});

describe('stall guard', () => {
  it('reports waits that can never be woken, with stall-hook lines', async () => {
    const rt = new Runtime({ checks: 'warn' });
    rt.onStall((blocked) => [`hook saw ${blocked.length}`]);
    rt.spawn('stuck', () => rt.sleepOn('a fence nobody signals', () => undefined, { object: 'f1' }));
    const idle = await rt.runUntilIdle();
    expect(idle.stalled).toHaveLength(1);
    expect(idle.stalled[0]!.reason).toBe('a fence nobody signals');
    expect(idle.stalled[0]!.object).toBe('f1');
    const r = rt.reports.list.find((x) => x.kind === 'stall')!;
    expect(r.details).toContain('hook saw 1');
    expect(r.details[0]).toMatch(/stuck\/\d+ waits for a fence nobody signals/);
  });

  it('is a failure under strict, and run() says which task is stuck', async () => {
    const rt = new Runtime({ checks: 'strict' });
    await expect(rt.run(() => rt.sleepOn('forever', () => undefined))).rejects.toSatisfy(isDepWarning);
    const rt2 = new Runtime({ checks: 'warn' });
    await expect(rt2.run(() => rt2.sleepOn('forever', () => undefined))).rejects.toSatisfy(
      (e) => isDepError(e, 'EDEADLK') && /main\/\d+ is still blocked \(forever\)/.test((e as Error).message),
    );
  });

  it('a wait with a timeout is not a stall', async () => {
    const rt = new Runtime({ checks: 'strict' });
    const idle = await rt.runUntilIdle();
    expect(idle.stalled).toEqual([]);
    rt.spawn('t', () => rt.sleepOn('bounded', () => undefined, { timeout: 1000 }));
    expect((await rt.runUntilIdle()).stalled).toEqual([]);
    expect(rt.now()).toBe(1000);
  });
});

describe('determinism and chaos', () => {
  async function scenario(seed: number, chaos: boolean): Promise<{ order: string; hash: string }> {
    const rt = new Runtime({ seed, chaos });
    const sink = new MemoryTraceSink();
    rt.trace.attach(sink);
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      rt.spawn(`t${i}`, async () => {
        order.push(`${i}a`);
        await rt.yield();
        order.push(`${i}b`);
        await rt.sleep(1);
        order.push(`${i}c`);
      });
    }
    await rt.runUntilIdle();
    return { order: order.join(' '), hash: traceHash(sink.records) };
  }

  it('same seed gives the same interleaving and the same trace hash', async () => {
    for (const chaos of [false, true]) {
      const a = await scenario(42, chaos);
      const b = await scenario(42, chaos);
      expect(a).toEqual(b);
    }
  });

  it('without chaos the order is FIFO regardless of seed', async () => {
    const a = await scenario(1, false);
    const b = await scenario(2, false);
    expect(a.order).toBe(b.order);
    expect(a.order.startsWith('0a 1a 2a 3a 4a 5a 0b')).toBe(true);
  });

  it('chaos seeds explore different orders, each of them legal', async () => {
    const orders = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const { order } = await scenario(seed, true);
      orders.add(order);
      const steps = order.split(' ');
      for (let i = 0; i < 6; i++) {
        const a = steps.indexOf(`${i}a`);
        const b = steps.indexOf(`${i}b`);
        const c = steps.indexOf(`${i}c`);
        expect(a).toBeLessThan(b);
        expect(b).toBeLessThan(c);
      }
      // Nothing of the 1 ms sleep may run before every task reached it.
      const firstC = steps.findIndex((s) => s.endsWith('c'));
      expect(steps.slice(0, firstC).every((s) => !s.endsWith('c'))).toBe(true);
      expect(firstC).toBe(12);
    }
    expect(orders.size).toBeGreaterThan(10);
  });
});

describe('real-time executor', () => {
  it('runs tasks on the event loop with real sleeps and knows the current task', async () => {
    const rt = new Runtime({ executor: 'real' });
    const seen: string[] = [];
    const t0 = rt.now();
    const v = await rt.run(async () => {
      const child = rt.spawn('child', async () => {
        await rt.sleep(5);
        seen.push(rt.current.name);
        return 3;
      });
      await rt.yield();
      seen.push(rt.current.name);
      return child.join();
    });
    expect(v).toBe(3);
    expect(seen).toEqual(['main', 'child']);
    expect(rt.now() - t0).toBeGreaterThanOrEqual(4);
  });
});

describe('subsystems', () => {
  it('initialises per-runtime state once per key', () => {
    const rt = new Runtime();
    const key = Symbol('counter');
    let inits = 0;
    const a = rt.subsystem(key, () => ({ n: ++inits }));
    const b = rt.subsystem(key, () => ({ n: ++inits }));
    expect(a).toBe(b);
    expect(inits).toBe(1);
    expect(new Runtime().subsystem(key, () => ({ n: 99 })).n).toBe(99);
  });
});

describe('task switches and macrotask hops', () => {
  it('a task or work item that finishes synchronously is a switch without a hop', async () => {
    const rt = new Runtime();
    const { switches, hops } = rt.executor.stats;
    rt.spawn('sync', () => 1);
    await rt.runUntilIdle();
    expect([rt.executor.stats.switches - switches, rt.executor.stats.hops - hops]).toEqual([1, 0]);
    rt.spawn('async', async () => {
      await rt.yield();
    });
    await rt.runUntilIdle();
    // start + wake-up: two switches, both with a hop (the task awaited)
    expect([rt.executor.stats.switches - switches, rt.executor.stats.hops - hops]).toEqual([3, 2]);
  });

  it('a synchronous task still settles: leaving a spinlock-like atomic section is reported', async () => {
    const rt = new Runtime({ checks: 'warn' });
    rt.spawn('leaky', () => {
      rt.current.atomic++;
    });
    await rt.runUntilIdle();
    expect(rt.reports.list.some((r) => r.kind === 'context' && /leaky/.test(r.message))).toBe(true);
  });
});
