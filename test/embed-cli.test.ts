// `mobilenet embed` as scripts run it (a child process): JSON Lines and .npy read back by strict parsers
// written here (not the command's own), compared with the library's embeddings; failed inputs that keep
// their row; .npy to a file (valid at every moment) and to a pipe; models without classifier.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';
import { BIN, startMobilenet, runMobilenet, type ChildOptions } from './helpers/child.js';
import { copies, ourLines, SMALL_MODEL, writeText } from './helpers/label-run.js';
import { imagePath, MODELS_DIR, requireShared } from './helpers/shared.js';
import { buildSyntheticMobilenet } from './helpers/tflite-mobilenet.js';
import { float32Text } from '../src/cli/embed/jsonl.js';
import { npyHeader } from '../src/cli/embed/npy.js';

const run = requireShared();
const dir = mkdtempSync(join(tmpdir(), 'mobilenet-embed-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const M = ['--model', SMALL_MODEL];
const COLUMNS = 256; // v1 α = 0.25
const photos = join(dir, 'photos');
/** The folder's inputs in listing order, and the library's embedding of each (undefined: not an image). */
let inputs: string[] = [];
let expected: (Float32Array | undefined)[] = [];

const embedCommand = (args: string[], options: ChildOptions = {}) =>
  startMobilenet(['embed', ...args], { ...options, env: { MOBILENET_HOME: MODELS_DIR, ...options.env } });
const runEmbed = (args: string[], options: ChildOptions = {}) => embedCommand(args, options).done;

/** A .npy file read strictly: version 1.0, '<f4', C order, 2-D; the header's count and the data after it. */
function parseNpy(bytes: Buffer): { rows: number; columns: number; data: Float32Array; headerBytes: number } {
  expect(bytes.subarray(0, 8).toString('latin1')).toBe('\x93NUMPY\x01\x00');
  const headerBytes = 10 + bytes.readUInt16LE(8);
  expect(headerBytes % 64).toBe(0);
  const header = bytes.subarray(10, headerBytes).toString('latin1');
  const match = /^\{'descr': '<f4', 'fortran_order': False, 'shape': \((\d+), (\d+)\), \} *\n$/.exec(header);
  expect(match, header).not.toBeNull();
  const rows = Number(match![1]);
  const columns = Number(match![2]);
  const body = bytes.subarray(headerBytes);
  const data = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + Math.floor(body.length / 4) * 4));
  return { rows, columns, data, headerBytes };
}

const row = (data: Float32Array, i: number) => data.subarray(i * COLUMNS, (i + 1) * COLUMNS);
const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

beforeAll(async () => {
  if (!run) return;
  mkdirSync(join(photos, 'more'), { recursive: true });
  writeFileSync(join(photos, 'parrot.jpg'), readFileSync(imagePath('parrot.jpg')));
  writeFileSync(join(photos, 'more', 'owl.jpg'), readFileSync(imagePath('owl.jpg')));
  writeText(join(photos, 'notes.jpg'), 'not a photo\n');
  inputs = ['more/owl.jpg', 'notes.jpg', 'parrot.jpg'].map((n) => join(photos, n));
  const model = await loadModel(join(MODELS_DIR, `${SMALL_MODEL}.tflite`), { backend: 'native' });
  try {
    expected = [await model.embed(inputs[0]!), undefined, await model.embed(inputs[2]!)];
  } finally {
    model.dispose();
  }
});

