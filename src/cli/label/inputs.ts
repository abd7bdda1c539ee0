// `mobilenet label` inputs: the command line's files, folders, globs and `-` (a list on stdin) turned
// into one stream of paths, produced as it is consumed. Nothing here holds more than one folder's
// listing per level of the tree being walked, or one chunk of stdin.
//
// - a file (or anything that is not a folder: a FIFO, a device) is one input, taken as given;
// - a folder is walked depth-first, each folder's entries sorted by name (code-unit order, the same on
//   every machine and locale); files without an image extension are skipped unless `allFiles`; symbolic
//   links are inputs but never followed into folders (no cycles), so a broken link is one input;
// - a path that does not exist but holds `*`, `?` or `[` is a glob (glob.ts), expanded in the same order;
//   one that matches nothing is kept as it is (as a shell without nullglob does): "no such file";
// - `-` is a list of paths on stdin, one a line (or NUL-separated), each taken literally: no walking,
//   no globbing, no extension filter (what `find … -print0` gives is what is labelled).

import { fstatSync, type Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { globFiles, hasGlobMagic } from './glob.js';

/** Extensions of the formats we read, lower case (a folder walk skips other files unless --all-files). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.avif', '.tif', '.tiff', '.gif', '.bmp'] as const;

export function hasImageExtension(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && (IMAGE_EXTENSIONS as readonly string[]).includes(name.slice(dot).toLowerCase());
}

export interface ListingOptions {
  /** Keep every file of a folder walk, not only image extensions. */
  allFiles?: boolean;
  /** `-` lists paths separated by NUL instead of newlines. */
  nul?: boolean;
  /** What `-` reads (default process.stdin). */
  stdin?: AsyncIterable<Uint8Array | string>;
  /**
   * Told about a folder that could not be listed. The folder's path is also yielded as an input, so that
   * its error becomes a record in its place (the caller maps the path to this error).
   */
  onFolderError?: (path: string, error: Error) => void;
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every input named by `args`, in order. */
export async function* listInputs(args: readonly string[], options: ListingOptions = {}): AsyncGenerator<string> {
  for (const arg of args) {
    if (arg === '-') {
      yield* readList(options.stdin ?? process.stdin, options.nul ? '\0' : '\n');
      continue;
    }
    const info = await stat(arg).catch(() => undefined);
    if (info?.isDirectory()) {
      yield* walkFolder(arg, options);
    } else if (!info && hasGlobMagic(arg)) {
      let matched = false;
      for await (const path of globFiles(arg)) {
        matched = true;
        yield path;
      }
      if (!matched) yield arg;
    } else {
      yield arg;
    }
  }
}

/** The files under a folder, depth-first, each folder's entries sorted by name. */
export async function* walkFolder(folder: string, options: Pick<ListingOptions, 'allFiles' | 'onFolderError'> = {}): AsyncGenerator<string> {
  let entries: Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    options.onFolderError?.(folder, error as Error);
    yield folder;
    return;
  }
  entries.sort((a, b) => byName(a.name, b.name));
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* walkFolder(path, options);
    else if (options.allFiles || hasImageExtension(entry.name)) yield path;
  }
}

/** Whether stdin is a folder (`< dir`), which cannot be the list `-` reads. */
export function stdinIsFolder(): boolean {
  try {
    return fstatSync(0).isDirectory();
  } catch {
    return false;
  }
}

/** A folder's listing error as its input's record says it. */
export function folderProblem(error: Error): string {
  return `cannot list this folder (${(error as NodeJS.ErrnoException).code ?? error.message})`;
}

/** An input's error as its record says it: the problem without the file name the record already has. */
export function inputProblem(error: Error): string {
  const problem = (error as Error & { problem?: unknown }).problem;
  return typeof problem === 'string' ? problem : error.message;
}

/** The list on stdin could not be read (an I/O error): the run stops, exit 2. */
export class ListReadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ListReadError';
  }
}

/** The paths of a list (newline- or NUL-separated), as the stream gives them; empty entries are skipped. */
export async function* readList(stream: AsyncIterable<Uint8Array | string>, separator: '\n' | '\0'): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  const chunks = stream[Symbol.asyncIterator]();
  const next = async () => {
    try {
      return await chunks.next();
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      throw new ListReadError(`cannot read the list of paths on stdin: ${e.code ?? e.message}`, { cause: error });
    }
  };
  for (let step = await next(); !step.done; step = await next()) {
    const chunk = step.value;
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    let start = 0;
    for (let end = text.indexOf(separator); end !== -1; end = text.indexOf(separator, start)) {
      if (end > start) yield text.slice(start, end);
      start = end + 1;
    }
    rest = text.slice(start);
  }
  rest += decoder.end();
  if (rest !== '') yield rest;
}
