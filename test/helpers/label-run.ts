// `bin/mobilenet label` as a child process (the way scripts run it), with its peak RSS; and the small
// files the label tests work on.
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { startMobilenet, type ChildOptions, type ChildOutcome } from './child.js';
import { MODELS_DIR } from './shared.js';

const SHARD_VARIABLES = ['JOB_COMPLETION_INDEX', 'AWS_BATCH_JOB_ARRAY_INDEX', 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_MIN'];

/** The smallest shared model: the tests are about the command, not the network. */
export const SMALL_MODEL = 'mobilenet_v1_0.25_128_quant';

export type LabelOutcome = ChildOutcome;
export type LabelOptions = ChildOptions;

/** Starts `mobilenet label …` with the shared models and no orchestrator variables; `done` settles when it exits. */
export function startLabel(args: string[], options: LabelOptions = {}): { child: ChildProcess; done: Promise<LabelOutcome> } {
  const unset = Object.fromEntries(SHARD_VARIABLES.map((name) => [name, undefined]));
  return startMobilenet(['label', ...args], { ...options, env: { MOBILENET_HOME: MODELS_DIR, ...unset, ...options.env } });
}

export function runLabel(args: string[], options: LabelOptions = {}): Promise<LabelOutcome> {
  return startLabel(args, options).done;
}

/** Our own lines on stderr (`mobilenet: …`), without anything else a library may print there. */
export function ourLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('mobilenet:') || line.startsWith('error:'));
}

/** A small JPEG of seeded noise (different seeds, different images). */
export async function writeJpeg(path: string, width = 64, height = 48, seed = 1): Promise<string> {
  const pixels = Buffer.alloc(width * height * 3);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < pixels.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    pixels[i] = (x >>> 16) & 0xff;
  }
  mkdirSync(join(path, '..'), { recursive: true });
  await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 80 }).toFile(path);
  return path;
}

/** `count` copies of `source` named photo-0000.jpg … in `dir`. */
export function copies(source: string, dir: string, count: number): string[] {
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: count }, (_, i) => {
    const path = join(dir, `photo-${String(i).padStart(4, '0')}.jpg`);
    copyFileSync(source, path);
    return path;
  });
}

export function writeText(path: string, text: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}
