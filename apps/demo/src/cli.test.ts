import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main, type CliIO } from './cli.js';
import type { Scenario, ScenarioOptions } from './scenarios/index.js';

function capture(): CliIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    color: false,
    out: () => out,
    err: () => err,
  };
}

// Test-local scenarios: they exercise the dispatch, they are not registered in the app.
function recorder(name: string, seen: ScenarioOptions[]): Scenario {
  return { name, summary: `records its options (${name})`, run: (opts) => void seen.push(opts) };
}

describe('demo CLI arguments', () => {
  it('rejects an unknown scenario with a non-zero exit code and says which', async () => {
    const io = capture();
    const code = await main(['no-such-scenario'], io, [recorder('kernel', [])]);
    expect(code).not.toBe(0);
    expect(io.err()).toContain('unknown scenario "no-such-scenario"');
    expect(io.err()).toContain('available: kernel');
  });

  it('rejects an unknown scenario when none are registered', async () => {
    const io = capture();
    expect(await main(['kernel'], io, [])).not.toBe(0);
    expect(io.err()).toContain('no scenarios are registered yet');
  });

  it('rejects a seed that is not a non-negative integer', async () => {
    for (const bad of ['abc', '-1', '1.5', '1e3', '99999999999999999999']) {
      const io = capture();
      expect(await main(['--seed', bad], io, [])).not.toBe(0);
      expect(io.err()).toContain("option '--seed <n>' argument");
    }
  });

  it('rejects an unknown flag', async () => {
    const io = capture();
    expect(await main(['--bogus'], io, [])).not.toBe(0);
    expect(io.err()).toContain("unknown option '--bogus'");
  });

  it('prints help with the scenario list and exits 0', async () => {
    const io = capture();
    expect(await main(['--help'], io, [recorder('kernel', [])])).toBe(0);
    expect(io.out()).toContain('Usage: dep-demo');
    expect(io.out()).toMatch(/kernel\s+records its options \(kernel\) \(default\)/);
  });

  it('runs the named scenario with the parsed seed', async () => {
    const a: ScenarioOptions[] = [];
    const b: ScenarioOptions[] = [];
    const io = capture();
    expect(await main(['other', '--seed', '42'], io, [recorder('kernel', a), recorder('other', b)])).toBe(0);
    expect(a).toHaveLength(0);
    expect(b.map((o) => o.seed)).toEqual([42]);
  });

  it('runs the default scenario (kernel) when none is named, seed 1 by default', async () => {
    const k: ScenarioOptions[] = [];
    expect(await main([], capture(), [recorder('other', []), recorder('kernel', k)])).toBe(0);
    expect(k.map((o) => o.seed)).toEqual([1]);
  });

  it('exits non-zero when the scenario throws', async () => {
    const io = capture();
    const boom: Scenario = { name: 'kernel', summary: 'throws', run: () => { throw new Error('boom'); } };
    expect(await main([], io, [boom])).not.toBe(0);
    expect(io.err()).toContain('scenario "kernel" failed');
  });

  it('as a process: unknown scenario → exit code 1 and a message on stderr', () => {
    const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--conditions=@dep/source', '--import', 'tsx', cli, 'no-such-scenario'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown scenario "no-such-scenario"');
  });
});
