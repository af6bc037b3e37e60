#!/usr/bin/env node
// Scaffold a workspace package the standard way, so that every package looks the same.
//
//   node scripts/new-package.mjs <name> [--dir packages|packages/drivers|apps]
//        [--deps kernel,dma-fence] [--description "…"] [--reserve node,testing]
//        [--force] [--no-install]
//
//   npm run new-package -- dma-fence --deps kernel --description "dma_fence and friends"
//
// Library packages (packages/, packages/drivers/) are publishable: `@dep/<name>`
// (`@dep/driver-<name>` for drivers), ESM-only, an exports map whose first condition
// `@dep/source` points at src/, tsup build, api-extractor report, publint/attw checks.
// Apps (apps/) are private workspaces: no build, no exports, no publish checks.
//
// Existing files are never overwritten unless --force is given; src/ is only created
// (with a stub index.ts) when the package has no src/ directory at all.
// After writing the files the script runs `npm install` so the workspace is linked and
// package-lock.json is updated (skip with --no-install), and refreshes the packages
// table in the root README.md.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { updateReadmePackagesTable } from './readme-packages.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SCOPE = '@dep';
const DIRS = ['packages', 'packages/drivers', 'apps'];

function fail(message) {
  process.stderr.write(`new-package: ${message}\n`);
  process.exit(1);
}

const { values: opts, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        dir: { type: 'string', default: 'packages' },
        deps: { type: 'string', default: '' },
        description: { type: 'string', default: '' },
        reserve: { type: 'string', default: '' },
        force: { type: 'boolean', default: false },
        'no-install': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
})();

if (opts.help || positionals.length !== 1) {
  process.stdout.write(
    'usage: node scripts/new-package.mjs <name> [--dir packages|packages/drivers|apps] ' +
      '[--deps kernel,dma-fence] [--description "…"] [--reserve node] [--force] [--no-install]\n',
  );
  process.exit(opts.help ? 0 : 1);
}

const shortName = positionals[0];
if (!/^[a-z][a-z0-9-]*$/.test(shortName)) fail(`bad name "${shortName}": use lower-case letters, digits and "-"`);
if (!DIRS.includes(opts.dir)) fail(`--dir must be one of ${DIRS.join(', ')}`);

const kind = opts.dir === 'apps' ? 'app' : opts.dir === 'packages/drivers' ? 'driver' : 'library';
const unscoped = kind === 'driver' ? `driver-${shortName}` : shortName;
const pkgName = `${SCOPE}/${unscoped}`;
const pkgDir = join(ROOT, opts.dir, shortName);
const up = relative(pkgDir, ROOT).split('\\').join('/'); // "../.." or "../../.."

// ---------------------------------------------------------------------------------------
// Internal dependencies: must be existing workspaces; caret range on their current version.

function workspaceManifests() {
  const out = new Map();
  for (const dir of DIRS) {
    const abs = join(ROOT, dir);
    if (!existsSync(abs)) continue;
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const manifest = join(abs, entry.name, 'package.json');
      if (!entry.isDirectory() || !existsSync(manifest)) continue;
      const json = JSON.parse(readFileSync(manifest, 'utf8'));
      out.set(json.name, json);
    }
  }
  return out;
}

const workspaces = workspaceManifests();
const dependencies = {};
for (const raw of opts.deps.split(',').map((s) => s.trim()).filter(Boolean)) {
  const depName = raw.startsWith(`${SCOPE}/`) ? raw : `${SCOPE}/${raw}`;
  const dep = workspaces.get(depName);
  if (!dep) fail(`--deps: no workspace named ${depName}`);
  if (dep.private) fail(`--deps: ${depName} is private and cannot be a dependency`);
  if (kind === 'driver' && depName.startsWith(`${SCOPE}/driver-`)) fail('drivers never import each other');
  dependencies[depName] = `^${dep.version}`;
}
const existing = workspaces.get(pkgName);
if (existing && !opts.force && existsSync(join(pkgDir, 'package.json'))) {
  fail(`${pkgName} already exists (use --force to rewrite its non-src files)`);
}

