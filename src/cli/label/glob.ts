// Glob patterns for `mobilenet label` (for when the shell does not expand them: quoted patterns, lists
// longer than the command line allows, Windows): `*` and `?` within one path segment, `[abc]`, `[a-z]`,
// `[!a]` (or `[^a]`), `\` escaping the next character, and `**` as a whole segment for any number of
// folders. As in a shell, wildcards do not match a leading `.` unless the segment starts with one.
// Patterns select files (not folders); the tree is walked depth-first, entries sorted by name, and
// only into folders that can still match. Symbolic links are matched but not followed into folders.

import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

const GLOBSTAR = Symbol('**');
type Segment = RegExp | typeof GLOBSTAR;

export function hasGlobMagic(text: string): boolean {
  return /[*?[]/.test(text);
}

/** One path segment's pattern as an anchored regular expression. */
export function segmentRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) source += escape(pattern[++i]!);
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) {
        source += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body[0] === '!' || body[0] === '^';
      if (negate) body = body.slice(1);
      source += `[${negate ? '^/' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else source += escape(c);
  }
  // Wildcards never match a leading dot (a segment that starts with '.' matches it literally).
  return new RegExp(`^${pattern.startsWith('.') ? '' : '(?!\\.)'}${source}$`, 'u');
}

function escape(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/** The states reachable without consuming a name: a `**` may match no folder at all. */
function closure(segments: readonly Segment[], states: Iterable<number>): Set<number> {
  const out = new Set<number>();
  const stack = [...states];
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (out.has(s)) continue;
    out.add(s);
    if (s < segments.length && segments[s] === GLOBSTAR) stack.push(s + 1);
  }
  return out;
}

/** The states after matching one name (a folder may also be swallowed by a `**`). */
function step(segments: readonly Segment[], states: Set<number>, name: string, isFolder: boolean): Set<number> {
  const next = new Set<number>();
  for (const s of states) {
    if (s >= segments.length) continue;
    const segment = segments[s]!;
    if (segment === GLOBSTAR) {
      if (isFolder && !name.startsWith('.')) next.add(s);
    } else if (segment.test(name)) {
      next.add(s + 1);
    }
  }
  return closure(segments, next);
}

/** The files matching `pattern`, spelled with the pattern's own literal prefix (`./x/*.jpg` → `./x/a.jpg`). */
export async function* globFiles(pattern: string): AsyncGenerator<string> {
  const parts = pattern.split('/');
  let first = parts.findIndex(hasGlobMagic);
  if (first === -1) first = parts.length;
  const literal = parts.slice(0, first).join('/');
  const base = first === 0 ? '.' : literal === '' ? '/' : literal;
  const prefix = first === 0 ? '' : `${literal}/`;
  const segments: Segment[] = parts.slice(first).filter((p) => p !== '').map((p) => (p === '**' ? GLOBSTAR : segmentRegExp(p)));
  if (segments.length === 0) return;
  yield* expand(segments, base, prefix, closure(segments, [0]));
}

async function* expand(segments: readonly Segment[], folder: string, prefix: string, states: Set<number>): AsyncGenerator<string> {
  let entries: Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch {
    return; // as a shell: an unreadable folder matches nothing
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const isFolder = entry.isDirectory();
    const next = step(segments, states, entry.name, isFolder);
    if (next.size === 0) continue;
    if (isFolder) {
      if ([...next].some((s) => s < segments.length)) yield* expand(segments, join(folder, entry.name), `${prefix}${entry.name}/`, next);
    } else if (next.has(segments.length)) {
      yield `${prefix}${entry.name}`;
    }
  }
}
