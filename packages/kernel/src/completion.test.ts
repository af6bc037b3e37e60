import { describe, expect, it } from 'vitest';
import { Completion, isDepWarning, Runtime, SpinLock } from './index.js';

describe('completion', () => {
  it('wait_for_completion sleeps until complete() and resumes at that instant', async () => {
    const rt = new Runtime();
    const c = new Completion(rt, 'probe');
    const log: Array<[string, number]> = [];
    rt.spawn('waiter', async () => {
      await c.waitForCompletion();
      log.push(['woken', rt.now()]);
    });
    rt.spawn('completer', async () => {
      await rt.sleep(7);
      c.complete();
    });
    await rt.runUntilIdle();
    expect(log).toEqual([['woken', 7]]);
    expect(c.completionDone()).toBe(false); // the waiter consumed it
  });

  it('complete() before the wait lets exactly one wait through', async () => {
    const rt = new Runtime();
    const c = new Completion(rt);
    c.complete();
    expect(c.completionDone()).toBe(true);
    const r = await rt.run(async () => {
      await c.waitForCompletion();
      return c.waitForCompletionTimeout(5);
    });
    expect(r).toBe(0);
    expect(rt.now()).toBe(5);
  });

  it('complete() wakes one waiter in FIFO order; complete_all wakes all, present and future, until reinit', async () => {
    const rt = new Runtime();
    const c = new Completion(rt);
    const order: string[] = [];
    for (const n of ['w1', 'w2', 'w3']) {
      rt.spawn(n, async () => {
        await c.waitForCompletion();
        order.push(`${n}@${rt.now()}`);
      });
    }
    rt.spawn('c', async () => {
      await rt.sleep(1);
      c.complete();
      await rt.sleep(1);
      c.completeAll();
    });
    await rt.runUntilIdle();
    expect(order).toEqual(['w1@1', 'w2@2', 'w3@2']);
    expect(c.tryWaitForCompletion()).toBe(true);
    expect(c.tryWaitForCompletion()).toBe(true); // complete_all is not consumed
    c.reinit();
    expect(c.completionDone()).toBe(false);
    expect(c.tryWaitForCompletion()).toBe(false);
  });

  it('wait_for_completion_timeout returns the time left, or 0 on timeout without consuming a later complete', async () => {
    const rt = new Runtime();
    const c = new Completion(rt);
    const results: number[] = [];
    rt.spawn('w', async () => {
      results.push(await c.waitForCompletionTimeout(10)); // completes at t=4
      results.push(await c.waitForCompletionTimeout(3)); // times out at t=7
      results.push(await c.waitForCompletionTimeout(Infinity)); // completes at t=20
    });
    rt.spawn('c', async () => {
      await rt.sleep(4);
      c.complete();
      await rt.sleep(16);
      c.complete();
    });
    await rt.runUntilIdle();
    expect(results).toEqual([6, 0, Infinity]);
    expect(c.completionDone()).toBe(false);
  });

  it('returns at least 1 when done with no time left, like the kernel (timeout 0 on a done completion)', async () => {
    const rt = new Runtime();
    const c = new Completion(rt);
    c.complete();
    const r = await rt.run(() => c.waitForCompletionTimeout(0));
    expect(r).toBe(1);
    expect(c.completionDone()).toBe(false);
    expect(await rt.run(() => c.waitForCompletionTimeout(0))).toBe(0);
  });

  it('wait_for_completion_interruptible returns -ERESTARTSYS when the signal fires first', async () => {
    const rt = new Runtime();
    const c = new Completion(rt);
    const ac = new AbortController();
    const r: number[] = [];
    rt.spawn('w', async () => {
      r.push(await c.waitForCompletionInterruptible({ signal: ac.signal }));
      r.push(await c.waitForCompletionInterruptible({ signal: new AbortController().signal }));
    });
    rt.spawn('k', async () => {
      await rt.sleep(2);
      ac.abort();
      await rt.sleep(1);
      c.complete();
    });
    await rt.runUntilIdle();
    expect(r).toEqual([-512, 0]);
  });

  it('interruptible timeout: ms left, 0 on timeout, -ERESTARTSYS on signal', async () => {
    const rt = new Runtime();
    const c = new Completion(rt);
    const ac = new AbortController();
    ac.abort();
    const r = await rt.run(async () => [
      await c.waitForCompletionInterruptibleTimeout(2),
      await c.waitForCompletionInterruptibleTimeout(2, { signal: ac.signal }),
    ]);
    expect(r).toEqual([0, -512]);
  });

  it('complete() may be called from irq context', async () => {
    const rt = new Runtime();
    const c = new Completion(rt);
    const s = new SpinLock(rt, 'irq_lock');
    let at = -1;
    rt.spawn('w', async () => {
      await c.waitForCompletion();
      at = rt.now();
    });
    rt.executor.schedule(3, null, () => rt.queueIrq(() => s.withLock(() => c.complete())), null, false);
    await rt.runUntilIdle();
    expect(at).toBe(3);
    expect(rt.reports.list).toEqual([]);
  });

  it('a tryWaitForCompletion between the wake-up and the waiter running takes the done; the waiter sleeps again', async () => {
    const rt = new Runtime();
    const c = new Completion(rt);
    const log: string[] = [];
    rt.spawn('w', async () => {
      await c.waitForCompletion();
      log.push(`w@${rt.now()}`);
    });
    rt.spawn('c', async () => {
      await rt.sleep(1);
      c.complete();
      log.push(`stolen=${c.tryWaitForCompletion()}`);
      await rt.sleep(1);
      c.complete();
    });
    await rt.runUntilIdle();
    expect(log).toEqual(['stolen=true', 'w@2']);
  });

  it('waiting in atomic context is reported', async () => {
    const rt = new Runtime();
    const c = new Completion(rt);
    let err: unknown;
    rt.queueIrq(() => {
      c.waitForCompletion().catch((e: unknown) => {
        err = e;
      });
    });
    await rt.runUntilIdle();
    await Promise.resolve();
    expect(isDepWarning(err)).toBe(true);
    expect(String(err)).toContain('wait_for_completion(completion)');
  });

  it('rejects a negative, NaN or non-number timeout and a bad signal with EINVAL', async () => {
    const rt = new Runtime();
    const c = new Completion(rt);
    c.complete();
    await expect(c.waitForCompletionTimeout(-1)).rejects.toThrow(/EINVAL/);
    await expect(c.waitForCompletionTimeout(Number.NaN)).rejects.toThrow(/EINVAL/);
    await expect(c.waitForCompletionTimeout('5' as unknown as number)).rejects.toThrow(/EINVAL/);
    await expect(c.waitForCompletionInterruptible({ signal: {} as AbortSignal })).rejects.toThrow(/EINVAL/);
    expect(c.completionDone()).toBe(true); // nothing consumed
  });
});
