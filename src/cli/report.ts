// How results are shown: human lines on stdout, or one JSON document for scripts.
import type { Prediction } from '../classifier.js';

export type ImageResult = { file: string; predictions: Prediction[] } | { file: string; error: string };

export function formatHuman(result: ImageResult & { predictions: Prediction[] }): string {
  const lines = result.predictions.map((p) => `  ${p.score.toFixed(4)}  ${p.label}`);
  return [result.file, ...lines].join('\n') + '\n';
}

export function formatJson(results: ImageResult[]): string {
  const rounded = results.map((result) =>
    'error' in result
      ? result
      : { ...result, predictions: result.predictions.map((p) => ({ ...p, score: Number(p.score.toPrecision(6)) })) },
  );
  return JSON.stringify(rounded, null, 2) + '\n';
}
