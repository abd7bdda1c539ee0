// `mobilenet label` records: how one result is written (JSON Lines, CSV, TSV) and how a written file
// is read back (for --resume). Writing and reading live together so that they cannot drift apart.
//
// - jsonl: one JSON object a line, `{"path", "predictions": [{"index", "label", "score"}]}` or
//   `{"path", "error"}`; LF line ends. JSON escapes every control character, so a record is one line
//   whatever the file name holds.
// - csv (RFC 4180): a header row, then one row per input: path, then index/label/score for each of the
//   top-k classes (empty cells when fewer scored above --threshold), then error (empty when classified).
//   Fields holding a comma, a double quote, CR or LF are quoted, quotes doubled; rows end with CRLF.
// - tsv: the same columns, tab-separated, LF line ends; a backslash, tab, LF or CR inside a field is
//   written `\\`, `\t`, `\n`, `\r` (the escaping of PostgreSQL's COPY text format and of "linear TSV"),
//   so that a row is always one line of exactly the header's columns.

import type { Prediction } from '../../classifier.js';

export const FORMATS = ['jsonl', 'csv', 'tsv'] as const;
export type Format = (typeof FORMATS)[number];

/** One input's outcome, as written. */
export type LabelRecord = { path: string; predictions: Prediction[] } | { path: string; error: string };

/** Scores are written with 6 significant digits (as `classify --json`). */
function roundScore(score: number): number {
  return Number(score.toPrecision(6));
}

/** The columns of a CSV/TSV file for top-k classes. */
export function columns(topK: number): string[] {
  const names = ['path'];
  for (let rank = 1; rank <= topK; rank++) names.push(`index_${rank}`, `label_${rank}`, `score_${rank}`);
  names.push('error');
  return names;
}

function row(record: LabelRecord, topK: number): string[] {
  const cells: string[] = [record.path];
  const predictions = 'predictions' in record ? record.predictions : [];
  for (let rank = 0; rank < topK; rank++) {
    const p = predictions[rank];
    cells.push(p ? String(p.index) : '', p ? p.label : '', p ? String(roundScore(p.score)) : '');
  }
  cells.push('error' in record ? record.error : '');
  return cells;
}

const CSV_NEEDS_QUOTES = /[",\r\n]/;

export function csvField(value: string): string {
  return CSV_NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

export function tsvField(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => TSV_ESCAPES[c]!);
}

/** A writer of records in one format: the header (CSV/TSV) and each record as one complete string. */
export interface RecordFormat {
  readonly name: Format;
  /** What a new file starts with ('' for jsonl). */
  readonly header: string;
  /** One record, with its line end. */
  format(record: LabelRecord): string;
}

export function recordFormat(format: Format, topK: number): RecordFormat {
  switch (format) {
    case 'jsonl':
      return {
        name: format,
        header: '',
        format: (record) => `${JSON.stringify('error' in record
          ? { path: record.path, error: record.error }
          : { path: record.path, predictions: record.predictions.map((p) => ({ index: p.index, label: p.label, score: roundScore(p.score) })) })}\n`,
      };
    case 'csv':
      return {
        name: format,
        header: `${columns(topK).map(csvField).join(',')}\r\n`,
        format: (record) => `${row(record, topK).map(csvField).join(',')}\r\n`,
      };
    case 'tsv':
      return {
        name: format,
        header: `${columns(topK).join('\t')}\n`,
        format: (record) => `${row(record, topK).map(tsvField).join('\t')}\n`,
      };
  }
}

// ---- reading a written file back --------------------------------------------------------------------

/** A file that is not (or not entirely) records of the expected format: resuming it could lose data. */
export class RecordFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordFileError';
  }
}

/** One complete record found in a file: its path and the byte offset just after it. */
export interface ScannedRecord {
  path: string;
  end: number;
}

/** What a scan of a whole file found. */
export interface ScanResult {
  /** Bytes of complete records (and header) from the start: anything after is a torn tail. */
  completeBytes: number;
  /** Whether the file holds a header row (CSV/TSV; always false for jsonl). */
  hasHeader: boolean;
  /** The torn tail's length in bytes (0 when the file ends with a complete record). */
  tornBytes: number;
}

/**
 * Reads records from a file's bytes, chunk by chunk, calling `onRecord` with the path of each complete
 * record, and returns where the complete records end. Bytes after the last line end (outside quotes, for
 * CSV) are the torn tail: a record whose write was cut short (a power failure; our own writes are whole,
 * so a kill cannot do it) or garbage the file system left there. A complete record that does not parse,
 * or a header that is not the one `topK` gives, is a RecordFileError: that file is not ours to cut.
 */
