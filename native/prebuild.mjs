// `npm run build:prebuilds`: the prebuilt addons that `npm pack` puts in the tarball, so that installs
// on linux-x64 and linux-arm64 need no CMake and no compiler (native/install.mjs loads them first).
// (Not an npm script named "prebuild": npm would run that before every `npm run build`.)
//
//   prebuilds/linux-x64/mobilenet_native.node     built with the host's g++ (on an x86-64 Linux host)
//   prebuilds/linux-arm64/mobilenet_native.node   cross-compiled with Debian's g++-aarch64-linux-gnu
//                                                 (native/toolchains/aarch64-linux-gnu.cmake)
//
// Both are portable builds (CMake option MOBILENET_PORTABLE: libstdc++/libgcc linked statically,
// never -march=native; the addon picks its kernels at run time). Then every addon is checked:
//   - ELF header (64-bit, little-endian, shared object, the right machine) and its dynamic section
//     (nothing but glibc needed; highest GLIBC_ symbol version reported),
//   - the node-free kernel self-test, built with the same toolchain and flags, run natively or under
//     qemu-user (qemu-aarch64-static) for arm64,
//   - loaded in a Node of its architecture (for arm64: Debian's nodejs:arm64 under qemu-user, fetched
//     with `apt-get download` into build/prebuild/arm64-node when Debian multiarch has arm64; skipped
//     with a note otherwise): supportedIsas(), then a small random-weight MobileNet v1 run on every
//     ISA it supports, compared with the TypeScript reference backend.
//
// Options: --target linux-x64|linux-arm64 (repeatable; default both), --clean (fresh build dirs),
// --no-node-check (skip the Node load check of the arm64 addon), --check (build nothing: the
// "prepack" check; warns about a missing or stale prebuild, fails only on one of the wrong machine). MOBILENET_JOBS (default 2) caps the
// build's parallel jobs. MOBILENET_ARM64_NODE=/path/to/arm64/node (with MOBILENET_ARM64_SYSROOT for
// qemu's -L) uses another arm64 Node.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const buildRoot = join(root, 'build', 'prebuild');
const jobs = process.env.MOBILENET_JOBS || '2';

const TARGETS = {
  'linux-x64': { arch: 'x64', elfMachine: 62, cpu: 'x86-64', cross: null },
  'linux-arm64': {
    arch: 'arm64',
    elfMachine: 183,
    cpu: 'AArch64',
    cross: {
      toolchain: join(root, 'native', 'toolchains', 'aarch64-linux-gnu.cmake'),
      compiler: 'aarch64-linux-gnu-g++',
      sysroot: '/usr/aarch64-linux-gnu',
      qemu: ['qemu-aarch64-static', 'qemu-aarch64'],
      debianPackages: ['g++-aarch64-linux-gnu', 'qemu-user-static'],
    },
  },
};

