#!/usr/bin/env node
// Pack every publishable workspace and prove each one installs and works on its own.
//
//   node scripts/pack-smoke.mjs [--no-build] [--keep] [@dep/name …]
//
// 1. build (turbo, cached), then `npm pack` every publishable (non-private) workspace into
//    a temp dir;
// 2. for EACH package, a scratch project that depends on that tarball alone, with
//    `overrides` mapping every other @dep/* to its tarball (so internal dependencies come
//    from the packs, never from the registry), and `npm install --prefer-offline`;
// 3. checks: `npm ls --all` is clean and holds exactly the package plus the closure of its
//    declared @dep dependencies; every exported subpath imports in Node and has named
//    exports; require() of it works (require(esm), Node >= 20.19); a .mts consumer that
//    imports each runtime export by name type-checks with `tsc` (module nodenext,
//    skipLibCheck off, so the shipped .d.ts are checked too).
//    A package's peer dependencies (optional ones included: a subpath such as
//    `@dep/conformance/vitest` or `@dep/driver-xe/conformance` needs them) are installed
//    beside it — @dep ones from their tarballs (their @dep closure joins the expected set),
//    others symlinked from the repository's node_modules after the tree check.
// One line per package; exit 1 if anything failed (the scratch dir is then kept).

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listWorkspaces } from './readme-packages.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'node_modules', '.bin');

const { values: opts, positionals: only } = parseArgs({
  allowPositionals: true,
  options: { 'no-build': { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } },
});

function run(cmd, args, cwd, { allowFail = false } = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.error) throw r.error;
  if (r.status !== 0 && !allowFail) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').filter((l) => !/Unknown (user|env) config/.test(l));
    throw new Error(`${cmd} ${args.join(' ')} (exit ${r.status})\n    ${out.slice(-25).join('\n    ')}`);
  }
  return r;
}

const all = listWorkspaces(ROOT).filter((w) => !w.private);
const manifests = new Map(all.map((w) => [w.name, JSON.parse(readFileSync(join(ROOT, w.path, 'package.json'), 'utf8'))]));
const targets = only.length > 0 ? all.filter((w) => only.includes(w.name)) : all;
if (targets.length === 0) {
  console.log('pack-smoke: no publishable workspaces');
  process.exit(only.length > 0 ? 1 : 0);
}

if (!opts['no-build']) {
  console.log('pack-smoke: building…');
  execFileSync(join(BIN, 'turbo'), ['run', 'build', '--output-logs=errors-only'], { cwd: ROOT, stdio: 'inherit' });
}

const tmp = mkdtempSync(join(tmpdir(), 'dep-pack-smoke-'));
const packsDir = join(tmp, 'packs');
mkdirSync(packsDir);

// Pack everything publishable (dependencies of the targets must be packed too).
const packed = JSON.parse(
  run('npm', ['pack', '--json', '--pack-destination', packsDir, ...all.flatMap((w) => ['-w', w.name])], ROOT).stdout,
);
const tarball = new Map(packed.map((p) => [p.name, join(packsDir, p.filename)]));

function depClosure(name, seen = new Set()) {
  for (const dep of Object.keys(manifests.get(name)?.dependencies ?? {})) {
    if (!dep.startsWith('@dep/') || seen.has(dep)) continue;
    seen.add(dep);
    depClosure(dep, seen);
  }
  return seen;
}

/** The package's @dep peer dependencies, as consumer dependencies on their tarballs. */
function peersOf(name) {
  const peers = Object.keys(manifests.get(name)?.peerDependencies ?? {}).filter((p) => p.startsWith('@dep/'));
  return Object.fromEntries(peers.map((p) => [p, `file:${tarball.get(p)}`]));
}

