// The real `bin/mobilenet` as a child process, the way scripts use it (run after `tsc`: npm test).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imagePath, MODELS_DIR, modelPath, REPO_ROOT, requireShared } from './helpers/shared.js';

const run = requireShared();
const BIN = join(REPO_ROOT, 'bin', 'mobilenet');
const scratch = mkdtempSync(join(tmpdir(), 'mobilenet-cli-'));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function mobilenet(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, MOBILENET_HOME: MODELS_DIR, MOBILENET_OFFLINE: '1', ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

describe.skipIf(!run)('mobilenet classify', () => {
  it('names the military uniform on grace_hopper.bmp with the v2 model', async () => {
    const result = await mobilenet(['classify', imagePath('grace_hopper.bmp'), '--model', 'mobilenet_v2_1.0_224_quant']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(imagePath('grace_hopper.bmp'));
    expect(lines.length).toBe(6);
    expect(lines[1]).toMatch(/^ {2}0\.9\d{3} {2}military uniform$/);
  }, 30_000);

  it('uses MobileNet v2 1.0 224 from the models folder by default', async () => {
    const result = await mobilenet(['classify', imagePath('parrot.jpg'), '-k', '1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^.*parrot\.jpg\n {2}0\.99\d\d {2}macaw\n$/);
  }, 30_000);

  it('prints one JSON document with index, label and score, best first', async () => {
    const result = await mobilenet([
      'classify', imagePath('parrot.jpg'), imagePath('owl.jpg'), '--json', '--top-k', '3', '--model', modelPath('mobilenet_v1_0.75_192_quant'),
    ]);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { file: string; predictions: { index: number; label: string; score: number }[] }[];
    expect(parsed.map((entry) => entry.file)).toEqual([imagePath('parrot.jpg'), imagePath('owl.jpg')]);
    // int8 (the default for this quantized model): owl.jpg's top 3 all score above 0; a class at
    // exactly 0 would be left out, so parrot.jpg's near-certain macaw may stand alone.
    expect(parsed[1]!.predictions.length).toBe(3);
    for (const entry of parsed) {
      expect(entry.predictions.length).toBeGreaterThanOrEqual(1);
      expect(entry.predictions.length).toBeLessThanOrEqual(3);
      for (const p of entry.predictions) {
        expect(Object.keys(p).sort()).toEqual(['index', 'label', 'score']);
        expect(p.score).toBeGreaterThan(0);
      }
      const scores = entry.predictions.map((p) => p.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    }
    expect(parsed[0].predictions[0]).toMatchObject({ index: 89, label: 'macaw' });
  }, 30_000);

  it('reports each bad file on stderr, still classifies the good ones, and exits 1', async () => {
    const text = join(scratch, 'notes.jpg');
    writeFileSync(text, 'this is not a picture\n');
    const empty = join(scratch, 'empty.png');
    writeFileSync(empty, '');
    const truncated = join(scratch, 'truncated.jpg');
    writeFileSync(truncated, readFileSync(imagePath('parrot.jpg')).subarray(0, 2000));
    const missing = join(scratch, 'missing.jpg');
    const result = await mobilenet(['classify', text, imagePath('parrot.jpg'), empty, missing, truncated, '--json']);
    expect(result.code).toBe(1);
    const stderrLines = result.stderr.trimEnd().split('\n');
    expect(stderrLines.length).toBe(4);
    for (const [line, file] of stderrLines.map((l, i) => [l, [text, empty, missing, truncated][i]])) {
      expect(line).toContain(file);
      expect(line).not.toMatch(/\bat .*\.js:\d+/); // no stack traces
    }
    const parsed = JSON.parse(result.stdout) as ({ file: string; error: string } | { file: string; predictions: unknown[] })[];
    expect(parsed.length).toBe(5);
    expect(parsed[1]).toMatchObject({ file: imagePath('parrot.jpg') });
    expect('predictions' in parsed[1]).toBe(true);
    for (const i of [0, 2, 3, 4]) expect(parsed[i]).toHaveProperty('error');
  }, 30_000);

  it('filters by --threshold and renames classes with --labels', async () => {
    const labels = join(scratch, 'labels.txt');
    writeFileSync(labels, Array.from({ length: 1001 }, (_, i) => `thing ${i}`).join('\n') + '\n');
    const result = await mobilenet(['classify', imagePath('parrot.jpg'), '--threshold', '0.5', '--labels', labels]);
    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split('\n').slice(1)).toEqual([expect.stringMatching(/^ {2}0\.9\d{3} {2}thing 89$/)]);
  }, 30_000);

  it('says where it looked for a model it cannot find, and exits 2', async () => {
    const result = await mobilenet(['classify', imagePath('parrot.jpg'), '--model', 'my_own_model'], { MOBILENET_HOME: scratch });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(join(scratch, 'my_own_model.tflite'));
    expect(result.stderr).toContain('mobilenet_v2_1.0_224_quant (v2)');
    expect(result.stdout).toBe('');
  }, 30_000);

  it('refuses a corrupt model file with its name', async () => {
    const bad = join(scratch, 'half.tflite');
    writeFileSync(bad, readFileSync(modelPath('mobilenet_v1_0.25_128_quant')).subarray(0, 100_000));
    const result = await mobilenet(['classify', imagePath('parrot.jpg'), '--model', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(bad);
    expect(result.stderr.trim().split('\n').length).toBe(1);
  }, 30_000);

  it('rejects bad option values as usage errors', async () => {
    for (const args of [['--top-k', '0'], ['--threshold', '2'], ['--backend', 'gpu'], ['--threads', 'many']]) {
      const result = await mobilenet(['classify', imagePath('parrot.jpg'), ...args]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/error: option/);
    }
  }, 30_000);

  it('falls back to the TypeScript backend, saying so once, when the addon cannot be loaded', async () => {
    const result = await mobilenet(
      ['classify', imagePath('parrot.jpg'), imagePath('owl.jpg'), '-k', '1', '--model', 'mobilenet_v1_0.25_128_quant'],
      { MOBILENET_ADDON: join(scratch, 'no-such-addon.node') },
    );
    expect(result.code).toBe(0);
    expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^mobilenet: warning: the native addon could not be loaded .*TypeScript backend$/)]);
    expect(result.stdout).toMatch(/macaw/);
  }, 60_000);

  it('runs on the reference backend when asked', async () => {
    const result = await mobilenet(['classify', imagePath('parrot.jpg'), '--backend', 'reference', '-k', '1', '--model', 'mobilenet_v1_0.25_128_quant']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/macaw/);
  }, 60_000);
});

describe('mobilenet bench', () => {
  it('measures a random-weight model without any file and reports every figure', async () => {
    const result = await mobilenet(['bench', '--arch', 'v2', '--alpha', '0.5', '--resolution', '96', '--runs', '5', '--warmup', '1', '--threads', '1', '--json', '--profile']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ backend: 'native', threads: 1, batch: 1, runs: 5 });
    for (const key of ['loadMs', 'firstMs', 'medianMs', 'p90Ms', 'p99Ms', 'imagesPerSecond', 'gflops', 'activationMiB', 'peakRssMiB']) {
      expect(report[key], key).toBeGreaterThan(0);
    }
    expect(report.medianMs).toBeLessThanOrEqual(report.p90Ms);
    expect(report.p90Ms).toBeLessThanOrEqual(report.p99Ms);
    // v2 α 0.5 at 96 px: stem + 17 bottlenecks + last conv + pool + fc + softmax.
    expect(report.layers.map((l: { op: string }) => l.op)).toEqual([
      'conv2d', ...Array(17).fill('bottleneck'), 'pointwise', 'avgpool', 'fc', 'softmax',
    ]);
    const macs = report.layers.reduce((sum: number, l: { macs: number }) => sum + l.macs, 0);
    expect(macs).toBe(report.macs);
  }, 60_000);

  it('rejects bad option values as usage errors', async () => {
    for (const args of [['--alpha', '-1'], ['--alpha', 'abc'], ['--runs', '0'], ['--arch', 'v3']]) {
      const result = await mobilenet(['bench', ...args]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/error: option/);
    }
  }, 30_000);

  it.skipIf(!run)('prints a readable report for a real model file', async () => {
    const result = await mobilenet(['bench', '--model', 'mobilenet_v1_0.25_128_quant', '--runs', '3', '--warmup', '1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^model +mobilenet_v1_0\.25_128_quant$/m);
    expect(result.stdout).toMatch(/^latency +median [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms \(3 runs\)$/m);
    expect(result.stdout).toMatch(/^memory +activations [\d.]+ MiB, peak RSS [\d.]+ MiB$/m);
  }, 60_000);
});

describe('mobilenet --version', () => {
  it('prints the package version, as -V does, and --help still lists the commands', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await mobilenet([flag]);
      expect(result).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
    const help = await mobilenet(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['classify', 'label', 'embed', 'bench', 'models', 'inspect']) expect(help.stdout).toContain(command);
  });
});
