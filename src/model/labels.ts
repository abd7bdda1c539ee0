import { FileReadProblem, readRegularFile } from '../util/read-file.js';

/** A label file that cannot be read or does not fit the model. */
export class LabelsError extends Error {
  readonly code = 'LABELS_INVALID';
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'LabelsError';
  }
}

/** Largest label file read: ImageNet's 1001 labels take 21 KB. */
export const MAX_LABEL_FILE_BYTES = 4 * 2 ** 20;

/** TensorFlow's ImageNet models have 1001 outputs, class 0 being "background"; label lists often have the other 1000. */
const IMAGENET_WITH_BACKGROUND = 1001;

/**
 * Labels for a model with `numClasses` outputs, or null when the list does not fit: one label per
 * class, or the 1000 ImageNet classes for a 1001-output model (then "background" is prepended as
 * class 0). No other count is shifted: models trained on people's own classes have no background class,
 * and a list one short for them is a wrong list.
 */
export function fitLabels(lines: readonly string[], numClasses: number): string[] | null {
  if (lines.length === numClasses) return [...lines];
  if (numClasses === IMAGENET_WITH_BACKGROUND && lines.length === numClasses - 1) return ['background', ...lines];
  return null;
}

/**
 * Drops the class numbers of a numbered label file ("0 cats", "1 dogs", … as Teachable Machine and
 * Coral write them; also "0: cats"): only when every line carries one and they count 0, 1, 2, … in order,
 * so names that merely start with a number stay as they are.
 */
export function stripNumbering(lines: readonly string[]): string[] {
  const numbered = /^\s*(\d+)(?::\s*|\s+)(\S.*)$/;
  const names: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = numbered.exec(lines[i]!);
    if (!m || Number(m[1]) !== i) return [...lines];
    names.push(m[2]!);
  }
  return names;
}

/**
 * Reads a label file (one class name a line, optionally numbered from 0) for a model with `numClasses`
 * outputs. See fitLabels for the one count that may differ.
 */
export async function readLabels(path: string, numClasses: number): Promise<string[]> {
  let text: string;
  try {
    text = new TextDecoder('utf-8').decode(await readRegularFile(path, MAX_LABEL_FILE_BYTES));
  } catch (error) {
    throw new LabelsError(path, error instanceof FileReadProblem ? error.problem : String(error));
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  const labels = fitLabels(stripNumbering(lines), numClasses);
  if (labels) return labels;
  const accepted = numClasses === IMAGENET_WITH_BACKGROUND ? `${numClasses} (or ${numClasses - 1} without "background")` : `${numClasses}`;
  throw new LabelsError(path,
    `has ${lines.length} labels, the model has ${numClasses} classes (the file needs ${accepted} lines, one label a line)`,
  );
}

/** The label of class `index`, or a stand-in when the model came without labels. */
export function labelOf(labels: readonly string[] | undefined, index: number): string {
  return labels?.[index] ?? `class ${index}`;
}
