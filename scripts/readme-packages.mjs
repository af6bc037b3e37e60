#!/usr/bin/env node
// Regenerates the packages table in the root README.md (between the
// `<!-- packages:start -->` and `<!-- packages:end -->` markers) from the workspaces
// that exist. Run by new-package.mjs; run it by hand after removing a package.

import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIRS = ['packages', 'packages/drivers', 'apps'];
const START = '<!-- packages:start -->';
const END = '<!-- packages:end -->';

export function listWorkspaces(root) {
  const out = [];
  for (const dir of DIRS) {
    const abs = join(root, dir);
    if (!existsSync(abs)) continue;
    for (const entry of readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const manifest = join(abs, entry.name, 'package.json');
      if (!entry.isDirectory() || !existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
      out.push({ path: `${dir}/${entry.name}`, name: pkg.name, description: pkg.description ?? '', private: pkg.private === true });
    }
  }
  return out;
}

export function updateReadmePackagesTable(root) {
  const readmePath = join(root, 'README.md');
  if (!existsSync(readmePath)) return false;
  const text = readFileSync(readmePath, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return false;
  const kind = (w) => (w.private ? 'app (private)' : w.path.startsWith('packages/drivers/') ? 'driver' : 'library');
  const rows = listWorkspaces(root).map(
    (w) => `| [\`${w.name}\`](./${w.path}) | ${kind(w)} | ${w.description.replace(/\|/g, '\\|')} |`,
  );
  const table = ['| Package | Kind | What it is |', '| --- | --- | --- |', ...rows].join('\n');
  const next = `${text.slice(0, start + START.length)}\n${table}\n${text.slice(end)}`;
  if (next !== text) writeFileSync(readmePath, next);
  return true;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  updateReadmePackagesTable(resolve(dirname(fileURLToPath(import.meta.url)), '..'));
}
