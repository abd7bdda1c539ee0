// `bin/mobilenet label` as a child process (the way scripts run it), with its peak RSS; and the small
// files the label tests work on.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { BIN } from './child.js';
import { MODELS_DIR, REPO_ROOT } from './shared.js';

const MAXRSS_HOOK = join(REPO_ROOT, 'test', 'helpers', 'maxrss.cjs');
const SHARD_VARIABLES = ['JOB_COMPLETION_INDEX', 'AWS_BATCH_JOB_ARRAY_INDEX', 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_MIN'];

/** The smallest shared model: the tests are about the command, not the network. */
export const SMALL_MODEL = 'mobilenet_v1_0.25_128_quant';

export interface LabelOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stderr without the peak-RSS line. */
  stderr: string;
  maxRssMiB: number;
}

export interface LabelOptions {
  env?: Record<string, string>;
  input?: string | Buffer;
  cwd?: string;
  /** Run as this user and group (tests run as root, where permissions do not stop reads). */
  uid?: number;
  gid?: number;
  timeoutMs?: number;
}

/** Starts `mobilenet label …`; `done` settles when it exits. */
export function startLabel(args: string[], options: LabelOptions = {}): { child: ChildProcess; done: Promise<LabelOutcome> } {
  const env: Record<string, string | undefined> = { ...process.env, MOBILENET_HOME: MODELS_DIR, MOBILENET_OFFLINE: '1' };
  for (const name of SHARD_VARIABLES) delete env[name];
  const child = spawn(process.execPath, ['--require', MAXRSS_HOOK, BIN, 'label', ...args], {
    env: { ...env, ...options.env },
    cwd: options.cwd,
    uid: options.uid,
    gid: options.gid,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(options.input);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<LabelOutcome>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const match = /\n?maxrss_kib=(\d+)\n/.exec(stderr);
      resolve({
        code, signal, stdout,
        stderr: match ? stderr.replace(match[0], '') : stderr,
        maxRssMiB: match ? Number(match[1]) / 1024 : NaN,
      });
    });
  });
  return { child, done };
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
