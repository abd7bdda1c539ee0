// The npm tarball installed the way a user installs it, on a machine without a C++ toolchain: the
// package is staged (the files `npm pack` takes, with dist/ compiled fresh from src/), packed with
// `npm pack --ignore-scripts`, and installed into a temporary project by `npm install <tarball>`
// with a PATH holding only node, npm, npx and sh (no cmake, make or compiler).
//   - with this host's addon as the tarball's prebuilds/<platform>-<arch>/mobilenet_native.node
//     (standing in for `npm run build:prebuilds`, which needs cross compilers CI does not have), the
//     install script uses it and builds nothing, and the installed CLI runs on the native backend;
//   - without one, the install warns that the addon could not be built and the CLI falls back to
//     the TypeScript backend with a warning.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PLATFORM = `${process.platform}-${process.arch}`;
const HOST_ADDON = join(ROOT, 'build', 'Release', 'mobilenet_native.node');
const TIMEOUT = 300_000;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Outcome> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = dir && join(dir, name);
    if (candidate && existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** npm's own JSON output, after any lines npm or scripts printed before it. */
function npmJson<T>(stdout: string): T {
  return JSON.parse(stdout.slice(stdout.search(/^[[{]/m))) as T;
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

describe.skipIf(process.platform !== 'linux')('the npm tarball, installed without a compiler', () => {
  let scratch: string;
  let bin: string;
  let cleanEnv: NodeJS.ProcessEnv;
  let packageFiles: string[];

  beforeAll(async () => {
    expect(existsSync(HOST_ADDON), `${HOST_ADDON} (built by npm ci) is needed as the stand-in prebuild`).toBe(true);
    scratch = mkdtempSync(join(tmpdir(), 'mobilenet-pack-'));

    // Child processes get none of npm's script environment (npm_config_local_prefix would point the
    // inner npm at this repository) and none of our own settings; only the npm cache location stays.
    cleanEnv = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (/^(npm_|MOBILENET_|INIT_CWD$|NODE_OPTIONS$|PATH$)/i.test(key) && !/^npm_config_(cache|registry)$/i.test(key)) continue;
      cleanEnv[key] = value;
    }

    // PATH: node, npm, npx, sh, nothing else.
    bin = join(scratch, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    for (const tool of ['npm', 'npx', 'sh']) {
      const found = which(tool) ?? (tool === 'sh' ? '/bin/sh' : undefined);
      expect(found, `${tool} on PATH`).toBeDefined();
      symlinkSync(found!, join(bin, tool));
    }

    // The files `npm pack` takes from this repository (package.json "files"), except dist/, compiled
    // afresh below, and any prebuilds/ lying around.
    const dryRun = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    expect(dryRun.code, dryRun.stderr).toBe(0);
    packageFiles = npmJson<PackResult[]>(dryRun.stdout)[0].files.map((f) => f.path)
      .filter((path) => !path.startsWith('dist/') && !path.startsWith('prebuilds/'));
    // (type errors are the business of `npm test`'s own tsc run: exit 2 still emits every file)
    const tsc = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', ROOT, '--outDir', join(scratch, 'dist')], { cwd: ROOT });
    expect([0, 2], tsc.stdout + tsc.stderr).toContain(tsc.code);
    expect(existsSync(join(scratch, 'dist', 'cli', 'main.js'))).toBe(true);
    const bundle = await run(process.execPath, [join(ROOT, 'scripts', 'bundle-cli.mjs'), join(scratch, 'dist')], { cwd: ROOT });
    expect(bundle.code, bundle.stderr).toBe(0);
  }, TIMEOUT);

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** Stages the package (with the host's addon as this platform's prebuild, or none) and packs it. */
  async function pack(name: string, withPrebuild: boolean): Promise<{ tarball: string; files: string[] }> {
    const stage = join(scratch, name, 'package');
    for (const path of packageFiles) {
      mkdirSync(dirname(join(stage, path)), { recursive: true });
      cpSync(join(ROOT, path), join(stage, path));
    }
    cpSync(join(scratch, 'dist'), join(stage, 'dist'), { recursive: true });
    if (withPrebuild) {
      mkdirSync(join(stage, 'prebuilds', PLATFORM), { recursive: true });
      cpSync(HOST_ADDON, join(stage, 'prebuilds', PLATFORM, 'mobilenet_native.node'));
    }
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', join(scratch, name)], { cwd: stage, env: cleanEnv });
    expect(packed.code, packed.stderr).toBe(0);
    const [result] = npmJson<PackResult[]>(packed.stdout);
    return { tarball: join(scratch, name, result.filename), files: result.files.map((f) => f.path) };
  }

  /** `npm install <tarball>` into a new project, PATH without any toolchain. */
  async function install(name: string, tarball: string): Promise<{ app: string; result: Outcome }> {
    const app = join(scratch, name, 'app');
    mkdirSync(app);
    // allowScripts: npm 11 runs no dependency install script that the project has not approved.
    writeFileSync(join(app, 'package.json'), JSON.stringify({
      name: `pack-test-${name}`, version: '1.0.0', private: true, allowScripts: { mobilenet: true, sharp: true },
    }));
    const result = await run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], {
      cwd: app,
      // MOBILENET_INSTALL_VERBOSE: the install script says which addon it loaded
      env: { ...cleanEnv, PATH: bin, MOBILENET_INSTALL_VERBOSE: '1' },
    });
    return { app, result };
  }

  function bench(app: string): Promise<Outcome> {
    return run(join(app, 'node_modules', '.bin', 'mobilenet'),
      ['bench', '--arch', 'v1', '--alpha', '0.25', '--resolution', '96', '--runs', '2', '--warmup', '1', '--json'],
      { cwd: app, env: { ...cleanEnv, PATH: bin } });
  }

  it('has no compiler, make or cmake on the PATH it installs with', async () => {
    const probe = await run('sh', ['-c', 'for t in cmake make cc c++ gcc g++ clang clang++; do command -v $t; done; true'], {
      cwd: scratch, env: { ...cleanEnv, PATH: bin },
    });
    expect(probe.stdout).toBe('');
  });

  it('installs with the prebuilt addon: nothing built, the native backend in use', async () => {
    const { tarball, files } = await pack('prebuilt', true);
    expect(files).toContain(`prebuilds/${PLATFORM}/mobilenet_native.node`);
    expect(files).toContain('dist/cli-bundle/main.js');
    expect(files).toContain('bin/mobilenet');
    expect(files).toContain('native/install.mjs');

    const { app, result } = await install('prebuilt', tarball);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/could not be built/);
    expect(result.stderr).toMatch(new RegExp(`mobilenet: native addon \\S*/prebuilds/${PLATFORM}/mobilenet_native\\.node loaded`));
    const installed = join(app, 'node_modules', 'mobilenet');
    expect(existsSync(join(installed, `prebuilds/${PLATFORM}/mobilenet_native.node`))).toBe(true);
    expect(existsSync(join(installed, 'build'))).toBe(false);

    const ran = await bench(app);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).not.toMatch(/could not be loaded/);
    const report = JSON.parse(ran.stdout) as { backend: string; isa: string };
    expect(report.backend).toBe('native');
    expect(report.isa).not.toBe('js');
  }, TIMEOUT);

  it('installs without a prebuilt addon: one warning, then the TypeScript backend with a warning', async () => {
    const { tarball, files } = await pack('source-only', false);
    expect(files.filter((path) => path.startsWith('prebuilds/'))).toEqual([]);
    expect(files).toContain('dist/cli-bundle/main.js');

    const { app, result } = await install('source-only', tarball);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.match(/mobilenet: native addon could not be built \(.*\); falling back to the pure TypeScript backend/g)).toHaveLength(1);
    expect(existsSync(join(app, 'node_modules', 'mobilenet', 'build', 'Release', 'mobilenet_native.node'))).toBe(false);

    const ran = await bench(app);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toMatch(/native addon could not be loaded/);
    expect((JSON.parse(ran.stdout) as { backend: string }).backend).toBe('reference');
  }, TIMEOUT);
});
