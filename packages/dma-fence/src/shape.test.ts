// The shape sentinel (decision 0204): the plain DmaFence hidden class always has a live
// instance, so a full GC that finds no other fence does not throw away the optimized code
// built on it. Hidden classes are only visible to V8's natives syntax, so that part runs
// in a child process with --allow-natives-syntax.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fenceShapeSentinel } from './fence.js';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');

// In the child: a fence in every state, made every way, checks off and strict, against the
// sentinel's map; then again after every fence died and two full GCs.
const CHILD = `
import { Runtime } from '@dep/kernel';
import { DmaFence } from '@dep/dma-fence';
import { fenceShapeSentinel } from './src/fence.ts';
const S = fenceShapeSentinel();
const out = [];
const check = (what, f) => out.push([what, %HaveSameMap(f, S)]);
const ops = { getDriverName: () => 'd', getTimelineName: () => 't' };
const opsWithRelease = { ...ops, release: () => {}, enableSignaling: () => true };
for (const checks of ['off', 'strict']) {
  const rt = new Runtime({ checks });
  const f = new DmaFence(ops, 1n, 1n, { runtime: rt });
  check(checks + ' new', f);
  f.addCallback(() => {});
  f.addCallback(() => {});
  check(checks + ' two callbacks', f);
  f.signal();
  check(checks + ' signalled', f);
  f.put();
  check(checks + ' released', f);
  const g = new DmaFence(opsWithRelease, 2n, 1n, { runtime: rt, lockClass: '&test->lock', seqno64: true });
  g.setError(-5);
  g.signal();
  check(checks + ' lock class, error, kept ops', g);
  const e = new DmaFence();
  check(checks + ' uninitialized', e);
  e.init(ops, 3n, 1n, { runtime: rt });
  check(checks + ' embedded init', e);
}
globalThis.gc();
globalThis.gc();
check('new after full GCs', new DmaFence(ops, 1n, 2n, { runtime: new Runtime({ checks: 'off' }) }));
console.log(JSON.stringify(out));
`;

describe('shape sentinel (decision 0204)', () => {
  it('is an uninitialized plain fence', () => {
    const s = fenceShapeSentinel();
    expect(s.wasInitialized()).toBe(false);
    expect(s.refcount).toBe(0);
    expect(s.ops).toBeNull();
  });

  it('every plain fence has its hidden class, in every state and after full GCs (V8 natives)', () => {
    const r = spawnSync(
      process.execPath,
      ['--allow-natives-syntax', '--expose-gc', '--conditions=@dep/source', '--import', 'tsx', '--input-type=module', '-e', CHILD],
      { cwd: PKG, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stderr).toBe('');
    const checks = JSON.parse(r.stdout.trim()) as Array<[string, boolean]>;
    expect(checks.length).toBe(2 * 7 + 1);
    expect(checks.filter(([, same]) => !same)).toEqual([]);
  }, 60_000);
});
