// The CLI as bin/mobilenet runs it: dist/cli/main.js and the modules it imports, bundled by esbuild
// into dist/cli-bundle/ (one file per lazily imported part, so `--help` loads no model code). Node
// starts a command ~20 ms sooner from a few files than from the ~80 modules tsc emits, and ~7 ms
// sooner again with commander inside (a CommonJS package Node would otherwise resolve, scan for its
// exports and wrap). sharp stays external (its native parts and their lookup). The bundle sits two
// folders below the package root, as dist/engine/ does: src/engine/native.ts finds the addon from there.
//
//   node scripts/bundle-cli.mjs [dist folder]     (default: dist, after tsc)
import { build } from 'esbuild';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = resolve(process.argv[2] ?? 'dist');
// The packages bundled in come from this package's node_modules, wherever the dist folder is
// (test/pack.test.ts bundles one built outside the repository).
const nodeModules = fileURLToPath(new URL('../node_modules', import.meta.url));
await build({
  entryPoints: [join(dist, 'cli', 'main.js')],
  outdir: join(dist, 'cli-bundle'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['sharp'],
  nodePaths: [nodeModules],
  // The CommonJS packages bundled in (commander) require Node's built-in modules: give them `require`.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
