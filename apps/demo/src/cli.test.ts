import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkChromeTrace } from './chrome-trace.js';
import { main, type CliIO } from './cli.js';
import { createProgress } from './progress.js';
import { DEFAULT_SCENARIO, scenarios as registered, type Scenario, type ScenarioOptions } from './scenarios/index.js';

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
    expect(await main(['--help'], io, [recorder('kernel', []), recorder(DEFAULT_SCENARIO, [])])).toBe(0);
    expect(io.out()).toContain('Usage: dep-demo');
    expect(io.out()).toMatch(new RegExp(`${DEFAULT_SCENARIO}\\s+records its options \\(${DEFAULT_SCENARIO}\\) \\(default\\)`));
    expect(io.out()).not.toMatch(/kernel\s+records its options \(kernel\) \(default\)/);
  });

  it('runs the named scenario with the parsed seed', async () => {
    const a: ScenarioOptions[] = [];
    const b: ScenarioOptions[] = [];
    const io = capture();
    expect(await main(['other', '--seed', '42'], io, [recorder('kernel', a), recorder('other', b)])).toBe(0);
    expect(a).toHaveLength(0);
    expect(b.map((o) => o.seed)).toEqual([42]);
  });

  it('runs the default scenario (flagship) when none is named, seed 1 by default', async () => {
    const k: ScenarioOptions[] = [];
    expect(DEFAULT_SCENARIO).toBe('flagship');
    expect(await main([], capture(), [recorder('other', []), recorder(DEFAULT_SCENARIO, k)])).toBe(0);
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

describe('demo CLI: outputs and options', () => {
  it('--trace and --html write a valid Chrome trace and a page, and say where', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dep-demo-cli-'));
    try {
      const io = capture();
      const trace = join(dir, 'sub', 'out.json');
      const html = join(dir, 'out.html');
      expect(await main(['bypass-vs-worker', '--frames', '2', '--seed', '3', '--trace', trace, '--html', html], io)).toBe(0);
      expect(checkChromeTrace(JSON.parse(readFileSync(trace, 'utf8')))).toEqual([]);
      expect(readFileSync(html, 'utf8')).toContain('dep demo: bypass-vs-worker');
      expect(io.out()).toContain(`wrote ${trace}`);
      expect(io.out()).toContain(`wrote ${html}`);
      expect(io.out()).toMatch(/^bypass-vs-worker seed=3 frames=2\n/);
      expect(io.out()).toContain('✔ verdict: all fences signalled');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the same seed prints the same run; the summary names the hash', async () => {
    const a = capture();
    const b = capture();
    await main(['kernel', '--seed', '5'], a);
    await main(['kernel', '--seed', '5'], b);
    expect(a.out()).toBe(b.out());
    expect(a.out()).toMatch(/trace hash [0-9a-f]{16} \(same seed, same hash\)/);
  });

  it('a scenario option is refused for a scenario that does not take it, or with a bad value', async () => {
    let io = capture();
    expect(await main(['kernel', '--frames', '3'], io)).toBe(1);
    expect(io.err()).toContain('--frames applies to bypass-vs-worker, irq-put, not to kernel');
    io = capture();
    expect(await main(['irq-put', '--frames', 'many'], io)).toBe(1);
    expect(io.err()).toContain('--frames must be an integer from 1 to 100000 (got "many")');
    io = capture();
    const withChoice: Scenario = { name: 'c', summary: 's', params: [{ name: 'ordering', description: 'd', choices: ['none', 'slot'], default: 'none' }], run: () => undefined };
    expect(await main(['c', '--ordering', 'gate'], io, [withChoice])).toBe(1);
    expect(io.err()).toContain('--ordering must be one of none, slot (got "gate")');
  });

  it('scenario options reach the scenario, defaults filled in', async () => {
    const seen: ScenarioOptions[] = [];
    const s: Scenario = { name: 'c', summary: 's', params: [{ name: 'ordering', description: 'd', choices: ['none', 'slot'], default: 'none' }, { name: 'n', description: 'd', integer: { min: 1, max: 9 }, default: '2' }], run: (o) => void seen.push(o) };
    expect(await main(['c', '--ordering', 'slot', '--chaos', '--faults'], capture(), [s])).toBe(0);
    expect(seen[0]).toMatchObject({ params: { ordering: 'slot', n: '2' }, chaos: true, faults: true });
  });

  it('--trace for a scenario that returns no result is an error', async () => {
    const io = capture();
    expect(await main(['kernel', '--trace', join(tmpdir(), 'never.json')], io, [recorder('kernel', [])])).toBe(1);
    expect(io.err()).toContain('returns no trace to write');
    expect(existsSync(join(tmpdir(), 'never.json'))).toBe(false);
  });

  it('--help explains the outputs, shows examples, every registered scenario and its options', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(0);
    const out = io.out();
    for (const s of registered) expect(out).toContain(`  ${s.name}`);
    for (const text of ['--trace <file>', '--html <file>', '--seed <n>', '--chaos', '--faults', 'Examples:', 'npm run demo -- explore', 'options: --frames <n>', 'explore [options]']) expect(out).toContain(text);
  });

  it('--list prints the scenarios only', async () => {
    const io = capture();
    expect(await main(['--list'], io)).toBe(0);
    expect(io.out()).toMatch(new RegExp(`^ {2}${DEFAULT_SCENARIO} `));
    expect(io.out()).not.toContain('Usage');
  });
});

describe('demo CLI: explore', () => {
  it('explores seeds on workers, prints the outcome table and a replay line per failure, exit 1', async () => {
    const io = capture();
    expect(await main(['explore', '--scenario', 'kernel', '--seeds', '6', '--workers', '2'], io)).toBe(1);
    const out = io.out();
    expect(out).toMatch(/explore kernel seeds 1…6, 2 worker\(s\)/);
    expect(out).toMatch(/✘ deadlock/);
    expect(out).toMatch(/✔ completed/);
    const replays = out.split('\n').filter((l) => l.includes('npm run demo -- kernel --seed'));
    expect(replays.length).toBeGreaterThan(0);
    expect(replays.some((l) => /npm run demo -- kernel --seed 2\s+# deadlock/.test(l))).toBe(true); // kernel.test.ts: seed 2 deadlocks
    // Each replay line replays: the named seed deadlocks when run on its own.
    const seed = /--seed (\d+)/.exec(replays[0]!)![1]!;
    const one = capture();
    await main(['kernel', '--seed', seed], one);
    expect(one.out()).toContain('✘ verdict: deadlock');
  }, 60_000);

  it('flags after "explore" are explore\'s: --chaos reaches the runs and the replay lines', async () => {
    const io = capture();
    await main(['explore', '--scenario', 'kernel', '--seeds', '3', '--chaos', '--workers', '1'], io);
    expect(io.out()).toContain('chaos: on');
    expect(io.out()).toMatch(/npm run demo -- kernel --seed 2 --chaos\s+# deadlock/);
  }, 60_000);

  it('a shard explores only its seeds', async () => {
    const io = capture();
    await main(['explore', '--scenario', 'kernel', '--seeds', '8', '--shard', '2/4', '--workers', '1', '--all-failures'], io);
    expect(io.out()).toContain('shard 2/4');
    expect(io.out()).toContain('2 seed(s) in');
    const seeds = [...io.out().matchAll(/--seed (\d+)/g)].map((m) => Number(m[1]));
    expect(seeds.every((s) => s === 2 || s === 6)).toBe(true);
  }, 60_000);

  it('--faults <list>: per seed the recording run, then one run per allocation site; exit 0 when every invariant held', async () => {
    const io = capture();
    expect(await main(['explore', '--scenario', 'inactive-fence', '--seeds', '2', '--faults', 'alloc,kill', '--workers', '1'], io)).toBe(0);
    const out = io.out();
    expect(out).toContain('faults: alloc, kill (one run per site or kind)');
    expect(out).toMatch(/(\d+) run\(s\) of 2 seed\(s\) in .* every invariant checked after every run/);
    expect(Number(/(\d+) run\(s\) of 2 seed/.exec(out)![1])).toBeGreaterThan(2);
    expect(out).toContain('every invariant held');
  }, 60_000);

  it('kind@site replays exactly one faulted run; a bad --faults value is an error', async () => {
    let io = capture();
    expect(await main(['explore', '--scenario', 'teardown-under-load', '--first-seed', '3', '--seeds', '1', '--faults', 'alloc@drm_dep_job_init', '--workers', '1'], io)).toBe(0);
    expect(io.out()).toContain('faults: alloc@drm_dep_job_init');
    expect(io.out()).toContain('No failures in 1 run(s)');
    io = capture();
    expect(await main(['explore', '--faults', 'alloc,meteor'], io)).toBe(1);
    expect(io.err()).toContain('--faults: unknown fault kind "meteor"');
    io = capture();
    expect(await main(['explore', '--faults', 'kill@x'], io)).toBe(1);
    expect(io.err()).toContain('"kill" has no sites');
  }, 60_000);

  it('--report: scenarios × fault kinds × seeds as a table and a Markdown file; demonstrated failures do not fail it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dep-report-'));
    try {
      const file = join(dir, 'report.md');
      const io = capture();
      expect(await main(['explore', '--report', file, '--scenario', 'kernel,teardown-under-load', '--seeds', '2', '--faults', 'alloc,hang,kill', '--workers', '2'], io)).toBe(0);
      const out = io.out();
      expect(out).toContain('explore --report 2 scenario(s) × seeds 1…2 × faults alloc, hang, kill');
      expect(out).toMatch(/teardown-under-load\s+alloc\s+2\s+\d+\s+\d+\s+\d+\s+0\s+0\s+\d+\s+0/);
      expect(out).toMatch(/kernel\s+alloc\s+\d+\s+\d+\s+1\s+\d+\s+0\s+0\s+\d+\s+0/);
      expect(out).toMatch(/kernel: hang, kill: not taken by the scenario \(the runtime alone, demonstrating lockdep: no device/);
      expect(out).toMatch(/teardown-under-load: hang, kill: not taken by the scenario \(mock engines/);
      expect(out).toMatch(/seeds\/s, [\d.,]+ runs\/s, [\d.,]+ virtual events\/s/);
      expect(out).toContain('No invariant violations');
      const md = readFileSync(file, 'utf8');
      expect(md).toContain('# Exploration report');
      expect(md).toMatch(/\| kernel \| none \| 2 \| 2 \|/);
      expect(md).toContain('**Throughput:**');
      expect(md).toContain('## Invariant violations and runs that threw (0)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('rejects a bad shard, a bad seed count, an unknown scenario', async () => {
    let io = capture();
    expect(await main(['explore', '--shard', '5/4'], io)).not.toBe(0);
    expect(io.err()).toContain("option '--shard <i/n>' argument '5/4' is invalid");
    io = capture();
    expect(await main(['explore', '--seeds', '0'], io)).not.toBe(0);
    expect(io.err()).toContain('expected a positive integer');
    io = capture();
    expect(await main(['explore', '--scenario', 'nope'], io)).toBe(1);
    expect(io.err()).toContain('unknown scenario "nope"');
  }, 60_000);
});

describe('progress bar', () => {
  class Sink extends Writable {
    text = '';
    isTTY: boolean;
    columns = 100;
    constructor(tty: boolean) {
      super();
      this.isTTY = tty;
    }
    override _write(chunk: Buffer, _enc: string, cb: () => void): void {
      this.text += chunk.toString();
      cb();
    }
  }

  it('never draws into a pipe or a file', () => {
    const sink = new Sink(false);
    const p = createProgress('run', { enabled: true, stream: sink, delayMs: 0 });
    p.update(1, 10);
    p.update(5, 10);
    p.stop();
    expect(sink.text).toBe('');
  });

  it('on a terminal, draws only once the run lasted longer than a moment', () => {
    let now = 0;
    const sink = new Sink(true);
    const p = createProgress('explore kernel', { enabled: true, stream: sink, delayMs: 300, unit: 'seeds', now: () => now });
    p.update(1, 10);
    expect(sink.text).toBe('');
    now = 400;
    p.update(4, 10);
    p.stop();
    expect(sink.text).toContain('explore kernel');
    expect(sink.text).toContain('40%');
    expect(sink.text).toContain('4/10 seeds');
  });

  it('is off when disabled, even on a terminal', () => {
    const sink = new Sink(true);
    const p = createProgress('x', { enabled: false, stream: sink, delayMs: 0 });
    p.update(1, 2);
    p.stop();
    expect(sink.text).toBe('');
  });
});
