// Installs the benchmark peers (bench/package.json: onnxruntime-node) into bench/node_modules on
// first use, so that users of the classifier never download them. --ignore-scripts: the CPU build of
// onnxruntime-node ships inside its npm package; its install script only fetches GPU extras from a
// host outside the npm registry. Then builds the XNNPACK peer (bench/xnnpack) when XNNPACK is
// installed; without it that peer's rows are skipped, with the reason.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildXnnpackPeer } from './xnnpack/build.mjs';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
if (!existsSync(new URL('node_modules/onnxruntime-node/package.json', import.meta.url))) {
  process.stderr.write('bench: installing the benchmark peers (onnxruntime-node) into bench/node_modules\n');
  const lockfile = existsSync(new URL('package-lock.json', import.meta.url));
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, [lockfile ? 'ci' : 'install', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: benchDir,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    process.stderr.write('bench: could not install the benchmark peers (see above)\n');
    process.exit(1);
  }
}

const xnnpack = buildXnnpackPeer();
if (!xnnpack.built) process.stderr.write(`bench: the XNNPACK peer is skipped: ${xnnpack.reason}\n`);
