#!/usr/bin/env node
// Fails when package-lock.json lacks an entry for some package's optional dependency
// (typically a platform binary: @turbo/darwin-64, @rollup/rollup-win32-x64-msvc, …).
// `npm ci` rejects such a lockfile ("Missing: … from lock file"). It happens when the
// registry a lockfile was grown against does not have that platform build of the newest
// release: pin (or override) the parent to a release whose platform packages all exist,
// then regenerate the lockfile without node_modules (`npm install --package-lock-only` in
// a copy holding only the package.json files).

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { packages } = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));

function resolveFrom(from, name) {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (candidate in packages) return candidate;
    if (!base) return null;
    const i = base.lastIndexOf('/node_modules/');
    base = i >= 0 ? base.slice(0, i) : '';
  }
}

const missing = [];
for (const [path, info] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(info.optionalDependencies ?? {})) {
    if (!resolveFrom(path, name)) missing.push(`${name}@${range} (optional dependency of ${path || 'the root'})`);
  }
}
if (missing.length > 0) {
  console.error(`package-lock.json lacks ${missing.length} optional dependenc${missing.length === 1 ? 'y' : 'ies'}; npm ci will fail:`);
  for (const m of missing) console.error(`  ${m}`);
  process.exit(1);
}
console.log('package-lock.json: every optional dependency has an entry');
