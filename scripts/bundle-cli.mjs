// The CLI as bin/mobilenet runs it: dist/cli/main.js and the modules it imports, bundled by esbuild
// into dist/cli-bundle/ (one file per lazily imported part, so `--help` loads no model code). Node
// starts a command ~20 ms sooner from a few files than from the ~80 modules tsc emits. Dependencies
// stay external (installed packages, sharp with its native parts). The bundle sits two folders below
// the package root, as dist/engine/ does: src/engine/native.ts finds the addon from there.
//
//   node scripts/bundle-cli.mjs [dist folder]     (default: dist, after tsc)
import { build } from 'esbuild';
import { join, resolve } from 'node:path';

const dist = resolve(process.argv[2] ?? 'dist');
await build({
  entryPoints: [join(dist, 'cli', 'main.js')],
  outdir: join(dist, 'cli-bundle'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