const { values: options } = parseArgs({
  options: {
    target: { type: 'string', multiple: true },
    clean: { type: 'boolean', default: false },
    'no-node-check': { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
  },
});
const targets = [...new Set(options.target ?? Object.keys(TARGETS))];
for (const name of targets) {
  if (!TARGETS[name]) die(`unknown target ${name} (known: ${Object.keys(TARGETS).join(', ')})`);
}

function die(message) {
  process.stderr.write(`prebuild: ${message}\n`);
  process.exit(1);
}

function log(message) {
  process.stdout.write(`${message}\n`);
}

function which(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** Runs a command with inherited output; dies on failure. */
function run(command, args, opts = {}) {
  log(`$ ${[command, ...args].map((a) => (/[\s;]/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...opts });
  if (result.error) die(`${command} did not run: ${result.error.message}`);
  if (result.status !== 0) die(`${command} failed (exit ${result.status ?? result.signal})`);
}

/** Runs a command and returns its output; dies on failure. */
function capture(command, args, opts = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (result.error) die(`${command} did not run: ${result.error.message}`);
  if (result.status !== 0) {
    die(`${[command, ...args].join(' ')} failed (exit ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

// ---- --check (npm "prepack"): what the tarball will carry ----------------------------------------

/** Newest modification time of the addon's sources. */
function newestSource(dir = join(root, 'native'), newest = statSync(join(root, 'CMakeLists.txt')).mtimeMs) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = newestSource(path, newest);
    else if (/\.(cc|h|cmake)$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

if (options.check) {
  const sources = newestSource();
  let wrong = false;
  for (const name of targets) {
    const path = join(root, 'prebuilds', name, 'mobilenet_native.node');
    if (!existsSync(path)) {
      process.stderr.write(`prebuild: warning: no ${relative(root, path)}: installs on ${name} will build from source (npm run build:prebuilds)\n`);
      continue;
    }
    const h = elfHeader(path);
    if (!h.elf || h.bits !== 64 || h.type !== 3 || h.machine !== TARGETS[name].elfMachine) {
      process.stderr.write(`prebuild: ${relative(root, path)} is not a 64-bit ${TARGETS[name].cpu} shared object\n`);
      wrong = true;
    } else if (statSync(path).mtimeMs < sources) {
      process.stderr.write(`prebuild: warning: ${relative(root, path)} is older than the native sources (npm run build:prebuilds)\n`);
    }
  }
  process.exit(wrong ? 1 : 0);
}

// ---- tools -------------------------------------------------------------------------------------

if (process.platform !== 'linux') die(`prebuilds are made on Linux (this is ${process.platform})`);
for (const name of targets) {
  if (TARGETS[name].arch !== process.arch && !TARGETS[name].cross) {
    die(`${name} can only be built on a ${TARGETS[name].arch} host (this is ${process.arch}); use --target`);
  }
}

const missing = [];
const cmake = which('cmake');
if (!cmake) missing.push(['cmake', 'cmake']);
const ninja = which('ninja');
if (!ninja && !which('make')) missing.push(['ninja or make', 'ninja-build']);
if (targets.some((t) => TARGETS[t].arch === process.arch) && !which('g++') && !which('c++')) {
  missing.push(['a C++ compiler (g++)', 'g++']);
}
const readelf = which('readelf');
if (!readelf) missing.push(['readelf', 'binutils']);
const qemu = {};
for (const name of targets) {
  const cross = TARGETS[name].arch !== process.arch ? TARGETS[name].cross : null;
  if (!cross) continue;
  if (!which(cross.compiler)) missing.push([cross.compiler, cross.debianPackages[0]]);
  qemu[name] = cross.qemu.map(which).find(Boolean);
  if (!qemu[name]) missing.push([cross.qemu.join(' or '), cross.debianPackages[1]]);
}
if (missing.length) {
  const packages = [...new Set(missing.map(([, pkg]) => pkg))];
  die(
    `missing ${missing.map(([tool]) => tool).join(', ')}.\n` +
      `On Debian/Ubuntu: sudo apt-get update && sudo apt-get install ${packages.join(' ')}`,
  );
}

// Include dirs, as cmake-js passes them: node-api-headers (N-API C headers) and node-addon-api.
let napiInclude;
try {
  napiInclude = createRequire(join(root, 'package.json'))('node-api-headers').include_dir;
} catch {
  try {
    napiInclude = createRequire(require.resolve('cmake-js/package.json'))('node-api-headers').include_dir;
  } catch {
    die('node-api-headers is not installed (it comes with cmake-js): run npm ci first');
  }
}
let addonApiInclude;
try {
  addonApiInclude = dirname(require.resolve('node-addon-api/package.json'));
} catch {
  die('node-addon-api is not installed: run npm ci first');
}

// ---- ELF checks --------------------------------------------------------------------------------

/** Reads the ELF header: class, byte order, type and machine. */
function elfHeader(file) {
  const b = readFileSync(file).subarray(0, 64);
  if (b.length < 20 || b.readUInt32BE(0) !== 0x7f454c46) return { elf: false };
  const le = b[5] === 1;
  return {
    elf: true,
    bits: b[4] === 2 ? 64 : b[4] === 1 ? 32 : 0,
    littleEndian: le,
    type: le ? b.readUInt16LE(16) : b.readUInt16BE(16),
    machine: le ? b.readUInt16LE(18) : b.readUInt16BE(18),
  };
}

const GLIBC_LIBS = /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux[-\w.]*\.so\.\d)$/;

function checkElf(name, file) {
  const target = TARGETS[name];
  const h = elfHeader(file);
  if (!h.elf) die(`${file} is not an ELF file`);
  const problems = [];
  if (h.bits !== 64) problems.push(`ELF class ${h.bits}-bit`);
  if (!h.littleEndian) problems.push('big-endian');
  if (h.type !== 3) problems.push(`ELF type ${h.type} (want 3, a shared object)`);
  if (h.machine !== target.elfMachine) problems.push(`ELF machine ${h.machine} (want ${target.elfMachine}, ${target.cpu})`);
  const dynamic = capture(readelf, ['-d', '-W', file]);
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const foreign = needed.filter((lib) => !GLIBC_LIBS.test(lib));
  if (foreign.length) problems.push(`needs ${foreign.join(', ')} (a portable build needs only glibc)`);
  const symbols = capture(readelf, ['--dyn-syms', '-W', file]);
  const glibc = [...symbols.matchAll(/@GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)]
    .map((m) => [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2])
    .pop();
  const exported = symbols
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && /^\d+:$/.test(f[0]) && f[6] !== 'UND' && f[4] !== 'LOCAL' && f[7])
    .map((f) => f[7]);
  if (!exported.includes('napi_register_module_v1')) problems.push('does not export napi_register_module_v1');
  if (problems.length) die(`${relative(root, file)}: ${problems.join('; ')}`);
  return {
    machine: target.cpu,
    needed,
    glibc: glibc ? `GLIBC_${glibc[0]}.${glibc[1]}${glibc[2] ? `.${glibc[2]}` : ''}` : 'none',
    exported,
  };
}

/** The N-API entry points by name, the rest (weak C++ template instances of std::) counted. */
function describeExports(names) {
  const api = names.filter((n) => !n.startsWith('_Z'));
  const cxx = names.length - api.length;
  return `${api.join(', ')}${cxx ? ` (+${cxx} weak C++ template instances)` : ''}`;
}

// ---- the arm64 Node for the load check ---------------------------------------------------------

/** An arm64 Node to run under qemu: { node, sysroot } or { skipped: reason }. */
function arm64Node() {
  if (process.env.MOBILENET_ARM64_NODE) {
    return { node: process.env.MOBILENET_ARM64_NODE, sysroot: process.env.MOBILENET_ARM64_SYSROOT || TARGETS['linux-arm64'].cross.sysroot };
  }
  const dir = join(buildRoot, 'arm64-node');
  const sysroot = join(dir, 'root');
  const node = join(sysroot, 'usr', 'bin', 'node');
  if (existsSync(node)) return { node, sysroot };
  const enable = 'enable Debian multiarch for it (sudo dpkg --add-architecture arm64 && sudo apt-get update) or set MOBILENET_ARM64_NODE';
  if (!which('apt-get') || !which('apt-cache') || !which('dpkg')) return { skipped: `no apt-get/dpkg here to fetch Debian's nodejs:arm64; ${enable}` };
  const foreign = spawnSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' }).stdout ?? '';
  if (!foreign.split(/\s+/).includes('arm64')) return { skipped: `Debian multiarch has no arm64; ${enable}` };

  // nodejs:arm64 and the arm64 libraries it depends on, transitively (architecture-independent
  // dependencies are fetched but not followed: they are JavaScript, the arm64 Node needs no more).
  const packages = new Set();
  const queue = ['nodejs:arm64'];
  while (queue.length) {
    const pkg = queue.shift();
    if (packages.has(pkg)) continue;
    packages.add(pkg);
    if (!pkg.endsWith(':arm64')) continue;
    const out = spawnSync('apt-cache', ['depends', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', pkg], { encoding: 'utf8' });
    if (out.status !== 0) return { skipped: `apt-cache depends ${pkg} failed: ${(out.stderr ?? '').trim()}` };
    const lines = out.stdout.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const m = /^\s+\|?(?:Pre)?Depends: (\S+)/.exec(lines[i]);
      if (!m) continue;
      let dep = m[1];
      if (dep.startsWith('<')) {
        // a virtual package: take its first provider, listed on the next line
        const provider = /^\s{4}(\S+)/.exec(lines[i + 1] ?? '');
        if (!provider) continue;
        dep = provider[1];
      }
      if (!dep.includes(':') || dep.endsWith(':arm64')) queue.push(dep);
    }
  }
  mkdirSync(join(dir, 'debs'), { recursive: true });
  log(`fetching Debian's arm64 Node for the load check: ${[...packages].join(' ')}`);
  const download = spawnSync('apt-get', ['download', ...packages], { cwd: join(dir, 'debs'), encoding: 'utf8' });
  if (download.status !== 0) return { skipped: `apt-get download failed: ${(download.stderr ?? '').trim().split('\n').pop()}` };
  for (const deb of readdirSync(join(dir, 'debs')).filter((f) => f.endsWith('.deb'))) {
    capture('dpkg', ['-x', join(dir, 'debs', deb), sysroot]);
  }
  if (!existsSync(node)) return { skipped: `Debian's nodejs:arm64 has no ${relative(sysroot, node)}` };
  return { node, sysroot };
}

// ---- the load check (runs in the addon's own Node) ---------------------------------------------

const CHECK_SCRIPT = `
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const [addonPath, root] = process.argv.slice(2);
const addon = createRequire(import.meta.url)(addonPath);
const isas = addon.supportedIsas();
const { createEngine } = await import(pathToFileURL(join(root, 'dist/engine/index.js')).href);
const { createRandomModel, randomArray, seededRandom } = await import(pathToFileURL(join(root, 'dist/model/random-model.js')).href);
const spec = createRandomModel({ arch: 'v1', alpha: 0.25, resolution: 96, seed: 7 });
const reference = createEngine(spec, { backend: 'reference' });
const input = randomArray(seededRandom(3), 96 * 96 * 3);
const expected = await reference.backend.run(input);
const argmax = (v) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);
const runs = [];
for (const isa of isas) {
  const engine = createEngine(spec, { backend: 'native', isa, threads: 2, onFallback: (why) => { throw new Error(why); } });
  const start = performance.now();
  const out = await engine.backend.run(input);
  const ms = performance.now() - start;
  let maxDiff = 0;
  for (let i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i] - expected[i]));
  // relative to the largest probability (random weights spread it over ~1000 classes)
  runs.push({ isa: engine.backend.isa, relDiff: maxDiff / expected[argmax(expected)], top1: argmax(out), ms: Math.round(ms) });
  engine.backend.dispose();
}
process.stdout.write(JSON.stringify({ node: process.version, arch: process.arch, isas, referenceTop1: argmax(expected), runs }) + '\\n');
`;

function loadCheck(name, addonPath, nodeCommand) {
  const script = join(buildRoot, 'check-addon.mjs');
  writeFileSync(script, CHECK_SCRIPT);
  const [command, ...prefix] = nodeCommand;
  const out = capture(command, [...prefix, script, addonPath, root], { env: { ...process.env, MOBILENET_ADDON: addonPath } });
  const report = JSON.parse(out.trim().split('\n').pop());
  for (const r of report.runs) {
    if (!(r.relDiff < 1e-4) || r.top1 !== report.referenceTop1) {
      die(`${name}: the ${r.isa} kernels disagree with the reference backend (max |diff| / max ${r.relDiff}, top-1 ${r.top1} vs ${report.referenceTop1})`);
    }
  }
  return report;
}

// ---- build -------------------------------------------------------------------------------------

if (!existsSync(join(root, 'dist', 'engine', 'index.js'))) {
  log('dist/ is missing (needed by the load check): building it');
  run(process.execPath, [require.resolve('typescript/bin/tsc')], { cwd: root });
}

const results = [];
for (const name of targets) {
  const target = TARGETS[name];
  const cross = target.arch !== process.arch ? target.cross : null;
  const buildDir = join(buildRoot, name);
  log(`\n== ${name}${cross ? ` (cross: ${cross.compiler})` : ' (native)'}`);
  if (options.clean) rmSync(buildDir, { recursive: true, force: true });
  const configure = [
    '-S', root,
    '-B', buildDir,
    '--no-warn-unused-cli',
    '-DCMAKE_BUILD_TYPE=Release',
    `-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=${join(buildDir, 'Release')}`,
    `-DCMAKE_JS_INC=${napiInclude};${addonApiInclude}`,
    '-DMOBILENET_PORTABLE=ON',
  ];
  if (ninja && !existsSync(join(buildDir, 'Makefile'))) configure.push('-G', 'Ninja');
  if (cross) configure.push(`-DCMAKE_TOOLCHAIN_FILE=${cross.toolchain}`);
  run(cmake, configure, { cwd: root });
  run(cmake, ['--build', buildDir, '--target', 'mobilenet_native', 'mobilenet_kernels_selftest', '--parallel', jobs], { cwd: root });

  const built = join(buildDir, 'Release', 'mobilenet_native.node');
  if (!existsSync(built)) die(`the build produced no ${relative(root, built)}`);
  const outDir = join(root, 'prebuilds', name);
  mkdirSync(outDir, { recursive: true });
  const addonPath = join(outDir, 'mobilenet_native.node');
  copyFileSync(built, addonPath);

  const elf = checkElf(name, addonPath);
  log(`${relative(root, addonPath)}: ELF 64-bit LSB shared object, ${elf.machine}; needs ${elf.needed.join(', ')}; highest symbol version ${elf.glibc}; exports ${describeExports(elf.exported)}`);

  // The node-free kernel self-test, same toolchain and flags.
  const selftest = join(buildDir, 'Release', 'mobilenet_kernels_selftest');
  if (elfHeader(selftest).machine !== target.elfMachine) die(`${relative(root, selftest)} has the wrong ELF machine`);
  const selftestCommand = cross ? [qemu[name], '-L', cross.sysroot, selftest] : [selftest];
  log(`$ ${selftestCommand.map((a) => relative(root, a).startsWith('..') ? a : relative(root, a)).join(' ')}`);
  const selftestRun = spawnSync(selftestCommand[0], selftestCommand.slice(1), { encoding: 'utf8' });
  if (selftestRun.error) die(`the self-test did not run: ${selftestRun.error.message}`);
  const selftestOut = `${selftestRun.stdout}${selftestRun.stderr}`;
  process.stdout.write(`${selftestOut.trimEnd().replace(/^/gm, '  ')}\n`);
  const failures = selftestOut.split('\n').filter((line) => line.startsWith('FAIL'));
  // The self-test's thread-pool checks measure the process, not the code, and qemu-user stands in
  // between: it does not apply RLIMIT_AS to the guest, and /proc/self/status counts its own threads.
  // Under qemu only the kernel checks count (the pool is checked natively with the x64 build).
  const qemuArtifacts = cross ? failures.filter((line) => /^FAIL thread pool\b/.test(line)) : [];
  if (!/\d+ kernel checks/.test(selftestOut)) die('the self-test ran no kernel checks');
  if (selftestRun.status !== 0 && (failures.length === 0 || failures.length !== qemuArtifacts.length)) {
    die(`the self-test failed (exit ${selftestRun.status ?? selftestRun.signal})`);
  }
  if (qemuArtifacts.length) {
    log(`  (${qemuArtifacts.length} thread-pool check${qemuArtifacts.length === 1 ? '' : 's'} failed under qemu-user, which ` +
      'neither applies RLIMIT_AS nor hides its own threads: not counted; every kernel check passed)');
  }

  // Loaded by a Node of the addon's architecture.
  let load;
  if (!cross) {
    load = loadCheck(name, addonPath, [process.execPath]);
  } else if (options['no-node-check']) {
    load = { skipped: '--no-node-check' };
  } else {
    const armNode = arm64Node();
    load = armNode.skipped ? armNode : loadCheck(name, addonPath, [qemu[name], '-L', armNode.sysroot, armNode.node]);
  }
  if (load.skipped) {
    log(`load check in an ${target.arch} Node: SKIPPED (${load.skipped})`);
  } else {
    log(`load check in Node ${load.node} ${load.arch}${cross ? ' under qemu-user' : ''}: supportedIsas() = [${load.isas.join(', ')}]; ` +
      `MobileNet v1 0.25 96 (random weights) vs the TypeScript reference: ` +
      load.runs.map((r) => `${r.isa} max |diff|/max ${r.relDiff.toExponential(1)}, top-1 ${r.top1 === load.referenceTop1 ? 'same' : 'DIFFERENT'}, ${r.ms} ms`).join('; '));
  }
  results.push({ name, addonPath, size: statSync(addonPath).size, glibc: elf.glibc, qemuArtifacts: qemuArtifacts.length, load });
}

log('\n== prebuilds');
for (const r of results) {
  log(`${relative(root, r.addonPath)}  ${(r.size / 1024).toFixed(0)} KiB  needs glibc >= ${r.glibc.replace('GLIBC_', '')}  ` +
    `self-test ok${r.qemuArtifacts ? ` (kernels; ${r.qemuArtifacts} thread-pool checks not counted under qemu)` : ''}  ` +
    `node load ${r.load.skipped ? `skipped (${r.load.skipped})` : `ok (${r.load.node} ${r.load.arch})`}`);
}
