// Strict parsers for what `mobilenet label` writes, written independently of src/cli/label/records.ts
// so that a round trip through them checks the writer against the formats' rules, not against itself.

/**
 * RFC 4180, strictly: records end with CRLF (the last one may not), a field is either unquoted (no
 * comma, double quote, CR or LF in it) or quoted (anything, a double quote written twice), and every
 * record has as many fields as the first. Anything else throws, naming the offset.
 */
export function parseCsvStrict(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`CSV: ${why} at offset ${i}`);
  };
  if (text === '') return [];
  for (;;) {
    // One field.
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') fail('double quote in an unquoted field');
        field += text[i++];
      }
    }
    record.push(field);
    // What follows a field: a comma, CRLF, or the end.
    if (i >= text.length) {
      records.push(record);
      break;
    }
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '\r' && text[i + 1] === '\n') {
      i += 2;
      records.push(record);
      record = [];
      if (i >= text.length) break;
      continue;
    }
    fail(`unexpected ${JSON.stringify(text[i])} after a field`);
  }
  const width = records[0]!.length;
  records.forEach((r, n) => {
    if (r.length !== width) throw new Error(`CSV: record ${n + 1} has ${r.length} fields, the first has ${width}`);
  });
  return records;
}

/**
 * Tab-separated values with the escapes of PostgreSQL's text COPY format / "linear TSV": every line ends
 * with LF, fields are split by tabs, and a backslash must start one of `\\`, `\t`, `\n`, `\r`. Every line
 * has as many fields as the first; a raw CR, or any other backslash, throws.
 */
export function parseTsvStrict(text: string): string[][] {
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error('TSV: the last line has no line end');
  const lines = text.slice(0, -1).split('\n');
  const rows = lines.map((line, n) => line.split('\t').map((field) => {
    if (field.includes('\r')) throw new Error(`TSV: raw CR on line ${n + 1}`);
    let out = '';
    for (let i = 0; i < field.length; i++) {
      if (field[i] !== '\\') {
        out += field[i];
        continue;
      }
      const next = field[++i];
      if (next === '\\') out += '\\';
      else if (next === 't') out += '\t';
      else if (next === 'n') out += '\n';
      else if (next === 'r') out += '\r';
      else throw new Error(`TSV: bad escape \\${next ?? ''} on line ${n + 1}`);
    }
    return out;
  }));
  const width = rows[0]!.length;
  rows.forEach((r, n) => {
    if (r.length !== width) throw new Error(`TSV: line ${n + 1} has ${r.length} fields, the first has ${width}`);
  });
  return rows;
}

export interface ParsedRecord {
  path: string;
  predictions?: { index: number; label: string; score: number }[];
  error?: string;
}

/** JSON Lines, strictly: every line (LF-terminated) one JSON object with a path. */
export function parseJsonl(text: string): ParsedRecord[] {
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error('JSONL: the last line has no line end');
  return text.slice(0, -1).split('\n').map((line, n) => {
    const value = JSON.parse(line) as ParsedRecord;
    if (typeof value.path !== 'string') throw new Error(`JSONL: line ${n + 1} has no path`);
    return value;
  });
}

/** CSV/TSV rows (header first) as records: path, index_i/label_i/score_i, error. */
export function rowsToRecords(rows: string[][]): ParsedRecord[] {
  const [header, ...body] = rows;
  if (!header || header[0] !== 'path' || header[header.length - 1] !== 'error') throw new Error(`bad header: ${JSON.stringify(header)}`);
  const k = (header.length - 2) / 3;
  return body.map((row) => {
    const error = row[row.length - 1]!;
    if (error !== '') return { path: row[0]!, error };
    const predictions = [];
    for (let r = 0; r < k; r++) {
      const [index, label, score] = row.slice(1 + 3 * r, 4 + 3 * r);
      if (index === '') continue;
      predictions.push({ index: Number(index), label: label!, score: Number(score) });
    }
    return { path: row[0]!, predictions };
  });
}
