// npm "install" script. First choice: the prebuilt addon the npm tarball carries for this platform
// (prebuilds/<platform>-<arch>/mobilenet_native.node, made by `npm run build:prebuilds`): if it
// loads here, nothing is built, so no CMake and no compiler are needed. Otherwise (other platforms,
// a prebuild this system cannot load, a git checkout, which never uses prebuilds) build the addon
// from source with cmake-js (no Node header download: package.json "binary.napi_versions" makes
// cmake-js use the node-api-headers package). On failure, print one warning and exit 0 so the
// package still installs and uses the pure TypeScript backend — unless MOBILENET_REQUIRE_NATIVE=1
// (CI), which turns the failure into a non-zero exit with the full log.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const required = process.env.MOBILENET_REQUIRE_NATIVE === '1';
const addonPath = join(root, 'build', 'Release', 'mobilenet_native.node');
const logPath = join(root, 'build', 'native-build.log');
const prebuildPath = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'mobilenet_native.node');
const verbose = process.env.MOBILENET_INSTALL_VERBOSE === '1';
// Why the prebuilt addon was not used, when there was one: told along with a failed build.
let prebuildProblem;

function fail(reason, log) {
  if (log) {
    try {
      mkdirSync(dirname(logPath), { recursive: true });
      writeFileSync(logPath, log);
    } catch {
      // the log is a convenience only
    }
  }
  if (required) {
    if (log) process.stderr.write(log.endsWith('\n') ? log : `${log}\n`);
    if (prebuildProblem) process.stderr.write(`mobilenet: the prebuilt ${prebuildPath} did not load: ${prebuildProblem}\n`);
    process.stderr.write(`mobilenet: native addon could not be built (${reason}); MOBILENET_REQUIRE_NATIVE=1, failing\n`);
    process.exit(1);
  }
  const where = log ? `, log in ${logPath}` : '';
  const prebuild = prebuildProblem ? `; the prebuilt ${prebuildPath} did not load either: ${prebuildProblem}` : '';
  process.stderr.write(
    `mobilenet: native addon could not be built (${reason}${where}${prebuild}); falling back to the pure TypeScript backend\n`,
  );
  process.exit(0);
}

/** Loads an addon and asks it something: undefined when it works here, else the reason. */
function loadProblem(path) {
  try {
    const isas = require(path).supportedIsas();
    if (!Array.isArray(isas) || isas.length === 0) return 'supportedIsas() returned nothing';
    if (verbose) process.stderr.write(`mobilenet: native addon ${path} loaded (${isas.join(', ')})\n`);
    return undefined;
  } catch (error) {
    return (error instanceof Error ? error.message : String(error)).split('\n')[0];
  }
}

// The prebuilt addon, where the tarball has one for this platform. A git checkout builds from source
// even if `npm run build:prebuilds` left prebuilds/ there: its tests are about the sources as they are.
if (existsSync(prebuildPath) && !existsSync(join(root, '.git'))) {
  prebuildProblem = loadProblem(prebuildPath);
  if (!prebuildProblem) process.exit(0);
}

let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  fail('cmake-js is not installed');
}

const result = spawnSync(process.execPath, [cmakeJs, 'compile'], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'pipe'],
  maxBuffer: 64 * 1024 * 1024,
});
const log = `${result.stdout ?? ''}${result.stderr ?? ''}`;
if (result.error) fail(`cmake-js did not run: ${result.error.message}`, log);
if (result.status !== 0) {
  const lines = log.split('\n');
  const hint = lines.find((l) => /CMake is not installed|cmake: not found|No CMAKE_CXX_COMPILER|not found/i.test(l))
    ?? lines.find((l) => /error/i.test(l))
    ?? `cmake-js exited with ${result.status ?? result.signal}`;
  fail(hint.replace(/^\s*(ERR!|ERROR)\s+OMG\s+/, '').trim().slice(0, 200), log);
}
if (!existsSync(addonPath)) fail(`the build produced no ${addonPath}`, log);

// The build is only useful if it loads here.
const builtProblem = loadProblem(addonPath);
if (builtProblem) fail(`the built addon does not load: ${builtProblem}`, log);
