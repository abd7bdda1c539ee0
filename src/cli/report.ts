// How results are shown: human lines on stdout, or one JSON document for scripts.
import type { Prediction } from '../classifier.js';

export type ImageResult = { file: string; predictions: Prediction[] } | { file: string; error: string };

export function formatHuman(result: ImageResult & { predictions: Prediction[] }): string {
  const lines = result.predictions.map((p) => `  ${p.score.toFixed(4)}  ${p.label}`);
  return [result.file, ...lines].join('\n') + '\n';
}

function rounded(result: ImageResult): ImageResult {
  return 'error' in result
    ? result
    : { ...result, predictions: result.predictions.map((p) => ({ ...p, score: Number(p.score.toPrecision(6)) })) };
}

/**
 * One JSON array written element by element as results come: nothing is held back, and `end()`
 * (called however the run ends) closes the document, so the output always parses.
 */
export function jsonArrayWriter(stream: NodeJS.WritableStream): { add(result: ImageResult): void; end(): void } {
  let count = 0;
  let ended = false;
  return {
    add(result) {
      const element = JSON.stringify(rounded(result), null, 2).replace(/\n/g, '\n  ');
      stream.write(`${count++ === 0 ? '[\n  ' : ',\n  '}${element}`);
    },
    end() {
      if (ended) return;
      ended = true;
      stream.write(count === 0 ? '[]\n' : '\n]\n');
    },
  };
}
