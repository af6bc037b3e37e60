import { describe, expect, it } from 'vitest';
import { DepError, isDepWarning, Runtime, SpinLock } from './index.js';

describe('lockdep smoke', () => {
  it('reports an AB-BA order', () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new SpinLock(rt, 'A');
    const b = new SpinLock(rt, 'B');
    a.lock(); b.lock(); b.unlock(); a.unlock();
    b.lock(); a.lock(); a.unlock(); b.unlock();
    const r = rt.reports.list.filter((x) => x.kind === 'lockdep');
    expect(r.length).toBe(1);
    expect(r[0]!.message).toContain('circular');
    console.log(r[0]!.message, r[0]!.details.join('\n'));
  });
  it('strict throws and rolls back', () => {
    const rt = new Runtime();
    const a = new SpinLock(rt, 'A');
    const b = new SpinLock(rt, 'B');
    a.lock(); b.lock(); b.unlock(); a.unlock();
    b.lock();
    let err: unknown;
    try { a.lock(); } catch (e) { err = e; }
    expect(isDepWarning(err)).toBe(true);
    expect(a.isLocked).toBe(false);
    expect(rt.current.atomic).toBe(1);
    b.unlock();
    expect(rt.current.held.length).toBe(0);
    expect(() => b.unlock()).toThrow(DepError);
  });
});
