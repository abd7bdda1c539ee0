// Downloads a catalog model into the models folder: streamed to a temporary file beside the final
// one while it is hashed, checked against the pinned size and SHA-256, then renamed into place.
// A rename is atomic, so the final name only ever holds a whole, verified file: a failed,
// interrupted or mismatched download leaves nothing that looks cached, and two processes pulling
// the same model both end with the same verified file.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { CatalogEntry } from './catalog.js';
import { DEFAULT_MODELS_URL } from './catalog.js';

/** What a download tells its caller as it goes (the CLI draws a progress bar from it). */
export interface DownloadReporter {
  start?(url: string, totalBytes: number): void;
  progress?(receivedBytes: number): void;
  retry?(attempt: number, reason: string, delayMs: number): void;
  done?(file: string): void;
}

export interface DownloadOptions {
  /** URL base; the file is fetched from `<baseUrl>/<file>` (default: $MOBILENET_MODELS_URL, else the pinned source). */
  baseUrl?: string;
  /** No response, or no bytes for this long, aborts the attempt (default 30 s). */
  timeoutMs?: number;
  /** Tries in all (default 3). */
  attempts?: number;
  /** Wait before the first retry, doubled for each further one (default 1 s). */
  retryDelayMs?: number;
  reporter?: DownloadReporter;
}

/** A model could not be downloaded or did not match its checksum; nothing was kept. */
export class ModelDownloadError extends Error {
  readonly code = 'MODEL_DOWNLOAD_FAILED';
  constructor(
    readonly model: string,
    readonly url: string,
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${model}: download from ${url} failed: ${problem}`, options);
    this.name = 'ModelDownloadError';
  }
}

/** The URL a catalog model is downloaded from. */
export function modelUrl(entry: CatalogEntry, baseUrl = process.env.MOBILENET_MODELS_URL || DEFAULT_MODELS_URL): string {
  return `${baseUrl.replace(/\/+$/, '')}/${entry.file}`;
}

/** One attempt failed in a way that another attempt may not (network, timeout, 5xx, bad bytes). */
class TransientError extends Error {}

const inFlight = new Map<string, Promise<string>>();

/**
 * Downloads `entry` to `file` (in the models folder) and returns `file` once it holds the verified
 * bytes. Calls for the same file in one process share one download.
 */
export function downloadModel(entry: CatalogEntry, file: string, options: DownloadOptions = {}): Promise<string> {
  let pending = inFlight.get(file);
  if (!pending) {
    pending = download(entry, file, options).finally(() => inFlight.delete(file));
    inFlight.set(file, pending);
  }
  return pending;
}

async function download(entry: CatalogEntry, file: string, options: DownloadOptions): Promise<string> {
  const url = modelUrl(entry, options.baseUrl);
  const attempts = options.attempts ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const folder = dirname(file);
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    throw new ModelDownloadError(entry.name, url, file, `cannot create the models folder ${folder}: ${(error as Error).message}`, { cause: error });
  }
  await removeAbandonedParts(folder, basename(file));

  for (let attempt = 1; ; attempt++) {
    try {
      await attemptDownload(entry, url, file, options);
      options.reporter?.done?.(file);
      return file;
    } catch (error) {
      const problem = (error as Error).message;
      if (!(error instanceof TransientError)) throw new ModelDownloadError(entry.name, url, file, problem, { cause: error });
      if (attempt >= attempts) {
        throw new ModelDownloadError(entry.name, url, file, `${problem} (${attempts} attempts)`, { cause: error });
      }
      const delayMs = retryDelayMs * 2 ** (attempt - 1);
      options.reporter?.retry?.(attempt, problem, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

async function attemptDownload(entry: CatalogEntry, url: string, file: string, options: DownloadOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const armTimeout = (what: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new TransientError(`${what} for ${timeoutMs / 1000} s`)), timeoutMs);
  };

  const part = partFileName(file);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    armTimeout('no response');
    const response = await fetch(url, { signal: controller.signal, redirect: 'follow' }).catch((error: unknown) => {
      throw controller.signal.aborted ? controller.signal.reason : new TransientError(networkProblem(error));
    });
    if (!response.ok || !response.body) {
      const problem = `HTTP ${response.status} ${response.statusText}`.trim();
      const transient = response.status >= 500 || response.status === 408 || response.status === 429;
      await response.body?.cancel().catch(() => undefined);
      throw transient ? new TransientError(problem) : new Error(problem);
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared !== entry.bytes) {
      await response.body.cancel().catch(() => undefined);
      throw new TransientError(`the server announced ${declared} bytes, the model has ${entry.bytes}`);
    }
    options.reporter?.start?.(url, entry.bytes);

    handle = await open(part, 'wx');
    const hash = createHash('sha256');
    let received = 0;
    armTimeout('no data');
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        received += chunk.byteLength;
        // Sizes read from the network are limited before they are kept.
        if (received > entry.bytes) throw new TransientError(`the server sent more than the ${entry.bytes} bytes of the model`);
        hash.update(chunk);
        await handle.write(chunk);
        options.reporter?.progress?.(received);
        armTimeout('no data');
      }
    } catch (error) {
      if (controller.signal.aborted) throw controller.signal.reason;
      if (error instanceof TransientError) throw error;
      throw new TransientError(`the transfer broke off after ${received} bytes (${networkProblem(error)})`);
    }
    if (received !== entry.bytes) throw new TransientError(`the transfer ended after ${received} of ${entry.bytes} bytes`);
    const digest = hash.digest('hex');
    if (digest !== entry.sha256) throw new TransientError(`checksum mismatch: got sha256 ${digest}, expected ${entry.sha256}`);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(part, file);
  } finally {
    clearTimeout(timer);
    if (handle) await handle.close().catch(() => undefined);
    await unlink(part).catch(() => undefined);
  }
}

/** `.NAME.PID.RANDOM.part` beside the final file: hidden, and never mistaken for a model. */
function partFileName(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
}

const PART_FILE = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.part$/;
const ABANDONED_AFTER_MS = 24 * 3600 * 1000;

/** Deletes what killed downloads of this file left behind (their process is gone, or they are old). */
async function removeAbandonedParts(folder: string, name: string): Promise<void> {
  const entries = await readdir(folder).catch(() => [] as string[]);
  for (const entry of entries) {
    const match = PART_FILE.exec(entry);
    if (!match || match[1] !== name) continue;
    const path = join(folder, entry);
    const pid = Number(match[2]);
    const old = await stat(path).then((info) => Date.now() - info.mtimeMs > ABANDONED_AFTER_MS, () => false);
    if (old || !processAlive(pid)) await unlink(path).catch(() => undefined);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** "connection refused (ECONNREFUSED)" and the like, from fetch's nested causes. */
function networkProblem(error: unknown): string {
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}
