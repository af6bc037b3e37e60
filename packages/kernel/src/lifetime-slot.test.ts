import { describe, expect, it } from 'vitest';
import { Runtime } from './index.js';

// The tracker keeps an object's latest entry in a private slot on the object (no weak-map
// entry per object); these cases pin what must not change because of that.

describe('lifetime tracker slot', () => {
  it('tracks an object in two runtimes independently (the second one falls back to its weak map)', () => {
    const rt1 = new Runtime({ checks: 'warn' });
    const rt2 = new Runtime({ checks: 'warn' });
    const obj = {};
    const t1 = rt1.lifetimes.track(obj, 'thing', 'site1');
    const t2 = rt2.lifetimes.track(obj, 'thing', 'site2');
    expect(rt1.lifetimes.tokenOf(obj)).toBe(t1);
    expect(rt2.lifetimes.tokenOf(obj)).toBe(t2);
    rt1.lifetimes.release(t1);
    expect(rt1.lifetimes.isReleased(obj)).toBe(true);
    expect(rt2.lifetimes.isReleased(obj)).toBe(false);
    expect(rt1.lifetimes.liveCount).toBe(0);
    expect(rt2.lifetimes.live()).toEqual([t2]);
  });

  it('leaves the object looking the same: no own keys, no symbols, equal to an untracked twin', () => {
    const rt = new Runtime({ checks: 'warn' });
    const obj = { a: 1 };
    rt.lifetimes.track(obj, 'thing', 'site');
    expect(Reflect.ownKeys(obj)).toEqual(['a']);
    expect(obj).toStrictEqual({ a: 1 });
  });

  it('tracks frozen objects and keeps live entries in creation order across releases', () => {
    const rt = new Runtime({ checks: 'warn' });
    const objs = [Object.freeze({}), {}, {}, {}];
    const tokens = objs.map((o, i) => rt.lifetimes.track(o, 'thing', `site${i}`));
    rt.lifetimes.release(tokens[1]!);
    rt.lifetimes.release(tokens[3]!);
    expect(rt.lifetimes.live()).toEqual([tokens[0], tokens[2]]);
    expect(rt.lifetimes.tokenOf(objs[0]!)).toBe(tokens[0]);
    // a released object may be tracked again (memory reused); an alive one may not
    const again = rt.lifetimes.track(objs[1]!, 'thing', 'again');
    expect(rt.lifetimes.live()).toEqual([tokens[0], tokens[2], again]);
    expect(() => rt.lifetimes.track(objs[2]!, 'thing', 'dup')).toThrow(/already tracked/);
  });
});