describe.skipIf(!run)('mobilenet embed', () => {
  it('jsonl: one record per input in listing order, floats that read back as the same float32, an error record; exit 1', async () => {
    const result = await runEmbed([...M, photos]);
    expect(result.code, result.stderr).toBe(1);
    const lines = result.stdout.split('\n');
    expect(lines.pop()).toBe('');
    const records = lines.map((line) => JSON.parse(line) as { path: string; embedding?: number[]; error?: string });
    expect(records.map((r) => r.path)).toEqual(inputs);
    expect(records[1]).toEqual({ path: inputs[1], error: 'not a supported image (unrecognised format)' });
    for (const i of [0, 2]) {
      expect(Object.keys(records[i]!)).toEqual(['path', 'embedding']);
      expect(sameBits(Float32Array.from(records[i]!.embedding!), expected[i]!)).toBe(true);
    }
    expect(ourLines(result.stderr)).toEqual([expect.stringMatching(/^mobilenet: 2 embedded, 1 failed, [\d.]+ img\/s, [\d.]+ s wall time$/)]);
  }, 60_000);

  it('--normalize: vectors of length 1 in the same direction', async () => {
    const result = await runEmbed([...M, '--normalize', '-q', inputs[2]!]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const { embedding } = JSON.parse(result.stdout) as { embedding: number[] };
    const norm = Math.hypot(...expected[2]!);
    expect(Math.hypot(...embedding)).toBeCloseTo(1, 6);
    embedding.forEach((x, i) => expect(x).toBeCloseTo(expected[2]![i]! / norm, 6));
  }, 60_000);

  it('npy to a file (format from the extension): rows in input order, a NaN row for a failed input, --index, stderr; exit 1', async () => {
    const out = join(dir, 'photos.npy');
    const index = join(dir, 'rows.jsonl');
    const result = await runEmbed([...M, '-o', out, '--index', index, photos]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toBe('');
    const npy = parseNpy(readFileSync(out));
    expect(npy).toMatchObject({ rows: 3, columns: COLUMNS, headerBytes: 128 });
    expect(npy.data.length).toBe(3 * COLUMNS);
    expect(sameBits(row(npy.data, 0), expected[0]!)).toBe(true);
    expect(row(npy.data, 1).every(Number.isNaN)).toBe(true);
    expect(sameBits(row(npy.data, 2), expected[2]!)).toBe(true);
    expect(readFileSync(index, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))).toEqual([
      { row: 0, path: inputs[0] },
      { row: 1, path: inputs[1], error: 'not a supported image (unrecognised format)' },
      { row: 2, path: inputs[2] },
    ]);
    expect(ourLines(result.stderr)).toEqual([
      `mobilenet: ${inputs[1]}: not a supported image (unrecognised format) (row 1 is NaN)`,
      expect.stringMatching(/^mobilenet: 2 embedded, 1 failed/),
    ]);
  }, 60_000);

  it('npy to a pipe: the same bytes as to a file, written at the end (the count is in the header)', async () => {
    const viaFile = join(dir, 'all.npy');
    const toFile = await runEmbed([...M, '-q', '-o', viaFile, photos]);
    expect(toFile.code).toBe(1);
    const spoolDir = join(dir, 'spool');
    mkdirSync(spoolDir);
    const toPipe = await binaryStdout(['embed', ...M, '-q', '--format', 'npy', photos], { MOBILENET_HOME: MODELS_DIR, TMPDIR: spoolDir });
    expect(toPipe.code).toBe(1);
    expect(toPipe.stdout.equals(readFileSync(viaFile))).toBe(true);
    expect(parseNpy(toPipe.stdout).rows).toBe(3);
    // The rows were spooled in TMPDIR, unlinked at once: nothing is left there.
    expect(readdirSync(spoolDir)).toEqual([]);
  }, 60_000);

  it('a run stopped by SIGINT leaves a complete .npy of the rows done; one killed by SIGKILL a loadable one', async () => {
    const many = copies(imagePath('parrot.jpg'), join(dir, 'many'), 150);
    const parrot = expected[2]!;
    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      const out = join(dir, `stopped-${signal}.npy`);
      const { child, done } = embedCommand([...M, '-q', '--concurrency', '2', '-o', out, ...many]);
      await waitFor(() => existsSync(out) && statSync(out).size >= 128 + 3 * COLUMNS * 4);
      child.kill(signal);
      const result = await done;
      const npy = parseNpy(readFileSync(out));
      expect(npy.columns).toBe(COLUMNS);
      expect(npy.rows).toBeGreaterThanOrEqual(3);
      expect(npy.rows).toBeLessThan(150);
      if (signal === 'SIGINT') {
        expect(result.code).toBe(130);
        expect(npy.data.length).toBe(npy.rows * COLUMNS); // the rows in flight were finished and counted
      } else {
        expect(result.signal).toBe('SIGKILL');
        expect(npy.data.length).toBeGreaterThanOrEqual(npy.rows * COLUMNS); // at most a torn row beyond the count
      }
      for (let i = 0; i < npy.rows; i++) expect(sameBits(row(npy.data, i), parrot), `${signal} row ${i}`).toBe(true);
    }
  }, 120_000);

  it('refuses --index without npy, - twice, --labels', async () => {
    const index = await runEmbed([...M, '--index', join(dir, 'x.jsonl'), inputs[0]!]);
    expect(index.code).toBe(2);
    expect(index.stderr).toBe('mobilenet: --index goes with --format npy (a jsonl record carries its path)\n');
    const twice = await runEmbed([...M, '-', '-']);
    expect(twice.code).toBe(2);
    const labels = await runEmbed([...M, '--labels', 'x.txt', inputs[0]!]);
    expect(labels.code).toBe(2);
    expect(labels.stderr).toMatch(/unknown option '--labels'/);
  }, 60_000);

  it('reads a list of paths on stdin (-), as label does', async () => {
    const result = await runEmbed([...M, '-q', '-'], { input: `${inputs[2]}\n${inputs[0]}\n` });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { path: string }).path)).toEqual([inputs[2], inputs[0]]);
  }, 60_000);
});

