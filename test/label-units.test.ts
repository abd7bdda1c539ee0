// The pieces of `mobilenet label` on their own: records written and read back (by our scanner and by
// independent strict parsers), torn tails, globs, stdin lists, folder walks, shards.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { globFiles, segmentRegExp } from '../src/cli/label/glob.js';
import { listInputs, readList, walkFolder } from '../src/cli/label/inputs.js';
import { recordFormat, RecordFileError, scanRecords, type Format, type LabelRecord } from '../src/cli/label/records.js';
import { inShard, parseShard, shardOf } from '../src/cli/label/shard.js';
import { parseCsvStrict, parseJsonl, parseTsvStrict, rowsToRecords } from './helpers/label-parsers.js';

const NASTY = [
  'plain.jpg',
  'comma, in name.jpg',
  'quote " in "name".jpg',
  'tab\tin name.jpg',
  'newline\nin name.jpg',
  'crlf\r\nin name.jpg',
  'backslash \\t not a tab.jpg',
  'trailing backslash \\',
  ' leading and trailing spaces .jpg',
  'ünïcödé 写真 🦜.jpg',
  '"',
  '',
];

const records: LabelRecord[] = NASTY.map((path, i) => (i % 3 === 2
  ? { path, error: `bad "thing", with\ttab and\nnewline ${i}` }
  : { path, predictions: [{ index: i, label: 'seashore, coast, "sea"', score: 0.123456789 }, { index: 7, label: 'x\ty', score: 1e-7 }] }));

function written(format: Format, topK = 2): string {
  const f = recordFormat(format, topK);
  return f.header + records.map((r) => f.format(r)).join('');
}

async function scan(text: string | Buffer, format: Format, topK = 2, chunk = 7) {
  const bytes = Buffer.from(text);
  const chunks = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => bytes.subarray(i * chunk, (i + 1) * chunk));
  const paths: string[] = [];
  const result = await scanRecords(Readable.from(chunks), format, topK, 'out', (p) => paths.push(p));
  return { paths, ...result };
}

describe('records', () => {
  it('jsonl: one line per record whatever the name holds, parsed back exactly', () => {
    const text = written('jsonl');
    expect(text.split('\n').length).toBe(records.length + 1);
    const parsed = parseJsonl(text);
    expect(parsed.map((r) => r.path)).toEqual(NASTY);
    expect(parsed[0]!.predictions).toEqual([{ index: 0, label: 'seashore, coast, "sea"', score: 0.123457 }, { index: 7, label: 'x\ty', score: 1e-7 }]);
    expect(parsed[2]!.error).toBe(records[2] && 'error' in records[2] ? records[2].error : '');
  });

  it('csv: RFC 4180 (quoted commas, quotes, CR, LF; CRLF row ends), read back by a strict parser', () => {
    const text = written('csv');
    const rows = parseCsvStrict(text);
    expect(rows[0]).toEqual(['path', 'index_1', 'label_1', 'score_1', 'index_2', 'label_2', 'score_2', 'error']);
    const parsed = rowsToRecords(rows);
    expect(parsed.map((r) => r.path)).toEqual(NASTY);
    expect(parsed[1]!.predictions![0]).toEqual({ index: 1, label: 'seashore, coast, "sea"', score: 0.123457 });
    expect(parsed[5]!.error).toBe('bad "thing", with\ttab and\nnewline 5');
  });

  it('tsv: tabs, newlines, CRs and backslashes escaped, one line per record, read back by a strict parser', () => {
    const text = written('tsv');
    expect(text.split('\n').length).toBe(records.length + 2);
    const parsed = rowsToRecords(parseTsvStrict(text));
    expect(parsed.map((r) => r.path)).toEqual(NASTY);
    expect(parsed[1]!.predictions![1]).toEqual({ index: 7, label: 'x\ty', score: 1e-7 });
  });

  it.each(['jsonl', 'csv', 'tsv'] as const)('%s: our scanner finds every path, in any chunking, and no torn tail', async (format) => {
    for (const chunk of [1, 3, 64, 1 << 20]) {
      const { paths, tornBytes, completeBytes, hasHeader } = await scan(written(format), format, 2, chunk);
      expect(paths).toEqual(NASTY);
      expect(tornBytes).toBe(0);
      expect(completeBytes).toBe(Buffer.byteLength(written(format)));
      expect(hasHeader).toBe(format !== 'jsonl');
    }
  });

  it.each(['jsonl', 'csv', 'tsv'] as const)('%s: a record cut anywhere is a torn tail, and the complete ones are kept', async (format) => {
    const full = Buffer.from(written(format));
    const lastStart = full.length - Buffer.byteLength(recordFormat(format, 2).format(records[records.length - 1]!));
    for (let cut = lastStart; cut < full.length; cut++) {
      const { paths, completeBytes, tornBytes } = await scan(full.subarray(0, cut), format);
      expect(paths).toEqual(NASTY.slice(0, -1));
      expect(completeBytes).toBe(lastStart);
      expect(tornBytes).toBe(cut - lastStart);
    }
    // A record with a quoted newline cut inside its quotes (CSV) is torn too, not two records.
    const nl = NASTY.indexOf('newline\nin name.jpg');
    const f = recordFormat(format, 2);
    const upTo = Buffer.from(f.header + records.slice(0, nl).map((r) => f.format(r)).join(''));
    const partial = Buffer.concat([upTo, Buffer.from(f.format(records[nl]!)).subarray(0, 12)]);
    const torn = await scan(partial, format);
    expect(torn.paths).toEqual(NASTY.slice(0, nl));
    expect(torn.completeBytes).toBe(upTo.length);
  });

  it('zeros left by a power cut are a torn tail', async () => {
    const { paths, tornBytes } = await scan(Buffer.concat([Buffer.from(written('jsonl')), Buffer.alloc(4096)]), 'jsonl');
    expect(paths).toEqual(NASTY);
    expect(tornBytes).toBe(4096);
  });

  it('refuses to resume a file that is not ours: another format, another --top-k, a bad record before the end', async () => {
    await expect(scan(written('csv'), 'jsonl')).rejects.toThrow(RecordFileError);
    await expect(scan(written('jsonl'), 'csv')).rejects.toThrow(/not the csv header/);
    await expect(scan(written('tsv', 2), 'tsv', 3)).rejects.toThrow(/another --top-k or --format/);
    await expect(scan(`${written('jsonl')}{"no":"path"}\n`, 'jsonl')).rejects.toThrow(/record 13 is not a jsonl label record/);
    await expect(scan(`${written('tsv')}only\tthree\tfields\n`, 'tsv')).rejects.toThrow(/3 fields, expected 8/);
    await expect(scan(`${written('csv')}"bad"quote,,,,,,,\r\n`, 'csv')).rejects.toThrow(/bad quoting/);
  });
});

