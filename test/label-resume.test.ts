// Interrupting `mobilenet label` for real (SIGINT, SIGTERM, SIGKILL sent to the child process) and
// resuming it: every input ends up recorded exactly once, however the run was stopped. And sharding:
// n processes with --shard i/n (or auto/n from an orchestrator's variable) partition the inputs.
import { existsSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCsvStrict, parseJsonl, parseTsvStrict, rowsToRecords, type ParsedRecord } from './helpers/label-parsers.js';
import { copies, ourLines, runLabel, SMALL_MODEL, startLabel, writeJpeg } from './helpers/label-run.js';
import { requireShared } from './helpers/shared.js';

const run = requireShared();
const dir = mkdtempSync(join(tmpdir(), 'mobilenet-label-resume-'));
const folder = join(dir, 'photos');
let photos: string[] = [];

beforeAll(async () => {
  if (!run) return;
  const source = await writeJpeg(join(dir, 'source.jpg'), 96, 72, 5);
  // 400 inputs with the default model take a few seconds: time to interrupt them mid-run. Some names
  // are hard on CSV and TSV, so that a torn record can fall inside quotes.
  copies(source, folder, 400);
  for (const name of ['a, "comma".jpg', 'b\nnewline.jpg', 'c\ttab.jpg']) writeFileSync(join(folder, name), readFileSync(source));
  // The folder walk's order: names sorted by code unit, depth-first.
  photos = await listed(folder);
});

/** What the command itself lists for the folder (files only, as a first run with no signal). */
async function listed(path: string): Promise<string[]> {
  const { listInputs } = await import('../src/cli/label/inputs.js');
  const out: string[] = [];
  for await (const p of listInputs([path])) out.push(p);
  return out;
}

function records(file: string, format: 'jsonl' | 'csv' | 'tsv'): ParsedRecord[] {
  const text = readFileSync(file, 'utf8');
  if (format === 'jsonl') return parseJsonl(text);
  return rowsToRecords(format === 'csv' ? parseCsvStrict(text) : parseTsvStrict(text));
}