// ---------------------------------------------------------------------------------------
// File contents.

const json = (value) => `${JSON.stringify(value, null, 2)}\n`;
const sortKeys = (obj) => Object.fromEntries(Object.entries(obj).sort(([a], [b]) => a.localeCompare(b)));
const description = opts.description || `${pkgName}`;

function libraryPackageJson() {
  const exportsMap = {
    '.': { '@dep/source': './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' },
  };
  for (const sub of opts.reserve.split(',').map((s) => s.trim()).filter(Boolean)) {
    // Reserved: resolves to nothing until src/<sub>.ts exists; then replace null with
    // { "@dep/source": "./src/<sub>.ts", "types": "./dist/<sub>.d.ts", "default": "./dist/<sub>.js" }.
    exportsMap[`./${sub}`] = null;
  }
  exportsMap['./package.json'] = './package.json';
  return {
    name: pkgName,
    version: '0.1.0',
    description,
    license: 'MIT',
    type: 'module',
    sideEffects: false,
    exports: exportsMap,
    types: './dist/index.d.ts',
    files: ['dist', 'src', '!src/**/*.test.ts', '!src/**/*.test-d.ts', '!src/**/__fixtures__'],
    engines: { node: '>=20.19' },
    scripts: {
      build: 'tsup',
      typecheck: 'tsc -p tsconfig.json',
      lint: 'eslint .',
      test: 'vitest run --passWithNoTests',
      api: 'api-extractor run',
      'api:update': 'mkdir -p etc && api-extractor run --local',
      publint: 'publint --strict',
      attw: 'attw --pack . --profile esm-only',
    },
    dependencies: sortKeys(dependencies),
    publishConfig: { access: 'public' },
  };
}

function appPackageJson() {
  return {
    name: pkgName,
    version: '0.0.0',
    private: true,
    description,
    license: 'MIT',
    type: 'module',
    engines: { node: '>=20.19' },
    scripts: {
      typecheck: 'tsc -p tsconfig.json',
      lint: 'eslint .',
      test: 'vitest run --passWithNoTests',
    },
    dependencies: sortKeys(dependencies),
  };
}

const tsconfig = {
  extends: `${up}/tsconfig.base.json`,
  // Type checks (editor, `npm run typecheck`, eslint) run on source: the `@dep/source`
  // condition resolves other workspaces to their src/, so nothing needs building first.
  compilerOptions: { noEmit: true },
  include: ['src', '*.config.ts'],
};

const tsconfigBuild = {
  extends: './tsconfig.json',
  // The build (tsup, api-extractor) sees dependencies the way a consumer does: through
  // their built dist/ (turbo builds dependencies first), hence no custom condition here.
  compilerOptions: { noEmit: false, rootDir: 'src', outDir: 'dist', customConditions: [] },
  include: ['src'],
  exclude: ['src/**/*.test.ts', 'src/**/*.test-d.ts', 'src/**/__fixtures__'],
};

const tsupConfig = `// The shared build of every @dep package: see tsup.base.ts at the repository root.
import { packageConfig } from '${up}/tsup.base.js';

export default packageConfig();
`;

const vitestConfig = `import { defaultServerConditions } from 'vite';
import { defineProject } from 'vitest/config';

// Tests run on source: "@dep/source" resolves every @dep/* import to its src/.
export default defineProject({
  resolve: { conditions: ['@dep/source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['@dep/source', ...defaultServerConditions] } },
  test: {
    name: '${shortName}',
    include: ['src/**/*.test.ts'],
  },
});
`;

const apiExtractor = {
  $schema: 'https://developer.microsoft.com/json-schemas/api-extractor/v7/api-extractor.schema.json',
  extends: `${up}/api-extractor.base.json`,
  projectFolder: '.',
};