describe('globs', () => {
  it('translates *, ?, [set], [!set], escapes, and keeps a leading dot out of wildcards', () => {
    expect(segmentRegExp('*.jpg').test('a.jpg')).toBe(true);
    expect(segmentRegExp('*.jpg').test('.hidden.jpg')).toBe(false);
    expect(segmentRegExp('.*.jpg').test('.hidden.jpg')).toBe(true);
    expect(segmentRegExp('img-??.png').test('img-07.png')).toBe(true);
    expect(segmentRegExp('img-??.png').test('img-7.png')).toBe(false);
    expect(segmentRegExp('[ab]*').test('b1')).toBe(true);
    expect(segmentRegExp('[!ab]*').test('b1')).toBe(false);
    expect(segmentRegExp('[a-c]x').test('cx')).toBe(true);
    expect(segmentRegExp('\\*.jpg').test('*.jpg')).toBe(true);
    expect(segmentRegExp('\\*.jpg').test('a.jpg')).toBe(false);
    expect(segmentRegExp('a(b)+.jpg').test('a(b)+.jpg')).toBe(true);
  });

  it('expands ** depth-first in name order, with the pattern\'s own prefix, files only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mobilenet-glob-'));
    for (const f of ['b.jpg', 'a.jpg', 'sub/c.jpg', 'sub/deeper/d.jpg', 'sub/e.png', '.hidden/f.jpg', 'z.jpg.txt']) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), '');
    }
    mkdirSync(join(dir, 'folder.jpg'));
    const all = async (pattern: string) => {
      const out: string[] = [];
      for await (const p of globFiles(pattern)) out.push(p);
      return out;
    };
    expect(await all(`${dir}/**/*.jpg`)).toEqual([`${dir}/a.jpg`, `${dir}/b.jpg`, `${dir}/sub/c.jpg`, `${dir}/sub/deeper/d.jpg`]);
    expect(await all(`${dir}/*.jpg`)).toEqual([`${dir}/a.jpg`, `${dir}/b.jpg`]);
    expect(await all(`${dir}/s?b/*`)).toEqual([`${dir}/sub/c.jpg`, `${dir}/sub/e.png`]);
    expect(await all(`${dir}/nothing/*.jpg`)).toEqual([]);
  });
});

