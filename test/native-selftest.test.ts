// The node-free self-test (native/tests/kernels_selftest.cc, CMake target mobilenet_kernels_selftest):
// every fp32 and int8 kernel table this CPU can run against naive loops (int8 in both requantization
// schemes), and the thread pool (work split, and unwinding when a thread cannot start — through a
// hook and, on Linux, a real std::thread failure under a lowered RLIMIT_AS). Built here with plain CMake (it needs no Node headers) into a temporary
// folder, with the compiler of the addon build when there is one, and run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../src/engine/native.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** -DCMAKE_CXX_COMPILER=... of the addon's build (build/CMakeCache.txt), if it has been built. */
function addonCompiler(): string[] {
  const cache = join(root, 'build', 'CMakeCache.txt');
  if (!existsSync(cache)) return [];
  const m = /^CMAKE_CXX_COMPILER:FILEPATH=(.+)$/m.exec(readFileSync(cache, 'utf8'));
  return m && existsSync(m[1]) ? [`-DCMAKE_CXX_COMPILER=${m[1]}`] : [];
}

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${command} did not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${r.status}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

describe('native self-test (kernels and thread pool, no Node)', () => {
  it('builds with CMake and passes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mobilenet-selftest-'));
    try {
      run('cmake', ['-S', root, '-B', dir, '-DCMAKE_BUILD_TYPE=Release', ...addonCompiler()]);
      run('cmake', ['--build', dir, '--config', 'Release', '--target', 'mobilenet_kernels_selftest', '--parallel', '2']);
      const name = `mobilenet_kernels_selftest${process.platform === 'win32' ? '.exe' : ''}`;
      const exe = [join(dir, name), join(dir, 'Release', name)].find((p) => existsSync(p));
      expect(exe, 'the self-test executable').toBeDefined();

      const r = spawnSync(exe!, [], { encoding: 'utf8', timeout: 300_000 });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      const lines = r.stdout.trim().split('\n');

      const kernels = lines.map((l) => /^(\w+): (\d+) kernel checks$/.exec(l)).filter((m) => m !== null);
      const isas = kernels.map((m) => m[1]);
      expect(isas[isas.length - 1]).toBe('scalar');
      for (const m of kernels) expect(Number(m[2])).toBeGreaterThan(100);
      const quant = lines.map((l) => /^int8 ([\w-]+): (\d+) kernel checks$/.exec(l)).filter((m) => m !== null);
      expect(quant.map((m) => m[1]).at(-1)).toBe('scalar');
      for (const m of quant) expect(Number(m[2])).toBeGreaterThan(100);
      // every int8 table's 'xnnpack' entries (fp32 requantization, XNNPACK's ADD)
      const xnn = lines.map((l) => /^int8 ([\w-]+), xnnpack rounding: (\d+) kernel checks$/.exec(l)).filter((m) => m !== null);
      expect(xnn.map((m) => m[1])).toEqual(quant.map((m) => m[1]));
      for (const m of xnn) expect(Number(m[2])).toBeGreaterThan(150);
      const loaded = loadAddon();
      if ('addon' in loaded) {
        // the same tables as the addon
        expect(isas).toEqual(loaded.addon.supportedIsas());
        expect(quant.map((m) => m[1])).toEqual(loaded.addon.supportedIsas('int8'));
      }

      const pool = lines.map((l) => /^thread pool: (\d+) checks \((.*)\)$/.exec(l)).find((m) => m !== null);
      expect(pool, 'the thread pool line').toBeDefined();
      expect(Number(pool![1])).toBeGreaterThan(0);
      if (process.platform === 'linux') expect(pool![2]).toMatch(/^std::thread failed after \d+ of 255 workers under RLIMIT_AS$/);

      const pad = lines.map((l) => /^alias_pad: (\d+) checks$/.exec(l)).find((m) => m !== null);
      expect(pad, 'the alias_pad line').toBeDefined();
      expect(Number(pad![1])).toBeGreaterThan(0);

      const total = [...kernels, ...quant, ...xnn].reduce((sum, m) => sum + Number(m[2]), 0) + Number(pad![1]) + Number(pool![1]);
      expect(lines[lines.length - 1]).toBe(`selftest: all ${total} checks passed`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 900_000);
});