describe('the two formats, piece by piece', () => {
  it('jsonl numbers read back as the same float32, in at most 9 significant digits', () => {
    const values = Float32Array.from({ length: 20_000 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 24) - 12));
    values.set([0, 1, 0.5, 6, Math.fround(0.1), 1e-45, 3.4028234663852886e38]);
    for (const value of values) {
      const text = float32Text(value);
      expect(Math.fround(Number(text)), text).toBe(value);
      const significant = text.replace(/e.*$/, '').replace(/[-.]/g, '').replace(/^0+/, '').replace(/0+$/, '');
      expect(significant.length, text).toBeLessThanOrEqual(9);
    }
    expect([0, 0.5, Math.fround(0.1)].map(float32Text)).toEqual(['0', '0.5', '0.1']);
    expect([NaN, Infinity].map(float32Text)).toEqual(['null', 'null']);
  });

  it('the npy header is 128 bytes for any count, so it can be rewritten in place', () => {
    for (const [rows, columns] of [[0, 1280], [1, 256], [2 ** 53 - 1, 4096]]) {
      const header = npyHeader(rows!, columns!);
      expect(header.length).toBe(128);
      expect(parseNpy(header)).toMatchObject({ rows, columns, headerBytes: 128 });
    }
  });
});

describe.skipIf(!run)('a model without classifier on the command line', () => {
  it('embeds; classify and label refuse it with exit 2 and nothing on stdout', async () => {
    const model = join(dir, 'features.tflite');
    writeFileSync(model, buildSyntheticMobilenet({ arch: 'v1', alpha: 0.25, numClasses: 0, pool: 'none', seed: 41 }).bytes);
    const embedded = await runMobilenet(['embed', '--model', model, '-q', inputs[2]!]);
    expect(embedded.code, embedded.stderr).toBe(0);
    expect((JSON.parse(embedded.stdout) as { embedding: number[] }).embedding).toHaveLength(COLUMNS);
    const message = `mobilenet: ${model}: the model has no classifier (a feature-vector model): it can embed images, not classify them\n`;
    for (const command of [['classify'], ['label', '--format', 'csv']]) {
      const result = await runMobilenet([...command, '--model', model, inputs[2]!]);
      expect(result.code, command[0]).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(message);
    }
  }, 60_000);
});

/** `mobilenet …` with its stdout a pipe read as bytes. */
function binaryStdout(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, MOBILENET_OFFLINE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(chunks), stderr })));
}

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