describe('listing', () => {
  it('reads newline and NUL lists across chunk boundaries, multi-byte characters split included', async () => {
    const names = ['a.jpg', 'with space.jpg', 'ünï 写真.jpg', 'new\nline.jpg'];
    const nul = Buffer.from(names.join('\0') + '\0');
    const chunks = Array.from({ length: nul.length }, (_, i) => nul.subarray(i, i + 1));
    const got: string[] = [];
    for await (const p of readList(Readable.from(chunks), '\0')) got.push(p);
    expect(got).toEqual(names);
    const lines: string[] = [];
    for await (const p of readList(Readable.from([Buffer.from('a.jpg\n\nb.jpg\nc.jpg')]), '\n')) lines.push(p);
    expect(lines).toEqual(['a.jpg', 'b.jpg', 'c.jpg']);
  });

  it('walks folders depth-first in name order, skipping non-images unless allFiles, keeping links unfollowed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mobilenet-walk-'));
    for (const f of ['b/2.jpg', 'b/1.JPG', 'a.png', 'c.txt', 'b.jpeg', 'B.gif']) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), '');
    }
    symlinkSync(join(dir, 'missing.jpg'), join(dir, 'broken.jpg'));
    symlinkSync(join(dir, 'b'), join(dir, 'link-to-b'));
    const all = async (allFiles: boolean) => {
      const out: string[] = [];
      for await (const p of walkFolder(dir, { allFiles })) out.push(p.slice(dir.length + 1));
      return out;
    };
    expect(await all(false)).toEqual(['B.gif', 'a.png', 'b/1.JPG', 'b/2.jpg', 'b.jpeg', 'broken.jpg']);
    expect(await all(true)).toEqual(['B.gif', 'a.png', 'b/1.JPG', 'b/2.jpg', 'b.jpeg', 'broken.jpg', 'c.txt', 'link-to-b']);
    // Files, folders, globs and missing paths, in the order given.
    const listed: string[] = [];
    for await (const p of listInputs([join(dir, 'c.txt'), join(dir, 'b'), `${dir}/*.png`, join(dir, 'nope*.jpg')])) listed.push(p);
    expect(listed).toEqual([join(dir, 'c.txt'), join(dir, 'b/1.JPG'), join(dir, 'b/2.jpg'), join(dir, 'a.png'), join(dir, 'nope*.jpg')]);
  });
});

describe('shards', () => {
  it('parses i/n and auto/n from each orchestrator variable, and refuses what does not fit', () => {
    expect(parseShard('2/5', {})).toEqual({ index: 2, count: 5, source: '--shard' });
    expect(parseShard('auto/4', { JOB_COMPLETION_INDEX: '3' })).toMatchObject({ index: 3, count: 4, source: 'JOB_COMPLETION_INDEX' });
    expect(parseShard('auto/4', { AWS_BATCH_JOB_ARRAY_INDEX: '0' })).toMatchObject({ index: 0, source: 'AWS_BATCH_JOB_ARRAY_INDEX' });
    expect(parseShard('auto/4', { SLURM_ARRAY_TASK_ID: '2' })).toMatchObject({ index: 2, source: 'SLURM_ARRAY_TASK_ID' });
    expect(parseShard('auto/4', { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '1' })).toMatchObject({ index: 3 });
    for (const [value, env] of [['4/4', {}], ['-1/4', {}], ['1/0', {}], ['x', {}], ['auto/4', {}], ['auto/4', { JOB_COMPLETION_INDEX: 'one' }],
      ['auto/2', { AWS_BATCH_JOB_ARRAY_INDEX: '2' }]] as const) {
      expect(() => parseShard(value, env), `${value} ${JSON.stringify(env)}`).toThrow();
    }
  });

  it('shards partition a listing exactly, stably, and about evenly', async () => {
    const paths = Array.from({ length: 3000 }, (_, i) => `photos/${i % 7}/IMG_${i}.jpg`);
    const seen = new Map<string, number>();
    for (let index = 0; index < 5; index++) {
      let n = 0;
      for await (const p of inShard(Readable.from(paths), { index, count: 5, source: '--shard' })) {
        expect(seen.has(p)).toBe(false);
        seen.set(p, index);
        n++;
      }
      expect(n).toBeGreaterThan(500);
      expect(n).toBeLessThan(700);
    }
    expect(seen.size).toBe(paths.length);
    // The documented hash: first 8 bytes of SHA-256, big-endian, mod n (here checked against a known value).
    expect(shardOf('photos/IMG_0001.jpg', 1)).toBe(0);
    expect(shardOf('abc', 1000)).toBe(Number(0xba7816bf8f01cfean % 1000n));
  });
});
