import { readFileSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

// One entry per subpath in the package's "exports" whose "@dep/source" condition names a
// file under src/: "./node": { "@dep/source": "./src/node.ts", …, "default": "./dist/node.js" }
// builds src/node.ts to dist/node.js. Adding a subpath is a package.json edit only.
interface ExportTarget {
  '@dep/source'?: string;
  default?: string;
}

function entries(packageJsonPath: string): Record<string, string> {
  const pkg = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as {
    exports: Record<string, ExportTarget | string | null>;
  };
  const entry: Record<string, string> = {};
  for (const target of Object.values(pkg.exports)) {
    if (target === null || typeof target !== 'object') continue;
    const source = target['@dep/source'];
    const out = target.default;
    if (source === undefined || out === undefined) continue;
    entry[out.replace(/^\.\/dist\//, '').replace(/\.js$/, '')] = source.replace(/^\.\//, '');
  }
  return entry;
}

/**
 * The build every @dep package shares (run by tsup from the package's directory): ESM only,
 * es2022, declarations through the TS 6 API (which needs `ignoreDeprecations`), source maps.
 */
export function packageConfig(): Options | Options[] {
  return defineConfig({
    entry: entries('package.json'),
    format: ['esm'],
    target: 'es2022',
    platform: 'neutral',
    tsconfig: 'tsconfig.build.json',
    dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: false,
  }) as Options | Options[];
}