/** Its other peer dependencies (e.g. vitest): symlinked from the repository's node_modules. */
function linkForeignPeers(name, consumer) {
  for (const p of Object.keys(manifests.get(name)?.peerDependencies ?? {})) {
    if (p.startsWith('@dep/')) continue;
    const at = join(consumer, 'node_modules', p);
    mkdirSync(dirname(at), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', p), at, 'dir');
  }
}

function exportedSubpaths(manifest) {
  return Object.entries(manifest.exports ?? { '.': manifest.main })
    .filter(([sub, target]) => target !== null && sub !== './package.json' && !sub.includes('*'))
    .map(([sub]) => (sub === '.' ? manifest.name : `${manifest.name}/${sub.slice(2)}`));
}

const IDENT = /^[A-Za-z_$][\w$]*$/;
let failures = 0;

for (const w of targets) {
  const started = Date.now();
  const consumer = join(tmp, 'consumers', w.name.replace('@dep/', ''));
  mkdirSync(consumer, { recursive: true });
  try {
    const own = tarball.get(w.name);
    if (!own) throw new Error('npm pack produced no tarball');
    const overrides = Object.fromEntries([...tarball].filter(([n]) => n !== w.name).map(([n, t]) => [n, `file:${t}`]));
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'pack-smoke-consumer', private: true, type: 'module', dependencies: { [w.name]: `file:${own}`, ...peersOf(w.name) }, overrides }, null, 2),
    );
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'], consumer);

    // The tree: clean, and exactly the package plus its declared @dep closure.
    const ls = JSON.parse(run('npm', ['ls', '--all', '--json'], consumer).stdout);
    const found = new Set();
    const fromTarball = new Set();
    (function walk(deps) {
      for (const [name, info] of Object.entries(deps ?? {})) {
        if (name.startsWith('@dep/')) {
          // A deduped occurrence (a diamond: two packages depending on the same @dep) has
          // no `resolved`; the hoisted one carries it, and must name the tarball.
          if (info.resolved !== undefined) {
            if (!String(info.resolved).startsWith('file:')) throw new Error(`${name} did not come from its tarball (${info.resolved})`);
            fromTarball.add(name);
          }
          found.add(name);
        }
        walk(info.dependencies);
      }
    })(ls.dependencies);
    const unresolved = [...found].filter((n) => !fromTarball.has(n));
    if (unresolved.length) throw new Error(`no installed copy of [${unresolved}] came from its tarball`);
    const expected = new Set([w.name, ...depClosure(w.name)]);
    for (const peer of Object.keys(peersOf(w.name))) if (peer.startsWith('@dep/')) for (const n of [peer, ...depClosure(peer)]) expected.add(n);
    const extra = [...found].filter((n) => !expected.has(n));
    const missing = [...expected].filter((n) => !found.has(n));
    if (extra.length || missing.length) throw new Error(`installed @dep set is wrong: missing [${missing}] extra [${extra}]`);

    linkForeignPeers(w.name, consumer);

    // Runtime: every subpath imports and has named exports; require(esm) works.
    const subpaths = exportedSubpaths(manifests.get(w.name));
    let rootKeys = [];
    for (const spec of subpaths) {
      const r = run(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(spec)}); process.stdout.write(JSON.stringify(Object.keys(m)));`], consumer);
      const keys = JSON.parse(r.stdout);
      if (keys.length === 0) throw new Error(`import("${spec}") has no named exports`);
      if (spec === w.name) rootKeys = keys;
      run(process.execPath, ['--no-warnings', '-e', `require(${JSON.stringify(spec)})`], consumer);
    }

    // Types: a consumer importing every runtime export by name type-checks.
    const names = rootKeys.filter((k) => IDENT.test(k) && k !== 'default');
    writeFileSync(
      join(consumer, 'consumer.mts'),
      `import * as ns from '${w.name}';\n` +
        `import { ${names.join(', ')} } from '${w.name}';\n` +
        `export const values: unknown[] = [${names.join(', ')}];\n` +
        `export type Namespace = typeof ns;\n` +
        subpaths.filter((s) => s !== w.name).map((s, i) => `import * as sub${i} from '${s}';\nexport type Sub${i} = typeof sub${i};\n`).join(''),
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022'], strict: true,
          noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['consumer.mts'],
      }, null, 2),
    );
    run(join(BIN, 'tsc'), ['-p', 'tsconfig.json'], consumer);

    const deps = [...depClosure(w.name)];
    console.log(`pack-smoke ok    ${w.name}  (${rootKeys.length} exports, ${subpaths.length} subpath${subpaths.length === 1 ? '' : 's'}, @dep deps: ${deps.length ? deps.join(' ') : 'none'}; ${((Date.now() - started) / 1000).toFixed(1)}s)`);
  } catch (err) {
    failures++;
    console.log(`pack-smoke FAIL  ${w.name}  ${err instanceof Error ? err.message : String(err)}`);
  }
}

if (failures > 0 || opts.keep) {
  console.log(`pack-smoke: scratch projects kept in ${tmp}`);
} else {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`pack-smoke: ${targets.length - failures} ok, ${failures} failed`);
process.exit(failures > 0 ? 1 : 0);
