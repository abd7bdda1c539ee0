// `mobilenet embed --format jsonl`: one JSON object a line, `{"path", "embedding": [...]}` or
// `{"path", "error"}`, LF line ends (JSON escapes every control character: one record, one line).

/**
 * A float32 as a decimal that reads back as the same float32: 8 significant digits (trailing zeros
 * dropped), or 9 for the rare value 8 do not pin down. (The shortest such decimal is at most a digit
 * shorter, and searching for it took 3 times as long: ~1 ms a 1280-value record.)
 */
export function float32Text(value: number): string {
  if (!Number.isFinite(value)) return 'null'; // JSON has no NaN or Infinity
  const eight = Number(value.toPrecision(8));
  return String(Math.fround(eight) === value ? eight : Number(value.toPrecision(9)));
}

/** One input's record, with its line end. */
export function embeddingRecord(path: string, outcome: Float32Array | { error: string }): string {
  if (!(outcome instanceof Float32Array)) return `${JSON.stringify({ path, error: outcome.error })}\n`;
  return `{"path":${JSON.stringify(path)},"embedding":[${Array.from(outcome, float32Text).join(',')}]}\n`;
}
