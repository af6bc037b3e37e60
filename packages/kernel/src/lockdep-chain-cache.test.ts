import { describe, expect, it } from 'vitest';
import { Runtime, SpinLock, type Report } from './index.js';

// The chain cache (lookup_chain_cache) must never change what lockdep reports or records:
// every case here runs an acquisition pattern twice or more, so the later runs take the
// cached path, and checks that the reports and the graph are what the uncached first run
// (or a fresh runtime) gives.

const lockdepReports = (rt: Runtime): Report[] => rt.reports.list.filter((r) => r.kind === 'lockdep');
const edges = (rt: Runtime): string[] => rt.lockdep.dependencies().map((d) => `${d.from.name}->${d.to.name}:${d.kinds.join('')}`).sort();

describe('lockdep chain cache', () => {
  it('a cached chain records nothing new and reports nothing, however often it is taken', () => {
    const rt = new Runtime({ checks: 'strict' });
    const a = new SpinLock(rt, 'cc_A');
    const b = new SpinLock(rt, 'cc_B');
    const once = (): void => {
      a.lock();
      b.lock();
      b.unlock();
      a.unlock();
    };
    once();
    const after1 = edges(rt);
    for (let i = 0; i < 100; i++) once();
    expect(edges(rt)).toEqual(after1);
    expect(after1).toEqual(['cc_A->cc_B:EN']);
    expect(lockdepReports(rt)).toEqual([]);
  });

  it('the reverse order after a cached chain is still a cycle report', () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new SpinLock(rt, 'cc_A');
    const b = new SpinLock(rt, 'cc_B');
    for (let i = 0; i < 3; i++) {
      a.lock();
      b.lock();
      b.unlock();
      a.unlock();
    }
    b.lock();
    a.lock();
    a.unlock();
    b.unlock();
    const reports = lockdepReports(rt);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.message).toContain('possible circular locking dependency detected');
  });

  it('a reported recursion is not cached: each repetition is reported again, as without a cache', () => {
    const rt = new Runtime({ checks: 'warn' });
    const a1 = new SpinLock(rt, 'cc_same');
    const a2 = new SpinLock(rt, 'cc_same');
    for (let i = 0; i < 3; i++) {
      a1.lock();
      a2.lock();
      a2.unlock();
      a1.unlock();
    }
    const recursive = lockdepReports(rt).filter((r) => r.message.includes('possible recursive locking detected'));
    expect(recursive).toHaveLength(3);
  });

  it('the same lock instance held under another class is reported even on a cached chain', () => {
    const rt = new Runtime({ checks: 'warn' });
    const ld = rt.lockdep;
    const outer = ld.classFor('cc_outer');
    const inner = ld.classFor('cc_inner');
    const x = { name: 'x' };
    const y = { name: 'y' };
    const opts = { sleeping: false };
    // cache the chain outer -> inner with two different instances
    ld.acquire(outer, x, opts);
    ld.acquire(inner, y, opts);
    ld.release(y);
    ld.acquire(inner, y, opts);
    ld.release(y);
    ld.release(x);
    expect(lockdepReports(rt)).toEqual([]);
    // the same classes, but the inner acquisition is the instance already held
    ld.acquire(outer, x, opts);
    ld.acquire(inner, x, opts);
    ld.release(x);
    ld.release(x);
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain('already holds the same lock');
  });

  it('after reset() nothing cached is trusted: the first order is recorded again and its reverse reported', () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new SpinLock(rt, 'cc_A');
    const b = new SpinLock(rt, 'cc_B');
    const ab = (): void => {
      a.lock();
      b.lock();
      b.unlock();
      a.unlock();
    };
    ab();
    ab();
    rt.lockdep.reset();
    expect(edges(rt)).toEqual([]);
    ab();
    expect(edges(rt)).toEqual(['cc_A->cc_B:EN']);
    b.lock();
    a.lock();
    a.unlock();
    b.unlock();
    expect(lockdepReports(rt)).toHaveLength(1);
  });

  it('a lock released out of order leaves the locks above it uncached: dependencies are those of the real stack', () => {
    const rt = new Runtime({ checks: 'warn' });
    const ld = rt.lockdep;
    const [A, B, C, D] = ['cc_a', 'cc_b', 'cc_c', 'cc_d'].map((n) => ld.classFor(n)) as [ReturnType<typeof ld.classFor>, ReturnType<typeof ld.classFor>, ReturnType<typeof ld.classFor>, ReturnType<typeof ld.classFor>];
    const la = {};
    const lb = {};
    const lc = {};
    const ld_ = {};
    const spin = { sleeping: false };
    const tryl = { sleeping: false, trylock: true };
    // cache A, B, C(trylock) -> D: records C -> D and B -> D
    for (let i = 0; i < 2; i++) {
      ld.acquire(A, la, spin);
      ld.acquire(B, lb, spin);
      ld.acquire(C, lc, tryl);
      ld.acquire(D, ld_, spin);
      ld.release(ld_);
      ld.release(lc);
      ld.release(lb);
      ld.release(la);
    }
    expect(edges(rt)).not.toContain('cc_a->cc_d:EN');
    // B released out of order: the stack is A, C(trylock); taking D must record A -> D
    ld.acquire(A, la, spin);
    ld.acquire(B, lb, spin);
    ld.acquire(C, lc, tryl);
    ld.release(lb);
    ld.acquire(D, ld_, spin);
    ld.release(ld_);
    ld.release(lc);
    ld.release(la);
    expect(edges(rt)).toContain('cc_a->cc_d:EN');
    expect(lockdepReports(rt)).toEqual([]);
  });
});
