// The models folder: where named models are kept once downloaded, and how a kept file is checked.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CatalogEntry } from './catalog.js';

/**
 * Where named models live: $MOBILENET_HOME, else $XDG_CACHE_HOME/mobilenet, else the platform's
 * cache folder (~/.cache on Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows).
 */
export function modelsFolder(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.MOBILENET_HOME) return env.MOBILENET_HOME;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'mobilenet');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'mobilenet');
  if (platform === 'win32') return join(env.LOCALAPPDATA || join(homedir(), 'AppData', 'Local'), 'mobilenet', 'Cache');
  return join(homedir(), '.cache', 'mobilenet');
}

/** The file a catalog model is kept in (whether or not it is there). */
export function cachedFile(entry: CatalogEntry, env: NodeJS.ProcessEnv = process.env): string {
  return join(modelsFolder(env), entry.file);
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export type CacheState = 'missing' | 'ok' | 'corrupt';

/** Whether a catalog model is kept, and, when `verify`, whether its bytes are the published ones. */
export async function cacheState(entry: CatalogEntry, file: string, verify: boolean): Promise<CacheState> {
  const info = await stat(file).catch(() => undefined);
  if (!info) return 'missing';
  if (!info.isFile() || info.size !== entry.bytes) return 'corrupt';
  if (!verify) return 'ok';
  return (await sha256File(file)) === entry.sha256 ? 'ok' : 'corrupt';
}