const reserved = opts.reserve.split(',').map((s) => s.trim()).filter(Boolean);
const reservedNote =
  reserved.length === 0
    ? ''
    : `## Subpaths

| Import | Status |
| --- | --- |
| \`${pkgName}\` | the package entry (\`src/index.ts\`): runs in Node and in browsers |
${reserved
  .map((sub) => `| \`${pkgName}/${sub}\` | reserved: \`"./${sub}": null\` in \`exports\` until \`src/${sub}.ts\` exists |`)
  .join('\n')}

To open a reserved subpath, write \`src/<sub>.ts\` and replace its \`null\` in \`package.json\` \`exports\` with
\`{ "@dep/source": "./src/<sub>.ts", "types": "./dist/<sub>.d.ts", "default": "./dist/<sub>.js" }\`; the
tsup config builds every subpath listed there. ${reserved.includes('node') ? 'Node-only code (`node:*` imports) is allowed only in `src/node.ts` and `src/node/**` (lint enforces it).' : ''}

`;

const readme = `# ${pkgName}

${opts.description || 'TODO: one paragraph on what this package models and for whom.'}

\`\`\`sh
npm install ${pkgName}
\`\`\`

## Kernel name → TS name

| Kernel | TS | Notes |
| --- | --- | --- |

${reservedNote}## Public API

The checked-in report [\`etc/${unscoped}.api.md\`](./etc/${unscoped}.api.md) is the public API of this
package; \`npm run api\` fails when it differs from the build. After an intended API change run
\`npm run api:update\` and add a changeset (\`npm run changeset\`).
`;

const appReadme = `# ${pkgName}

${opts.description || 'TODO: what this app shows.'}
`;

const indexStub = `// Public API of ${pkgName}: explicit named re-exports only. Anything not exported here
// does not exist for other packages.
export {};
`;

// ---------------------------------------------------------------------------------------
// Write.

const written = [];
const skipped = [];
function write(rel, content) {
  const abs = join(pkgDir, rel);
  if (existsSync(abs) && !opts.force) {
    skipped.push(rel);
    return;
  }
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, content);
  written.push(rel);
}

mkdirSync(pkgDir, { recursive: true });
if (kind === 'app') {
  write('package.json', json(appPackageJson()));
  write('README.md', appReadme);
} else {
  write('package.json', json(libraryPackageJson()));
  write('tsconfig.build.json', json(tsconfigBuild));
  write('tsup.config.ts', tsupConfig);
  write('api-extractor.json', json(apiExtractor));
  write('README.md', readme);
  if (!existsSync(join(pkgDir, 'LICENSE')) || opts.force) {
    copyFileSync(join(ROOT, 'LICENSE'), join(pkgDir, 'LICENSE'));
    written.push('LICENSE');
  }
}
write('tsconfig.json', json(tsconfig));
write('vitest.config.ts', vitestConfig);
if (!existsSync(join(pkgDir, 'src'))) write('src/index.ts', indexStub);

const relDir = relative(ROOT, pkgDir);
for (const f of written) process.stdout.write(`  wrote   ${relDir}/${f}\n`);
for (const f of skipped) process.stdout.write(`  kept    ${relDir}/${f} (exists; --force rewrites)\n`);

updateReadmePackagesTable(ROOT);

if (!opts['no-install']) {
  process.stdout.write('running npm install to link the workspace and update package-lock.json…\n');
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
}

process.stdout.write(`\n${pkgName} is at ${relDir}. Next:\n`);
if (kind !== 'app') {
  process.stdout.write(
    '  - write src/index.ts (explicit named exports), tests beside the code (*.test.ts)\n' +
      `  - npm run build -- --filter ${pkgName} && npm run api:update -- --filter ${pkgName}  (creates etc/${unscoped}.api.md; commit it)\n` +
      '  - fill in the "Kernel name → TS name" table in its README.md\n' +
      '  - npm run changeset\n',
  );
}
