// `mobilenet embed --format jsonl`: one JSON object a line, `{"path", "embedding": [...]}` or
// `{"path", "error"}`, LF line ends (JSON escapes every control character: one record, one line).

/** The shortest decimal that reads back as the same float32 (at most 9 significant digits). */
export function float32Text(value: number): string {
  if (!Number.isFinite(value)) return 'null'; // JSON has no NaN or Infinity
  for (let digits = 6; digits < 9; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return String(Number(text));
  }
  return String(Number(value.toPrecision(9)));
}

/** One input's record, with its line end. */
export function embeddingRecord(path: string, outcome: Float32Array | { error: string }): string {
  if (!(outcome instanceof Float32Array)) return `${JSON.stringify({ path, error: outcome.error })}\n`;
  return `{"path":${JSON.stringify(path)},"embedding":[${Array.from(outcome, float32Text).join(',')}]}\n`;
}