export async function scanRecords(
  chunks: AsyncIterable<Uint8Array>,
  format: Format,
  topK: number,
  name: string,
  onRecord: (path: string) => void,
): Promise<ScanResult> {
  const scanner = format === 'csv' ? new CsvScanner() : new LineScanner();
  const expectedHeader = format === 'jsonl' ? undefined : columns(topK);
  const width = columns(topK).length;
  let hasHeader = false;
  let completeBytes = 0;
  let recordNumber = 0;

  const take = (fields: string[] | undefined, raw: Buffer, end: number) => {
    recordNumber++;
    if (recordNumber === 1 && expectedHeader) {
      const header = fields ?? [];
      if (header.join('\u0000') !== expectedHeader.join('\u0000')) {
        throw new RecordFileError(`${name}: its first row is not the ${format} header of this command (${
          header.length === expectedHeader.length ? 'other column names' : `${header.length} columns, expected ${expectedHeader.length}: another --top-k or --format?`
        }); not resuming from it`);
      }
      hasHeader = true;
      completeBytes = end;
      return;
    }
    const parsed = parseRecord(format, fields, raw, width);
    if (typeof parsed !== 'string') {
      throw new RecordFileError(`${name}: record ${recordNumber} is not a ${format} label record (${parsed.reason}); not resuming from it`);
    }
    onRecord(parsed);
    completeBytes = end;
  };

  let offset = 0;
  for await (const chunk of chunks) {
    for (const record of scanner.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), offset)) {
      take(record.fields, record.raw, record.end);
    }
    offset += chunk.byteLength;
  }
  // Whatever is left without a line end is the torn tail.
  return { completeBytes, hasHeader, tornBytes: offset - completeBytes };
}

/** The path of one record, or why it is not one. */
function parseRecord(format: Format, fields: string[] | undefined, raw: Buffer, width: number): string | { reason: string } {
  if (format === 'jsonl') {
    let value: unknown;
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch {
      return { reason: 'not JSON' };
    }
    if (value === null || typeof value !== 'object' || typeof (value as { path?: unknown }).path !== 'string') {
      return { reason: 'no "path"' };
    }
    const v = value as { path: string; predictions?: unknown; error?: unknown };
    if (!Array.isArray(v.predictions) && typeof v.error !== 'string') return { reason: 'neither "predictions" nor "error"' };
    return v.path;
  }
  if (!fields) return { reason: 'bad quoting' };
  if (fields.length !== width) return { reason: `${fields.length} fields, expected ${width}` };
  return fields[0]!;
}

interface RawRecord {
  /** CSV/TSV fields (undefined when the record could not be split). */
  fields: string[] | undefined;
  /** The record's bytes without its line end. */
  raw: Buffer;
  /** Offset just after its line end. */
  end: number;
}

/** Splits LF-terminated lines (jsonl, tsv); TSV fields are unescaped. */
class LineScanner {
  #rest: Buffer = Buffer.alloc(0);
  #restStart = 0;

  *push(chunk: Buffer, chunkStart: number): Generator<RawRecord> {
    const data = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    const dataStart = this.#rest.length > 0 ? this.#restStart : chunkStart;
    let start = 0;
    for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
      const raw = data.subarray(start, nl);
      yield { fields: splitTsv(raw), raw, end: dataStart + nl + 1 };
      start = nl + 1;
    }
    this.#rest = Buffer.from(data.subarray(start));
    this.#restStart = dataStart + start;
  }
}

const TSV_UNESCAPES: Record<string, string> = { '\\\\': '\\', '\\t': '\t', '\\n': '\n', '\\r': '\r' };

/** A TSV line's fields, unescaped; undefined for a backslash that is not one of the four escapes. */
function splitTsv(raw: Buffer): string[] | undefined {
  const fields = raw.toString('utf8').split('\t');
  const out: string[] = [];
  for (const field of fields) {
    if (/\\(?![\\tnr])/.test(field.replace(/\\\\/g, ''))) return undefined;
    out.push(field.replace(/\\[\\tnr]/g, (e) => TSV_UNESCAPES[e]!));
  }
  return out;
}

/**
 * Splits RFC 4180 records (CRLF or LF row ends; quoted fields may hold anything, `""` is a quote) at the
 * byte level: the structural characters are ASCII, which never occur inside a UTF-8 multi-byte sequence.
 */
class CsvScanner {
  #rest: Buffer = Buffer.alloc(0);
  #restStart = 0;

  *push(chunk: Buffer, chunkStart: number): Generator<RawRecord> {
    const data = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    const dataStart = this.#rest.length > 0 ? this.#restStart : chunkStart;
    let start = 0;
    let quoted = false;
    for (let i = 0; i < data.length; i++) {
      const c = data[i];
      if (c === 0x22) quoted = !quoted; // a doubled quote toggles twice
      else if (c === 0x0a && !quoted) {
        const raw = data.subarray(start, i > start && data[i - 1] === 0x0d ? i - 1 : i);
        yield { fields: splitCsv(raw), raw, end: dataStart + i + 1 };
        start = i + 1;
      }
    }
    this.#rest = Buffer.from(data.subarray(start));
    this.#restStart = dataStart + start;
  }
}

/** One CSV record's fields (without its row end); undefined when the quoting is not RFC 4180. */
export function splitCsv(raw: Buffer): string[] | undefined {
  const text = raw.toString('utf8');
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q === -1) return undefined;
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (text[i] !== ',') return undefined;
      i++;
    } else {
      const comma = text.indexOf(',', i);
      const value = text.slice(i, comma === -1 ? text.length : comma);
      if (value.includes('"') || value.includes('\r') || value.includes('\n')) return undefined;
      fields.push(value);
      if (comma === -1) return fields;
      i = comma + 1;
    }
  }
}