/** Resolves once `file` holds at least `count` line ends. */
async function waitForLines(file: string, count: number, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (existsSync(file)) {
      const text = readFileSync(file);
      let n = 0;
      for (const byte of text) if (byte === 10) n++;
      if (n >= count) return;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`${file}: fewer than ${count} lines after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every input exactly once, in the listing's order (an interrupted ordered run leaves a prefix). */
function expectAllOnce(got: ParsedRecord[]): void {
  const paths = got.map((r) => r.path);
  expect(new Set(paths).size, 'duplicates').toBe(paths.length);
  expect(paths).toEqual(photos);
  expect(got.every((r) => Array.isArray(r.predictions))).toBe(true);
}

describe.skipIf(!run)('mobilenet label: stopped by a signal, then --resume', () => {
  it.each([['SIGINT', 130, 'jsonl'], ['SIGTERM', 143, 'csv']] as const)('%s: finished records flushed whole, exit %i; --resume does the rest (%s)', async (signal, status, format) => {
    const out = join(dir, `signal-${signal}.${format}`);
    const first = startLabel(['-o', out, folder]);
    await waitForLines(out, 40);
    first.child.kill(signal);
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr).toBe(status);
    expect(ourLines(stopped.stderr).at(-1)).toMatch(new RegExp(`^mobilenet: stopped by ${signal}: \\d+ labelled, 0 failed`));
    const partial = records(out, format);
    expect(partial.length).toBeGreaterThanOrEqual(40);
    expect(partial.length).toBeLessThan(photos.length);
    expect(partial.map((r) => r.path)).toEqual(photos.slice(0, partial.length));

    const resumed = await runLabel(['--resume', '-o', out, folder]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(ourLines(resumed.stderr).at(-1)).toMatch(new RegExp(`^mobilenet: ${photos.length - partial.length} labelled, 0 failed, ${partial.length} already done \\(--resume\\)`));
    expectAllOnce(records(out, format));
  }, 120_000);

  it('SIGINT twice stops at once, still with whole records only', async () => {
    const out = join(dir, 'twice.jsonl');
    const first = startLabel(['-o', out, folder]);
    await waitForLines(out, 20);
    first.child.kill('SIGINT');
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code).toBe(130);
    const text = readFileSync(out, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const resumed = await runLabel(['--resume', '-o', out, folder]);
    expect(resumed.code).toBe(0);
    expectAllOnce(records(out, 'jsonl'));
  }, 120_000);

  it('SIGINT with the records on stdout: the output ends with a whole record', async () => {
    const first = startLabel([folder]);
    let seen = 0;
    await new Promise<void>((resolve) => {
      first.child.stdout!.on('data', (chunk: string) => {
        seen += chunk.split('\n').length - 1;
        if (seen >= 30) resolve();
      });
    });
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code).toBe(130);
    const got = parseJsonl(stopped.stdout);
    expect(got.map((r) => r.path)).toEqual(photos.slice(0, got.length));
  }, 120_000);

  it.each(['jsonl', 'csv', 'tsv'] as const)('SIGKILL, then a torn last record (a power cut): --resume cuts it off and redoes it (%s)', async (format) => {
    const out = join(dir, `killed.${format}`);
    const first = startLabel(['-o', out, '--format', format, folder]);
    await waitForLines(out, 60);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    // Our writes are whole records: a kill leaves none torn.
    const text = readFileSync(out);
    expect(text.at(-1)).toBe(10);
    const whole = records(out, format);
    expect(whole.map((r) => r.path)).toEqual(photos.slice(0, whole.length));
    // What a power cut can leave: the last record half written (for CSV, cut inside its quotes when it
    // has any). Its input must be labelled again.
    const end = format === 'csv' ? '\r\n' : '\n';
    const lastStart = text.lastIndexOf(end, text.length - end.length - 1) + end.length;
    const quote = text.indexOf('"', lastStart);
    const cut = quote !== -1 && quote < text.length - 2 ? quote + 2 : lastStart + Math.floor((text.length - lastStart) / 2);
    truncateSync(out, cut);

    const resumed = await runLabel(['--resume', '-o', out, '--format', format, folder]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(ourLines(resumed.stderr)).toContainEqual(expect.stringMatching(new RegExp(`cut off a torn last record \\(${cut - lastStart} bytes\\)`)));
    expectAllOnce(records(out, format));
  }, 120_000);
});

describe.skipIf(!run)('mobilenet label: shards', () => {
  const shardFolder = join(dir, 'shards');
  let shardPhotos: string[] = [];

  beforeAll(async () => {
    if (!run) return;
    const source = await writeJpeg(join(dir, 'shard-source.jpg'), 48, 40, 9);
    shardPhotos = copies(source, shardFolder, 90);
  });

  const shard = async (spec: string, env: Record<string, string> = {}) => {
    const result = await runLabel(['--model', SMALL_MODEL, '--shard', spec, shardFolder], { env });
    expect(result.code, result.stderr).toBe(0);
    return parseJsonl(result.stdout).map((r) => r.path);
  };

  it('--shard i/n for i = 0 … n-1 partitions the listing exactly (each in listing order)', async () => {
    const parts = await Promise.all([0, 1, 2].map((i) => shard(`${i}/3`)));
    for (const part of parts) {
      expect(part.length).toBeGreaterThan(10);
      expect(part).toEqual(shardPhotos.filter((p) => part.includes(p)));
    }
    expect(parts.flat().sort()).toEqual([...shardPhotos].sort());
    expect(await shard('0/1')).toEqual(shardPhotos);
  }, 60_000);

  it('--shard auto/n takes the index from the Kubernetes, AWS Batch or Slurm array variable', async () => {
    const expected = await Promise.all([0, 1, 2].map((i) => shard(`${i}/3`)));
    expect(await shard('auto/3', { JOB_COMPLETION_INDEX: '1' })).toEqual(expected[1]);
    expect(await shard('auto/3', { AWS_BATCH_JOB_ARRAY_INDEX: '2' })).toEqual(expected[2]);
    expect(await shard('auto/3', { SLURM_ARRAY_TASK_ID: '0' })).toEqual(expected[0]);
    // Slurm arrays may start at 1 (--array=1-3): the index counts from SLURM_ARRAY_TASK_MIN.
    expect(await shard('auto/3', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '1' })).toEqual(expected[2]);
    const none = await runLabel(['--model', SMALL_MODEL, '--shard', 'auto/3', shardFolder]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/JOB_COMPLETION_INDEX.*AWS_BATCH_JOB_ARRAY_INDEX.*SLURM_ARRAY_TASK_ID/);
  }, 60_000);

  it('shards and --resume together: each shard\'s own file resumes its own share', async () => {
    const out = join(dir, 'shard-1.jsonl');
    const full = await shard('1/3');
    // A file with the first half of shard 1 done and a torn record after it.
    const done = full.slice(0, Math.floor(full.length / 2));
    writeFileSync(out, `${done.map((path) => JSON.stringify({ path, predictions: [] })).join('\n')}\n{"path":"${full[done.length]}","pre`);
    const resumed = await runLabel(['--model', SMALL_MODEL, '--shard', '1/3', '--resume', '-o', out, shardFolder]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(parseJsonl(readFileSync(out, 'utf8')).map((r) => r.path)).toEqual(full);
  }, 60_000);
});
