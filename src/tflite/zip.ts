// The zip archive that TFLite metadata appends after the flatbuffer (it holds the label file).
// Only what such archives use: one disk, no ZIP64, no encryption, entries stored or deflated.
// Every offset is checked; the CRC-32 of each extracted entry is verified.
import { crc32, inflateRawSync } from 'node:zlib';
import { ModelFormatError } from './errors.js';

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
/** Largest entry extracted: label files are a few KB (ImageNet's: 21 KB); a bigger one is not a label file. */
export const MAX_ENTRY_BYTES = 4 * 2 ** 20;

export const ZIP_STORED = 0;
export const ZIP_DEFLATE = 8;

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Absolute offset of the entry's local header in the bytes. */
  localHeader: number;
}

export interface ZipArchive {
  entries: ZipEntry[];
  /** Offset of the first byte that belongs to the archive (where the data before it ends). */
  start: number;
  /** The uncompressed contents of the entry named `name`, or null when there is none. */
  read(name: string): Uint8Array | null;
}

const utf8 = new TextDecoder('utf-8');

/**
 * Finds a zip archive at the end of `bytes`. Null when there is no End-Of-Central-Directory record
 * (no archive); a ModelFormatError when there is one but the archive is broken.
 */
export function findZip(bytes: Uint8Array, file: string): ZipArchive | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (detail: string): never => {
    throw new ModelFormatError(file, `corrupt zip archive: ${detail}`);
  };
  // The EOCD record ends the file, followed only by its comment: search backwards and require the
  // comment length to reach exactly the end, so bytes that merely look like a signature are skipped.
  let eocd = -1;
  const lowest = Math.max(0, bytes.length - EOCD_SIZE - MAX_COMMENT);
  for (let p = bytes.length - EOCD_SIZE; p >= lowest; p--) {
    if (view.getUint32(p, true) === EOCD_SIGNATURE && p + EOCD_SIZE + view.getUint16(p + 20, true) === bytes.length) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) return null;

  const disk = view.getUint16(eocd + 4, true);
  const cdDisk = view.getUint16(eocd + 6, true);
  const diskEntries = view.getUint16(eocd + 8, true);
  const count = view.getUint16(eocd + 10, true);
  const cdSize = view.getUint32(eocd + 12, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (disk !== 0 || cdDisk !== 0 || diskEntries !== count) fail('multi-disk archives are not supported');
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) fail('ZIP64 is not supported');
  const cdStart = eocd - cdSize;
  if (cdStart < 0) fail(`central directory of ${cdSize} bytes does not fit before offset ${eocd}`);
  // Offsets in the archive count from its own start; when it was appended to other data (our case is
  // either way in practice), they are shifted by the size of that data.
  const shift = cdStart - cdOffset;
  if (shift < 0) fail(`central directory offset ${cdOffset} lies past its actual position ${cdStart}`);

  const entries: ZipEntry[] = [];
  let p = cdStart;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > eocd) fail(`central directory entry ${i} runs past the directory`);
    if (view.getUint32(p, true) !== CENTRAL_SIGNATURE) fail(`bad central directory entry ${i} at offset ${p}`);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    const next = p + CENTRAL_SIZE + nameLength + extraLength + commentLength;
    if (next > eocd) fail(`central directory entry ${i} runs past the directory`);
    const entry: ZipEntry = {
      name: utf8.decode(bytes.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLength)),
      flags: view.getUint16(p + 8, true),
      method: view.getUint16(p + 10, true),
      crc32: view.getUint32(p + 16, true),
      compressedSize: view.getUint32(p + 20, true),
      size: view.getUint32(p + 24, true),
      localHeader: view.getUint32(p + 42, true) + shift,
    };
    if (entry.compressedSize === 0xffffffff || entry.size === 0xffffffff || entry.localHeader - shift === 0xffffffff) {
      fail(`entry ${entry.name}: ZIP64 is not supported`);
    }
    if (entry.localHeader + LOCAL_SIZE > cdStart) fail(`entry ${entry.name}: local header lies outside the archive`);
    entries.push(entry);
    p = next;
  }
  const start = entries.reduce((lowestHeader, e) => Math.min(lowestHeader, e.localHeader), cdStart);

  const read = (name: string): Uint8Array | null => {
    const entry = entries.find((e) => e.name === name);
    if (!entry) return null;
    const what = `entry ${entry.name}`;
    const h = entry.localHeader;
    if (view.getUint32(h, true) !== LOCAL_SIGNATURE) fail(`${what}: bad local header at offset ${h}`);
    if (entry.flags & 1) fail(`${what} is encrypted`);
    // Checked before inflating: the declared size sets the output limit, and it could say 4 GB.
    if (entry.size > MAX_ENTRY_BYTES) fail(`${what} declares ${entry.size} bytes, more than the ${MAX_ENTRY_BYTES} a label file may have`);
    const dataStart = h + LOCAL_SIZE + view.getUint16(h + 26, true) + view.getUint16(h + 28, true);
    const dataEnd = dataStart + entry.compressedSize;
    if (dataEnd > cdStart) fail(`${what}: data runs past the central directory`);
    const raw = bytes.subarray(dataStart, dataEnd);
    let data: Uint8Array;
    if (entry.method === ZIP_STORED) {
      if (entry.compressedSize !== entry.size) fail(`${what}: stored with different sizes`);
      data = raw;
    } else if (entry.method === ZIP_DEFLATE) {
      try {
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
      } catch (error) {
        return fail(`${what}: ${(error as Error).message}`);
      }
      if (data.length !== entry.size) fail(`${what}: inflated to ${data.length} bytes, expected ${entry.size}`);
    } else {
      return fail(`${what}: compression method ${entry.method} is not supported`);
    }
    if (crc32(data) >>> 0 !== entry.crc32) fail(`${what}: CRC-32 mismatch`);
    return data;
  };

  return { entries, start, read };
}

/** Lines of a label file (UTF-8, optional BOM, LF or CRLF); a final empty line is dropped. */
export function parseLabels(data: Uint8Array): string[] {
  let text = utf8.decode(data);
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
