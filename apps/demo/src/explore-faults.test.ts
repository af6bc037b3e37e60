import { Runtime, GFP_KERNEL } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, HarnessArming, budgetSites, parseFaults, runFaultsFlag, runFaultsLabel, shellQuote, supportedKinds } from './explore-faults.js';

describe('explore --faults: parsing', () => {
  it('absent is off, bare is the scenario default, a list is the matrix (all: every kind, in order)', () => {
    expect(parseFaults(undefined)).toEqual({ type: 'off' });
    expect(parseFaults(true)).toEqual({ type: 'default' });
    expect(parseFaults('hang,alloc')).toEqual({ type: 'matrix', kinds: ['alloc', 'hang'] });
    expect(parseFaults('all')).toEqual({ type: 'matrix', kinds: FAULT_KINDS });
    expect(parseFaults('none')).toEqual({ type: 'matrix', kinds: [] });
  });

  it('kind@site is one run (a site may hold spaces and colons); scenario kinds may come along', () => {
    expect(parseFaults('alloc@submit: grow dependency array')).toEqual({ type: 'runs', runs: [{ type: 'site', kind: 'alloc', site: 'submit: grow dependency array' }] });
    expect(parseFaults('fw-error@guc:submit,kill')).toEqual({ type: 'runs', runs: [{ type: 'site', kind: 'fw-error', site: 'guc:submit' }, { type: 'kind', kind: 'kill' }] });
  });

  it('rejects unknown kinds, sites on kinds without sites, empty sites and lists', () => {
    expect(() => parseFaults('alloc,meteor')).toThrow('unknown fault kind "meteor"');
    expect(() => parseFaults('kill@q0')).toThrow('"kill" has no sites');
    expect(() => parseFaults('alloc@')).toThrow('name a site after the @');
    expect(() => parseFaults(',')).toThrow('expected a list');
    expect(() => parseFaults('alloc@x,hang')).toThrow('mix kind@site only with kinds a scenario injects');
  });

  it('labels and replay flags round-trip through the parser, quoted for the shell', () => {
    const site = { type: 'site', kind: 'alloc', site: "grow it's array" } as const;
    expect(runFaultsLabel(site)).toBe("alloc@grow it's array");
    expect(runFaultsFlag(site)).toBe(" --faults 'alloc@grow it'\\''s array'");
    expect(runFaultsFlag({ type: 'none' })).toBe('');
    expect(runFaultsFlag({ type: 'default' })).toBe(' --faults');
    expect(runFaultsFlag({ type: 'kind', kind: 'device-lost' })).toBe(' --faults device-lost');
    expect(shellQuote('alloc@drm_dep_job_init')).toBe('alloc@drm_dep_job_init');
    expect(parseFaults(runFaultsLabel(site))).toEqual({ type: 'runs', runs: [site] });
  });

  it('a scenario without faultKinds takes the kinds the harness arms itself', () => {
    expect(supportedKinds({})).toEqual(['alloc', 'hang', 'fw-error', 'page-fault']);
    expect(supportedKinds({ faultKinds: ['kill'] })).toEqual(['kill']);
  });

  it('a site budget takes maxSites sites in turn by seed, all of them without one', () => {
    const sites = ['a', 'b', 'c', 'd', 'e'];
    expect(budgetSites(sites, 1)).toEqual(sites);
    expect(budgetSites(sites, 0, 2)).toEqual(['a', 'b']);
    expect(budgetSites(sites, 1, 2)).toEqual(['c', 'd']);
    expect(budgetSites(sites, 2, 2)).toEqual(['e', 'a']);
    expect(budgetSites(['a'], 7, 3)).toEqual(['a']);
  });
});

describe('HarnessArming', () => {
  it('records the sites called after arming (not before) and fails the first call at one site', () => {
    const rt = new Runtime({ checks: 'warn' });
    rt.alloc(GFP_KERNEL, 'setup');
    const record = new HarnessArming({ type: 'none' });
    record.arm(rt);
    rt.alloc(GFP_KERNEL, 'job_init');
    rt.alloc(GFP_KERNEL, 'job_init');
    rt.alloc(GFP_KERNEL, 'add_dependency');
    rt.faults.should('hw-hang', 'guc0');
    expect([...record.sitesHit().get('alloc')!]).toEqual([['job_init', 2], ['add_dependency', 1]]);
    expect([...record.sitesHit().get('hang')!]).toEqual([['guc0', 1]]);
    expect(record.injected()).toBe(0);
    expect(record.runtimes).toBe(1);

    const rt2 = new Runtime({ checks: 'warn' });
    const one = new HarnessArming({ type: 'site', kind: 'alloc', site: 'job_init' });
    one.arm(rt2);
    expect(() => rt2.alloc(GFP_KERNEL, 'job_init')).toThrow(/ENOMEM/);
    rt2.alloc(GFP_KERNEL, 'job_init'); // only the first call
    expect(one.injected()).toBe(1);
    expect(one.kinds).toEqual(['alloc']);
    const hang = new HarnessArming({ type: 'site', kind: 'hang', site: 'guc1' });
    const rt3 = new Runtime({ checks: 'warn' });
    hang.arm(rt3);
    expect([rt3.faults.should('hw-hang', 'guc0'), rt3.faults.should('hw-hang', 'guc1'), rt3.faults.should('hw-hang', 'guc1')]).toEqual([false, true, false]);
  });
});
