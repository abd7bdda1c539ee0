import { readFile } from 'node:fs/promises';

export class LabelsError extends Error {}

/**
 * Reads a label file (one class name a line) for a model with `numClasses` outputs. A file with one
 * line fewer is the common 1000-class list without TensorFlow's "background" class 0: it is shifted.
 */
export async function readLabels(path: string, numClasses: number): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LabelsError(`${path}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? error})`}`);
  }
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === numClasses) return lines;
  if (lines.length === numClasses - 1) return ['background', ...lines];
  throw new LabelsError(`${path}: has ${lines.length} labels, the model has ${numClasses} classes`);
}

/** The label of class `index`, or a stand-in when the model came without labels. */
export function labelOf(labels: readonly string[] | undefined, index: number): string {
  return labels?.[index] ?? `class ${index}`;
}
