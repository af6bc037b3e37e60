import { describe, expect, it } from 'vitest';
import { isDepWarning, Runtime } from './index.js';

describe('WARN sink', () => {
  it('throws DepWarning under checks strict, after recording', () => {
    const rt = new Runtime({ checks: 'strict' });
    let thrown: unknown;
    try {
      rt.reports.warnOn(true, 'setError after signal');
    } catch (e) {
      thrown = e;
    }
    expect(isDepWarning(thrown)).toBe(true);
    expect(rt.reports.count('warn')).toBe(1);
  });

  it('records without throwing under checks warn', () => {
    const rt = new Runtime({ checks: 'warn' });
    expect(rt.reports.warnOn(false, 'never')).toBe(false);
    expect(rt.reports.warnOn(true, 'bad')).toBe(true);
    expect(rt.reports.list.map((r) => r.message)).toEqual(['bad']);
    expect(rt.reports.list[0]!.task).toBe('external');
  });

  it('warnOnce reports a key once', () => {
    const rt = new Runtime({ checks: 'warn' });
    for (let i = 0; i < 3; i++) rt.reports.warnOnce(true, 'once');
    expect(rt.reports.count()).toBe(1);
    rt.reports.clear();
    rt.reports.warnOnce(true, 'once');
    expect(rt.reports.count()).toBe(1);
  });

  it('capture lets a strict test assert "this warned"', () => {
    const rt = new Runtime({ checks: 'strict' });
    const { result, reports } = rt.reports.capture(() => {
      rt.reports.report('lockdep', 'possible circular locking dependency detected', ['a -> b', 'b -> a']);
      return 7;
    });
    expect(result).toBe(7);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.details).toEqual(['a -> b', 'b -> a']);
  });

  it('notifies subscribers', () => {
    const rt = new Runtime({ checks: 'warn' });
    const seen: string[] = [];
    const off = rt.reports.subscribe((r) => seen.push(r.kind));
    rt.reports.report('leak', 'x');
    off();
    rt.reports.report('leak', 'y');
    expect(seen).toEqual(['leak']);
  });
});
