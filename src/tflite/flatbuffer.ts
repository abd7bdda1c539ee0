// A minimal, defensive FlatBuffers reader: just what the TFLite and metadata schemas need.
//
// Wire format (little-endian):
//   - the buffer starts with a uoffset (u32) to the root table, optionally followed by a 4-byte file
//     identifier;
//   - a table starts with an soffset (i32): its vtable lives at `table - soffset`;
//   - a vtable is [u16 vtable size, u16 inline table size, u16 field offset × n]; offset 0 = absent;
//   - reference fields (tables, strings, vectors) hold a uoffset relative to the field's own position,
//     so they always point forward;
//   - a vector / string is a u32 element count followed by the elements (strings add a NUL).
//
// Every read is bounds-checked against the bytes, so a truncated or garbage file ends in a ModelFormatError
// naming the file and what was being read, never a RangeError from DataView. Reference offsets only go
// forward and table nesting is capped, so no input can make the reader loop.
import { ModelFormatError } from './errors.js';

/** Deeper nesting than any schema we read means a corrupt (or hostile) file. */
export const MAX_TABLE_DEPTH = 32;

/**
 * Decoding work allowed per byte of buffer. References may be shared (many tables pointing at one
 * vector), so without a budget a small file could make eager decoding quadratic. A well-formed file is
 * decoded in about one unit per byte.
 */
const WORK_PER_BYTE = 4;
const WORK_BASE = 1 << 20;

const utf8 = new TextDecoder('utf-8');

/**
 * What is being read, for error messages: a string, or a function that builds it. Messages are only
 * needed when a read fails, so the hot paths pass functions (or nothing) and no string is built for
 * the thousands of reads of a good file.
 */
export type Label = string | (() => string);

const text = (label: Label): string => (typeof label === 'string' ? label : label());

export class FlatBuffer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** File name for error messages. */
  readonly file: string;
  /** What this buffer is ('model', 'metadata'), for error messages. */
  readonly what: string;

  private workLeft: number;

  constructor(bytes: Uint8Array, file: string, what: string) {
    this.workLeft = WORK_BASE + WORK_PER_BYTE * bytes.byteLength;
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.file = file;
    this.what = what;
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  fail(detail: string): never {
    throw new ModelFormatError(this.file, `corrupt ${this.what}: ${detail}`);
  }

  /** Accounts for decoding `units` (bytes copied, tables visited); throws when the budget runs out. */
  spend(units: number, what: Label): void {
    this.workLeft -= units;
    if (this.workLeft < 0) this.fail(`${text(what)}: references shared so often that decoding would not end`);
  }

  /** True when [pos, pos + size) lies inside the buffer. */
  inside(pos: number, size: number): boolean {
    return Number.isSafeInteger(pos) && Number.isSafeInteger(size) && pos >= 0 && size >= 0 && pos + size <= this.bytes.byteLength;
  }

  /** Throws unless [pos, pos + size) lies inside the buffer. */
  check(pos: number, size: number, what: Label): void {
    if (!this.inside(pos, size)) {
      this.fail(`${text(what)} at offset ${pos} (${size} bytes) lies outside the ${this.length}-byte buffer`);
    }
  }

  u8(pos: number, what: Label): number {
    this.check(pos, 1, what);
    return this.view.getUint8(pos);
  }

  i8(pos: number, what: Label): number {
    this.check(pos, 1, what);
    return this.view.getInt8(pos);
  }

  u16(pos: number, what: Label): number {
    this.check(pos, 2, what);
    return this.view.getUint16(pos, true);
  }

  i32(pos: number, what: Label): number {
    this.check(pos, 4, what);
    return this.view.getInt32(pos, true);
  }

  u32(pos: number, what: Label): number {
    this.check(pos, 4, what);
    return this.view.getUint32(pos, true);
  }

  f32(pos: number, what: Label): number {
    this.check(pos, 4, what);
    return this.view.getFloat32(pos, true);
  }

  /** A 64-bit integer as a JS number; values beyond ±2^53 are refused rather than rounded. */
  i64(pos: number, what: Label): number {
    this.check(pos, 8, what);
    // Two 32-bit halves: exact whenever the result is a safe integer (BigInt only to name a bad value).
    const value = this.view.getInt32(pos + 4, true) * 4294967296 + this.view.getUint32(pos, true);
    return Number.isSafeInteger(value) ? value : this.safe(this.view.getBigInt64(pos, true), what);
  }

  u64(pos: number, what: Label): number {
    this.check(pos, 8, what);
    const value = this.view.getUint32(pos + 4, true) * 4294967296 + this.view.getUint32(pos, true);
    return Number.isSafeInteger(value) ? value : this.safe(this.view.getBigUint64(pos, true), what);
  }

  private safe(value: bigint, what: Label): number {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      this.fail(`${text(what)} = ${value} is out of range`);
    }
    return Number(value);
  }

  /** Follows the uoffset stored at `pos`. */
  deref(pos: number, what: Label): number {
    return pos + this.u32(pos, what);
  }

  /** The 4-byte file identifier after the root offset ('' when the buffer is too short). */
  identifier(): string {
    if (this.length < 8) return '';
    return String.fromCharCode(...this.bytes.subarray(4, 8));
  }

  /** The root table. */
  root(what: string): Table {
    if (this.length < 8) this.fail(`${this.length} bytes is too short for a flatbuffer`);
    const rootPos = this.deref(0, 'root offset');
    return this.tableAt(rootPos, 0, what);
  }

  /** The table at `pos`, with its vtable validated. */
  tableAt(pos: number, depth: number, what: Label): Table {
    if (depth > MAX_TABLE_DEPTH) this.fail(`${text(what)}: tables nested deeper than ${MAX_TABLE_DEPTH}`);
    if (!this.inside(pos, 4)) this.check(pos, 4, () => `${text(what)} (table)`);
    const vtable = pos - this.view.getInt32(pos, true);
    if (!this.inside(vtable, 4)) this.check(vtable, 4, () => `${text(what)} (vtable)`);
    const vtableSize = this.view.getUint16(vtable, true);
    const tableSize = this.view.getUint16(vtable + 2, true);
    if (vtableSize < 4 || vtableSize % 2 !== 0) this.fail(`${text(what)}: invalid vtable size ${vtableSize}`);
    if (!this.inside(vtable, vtableSize)) this.check(vtable, vtableSize, () => `${text(what)} (vtable)`);
    if (tableSize < 4) this.fail(`${text(what)}: invalid table size ${tableSize}`);
    if (!this.inside(pos, tableSize)) this.check(pos, tableSize, () => `${text(what)} (table)`);
    this.spend(vtableSize + tableSize, what);
    return new Table(this, pos, vtable, vtableSize, tableSize, depth, what);
  }
}

/** Location of a vector's elements. */
export interface VectorRef {
  /** Offset of the first element. */
  start: number;
  length: number;
}

export class Table {
  #what: Label;

  constructor(
    readonly fb: FlatBuffer,
    readonly pos: number,
    private readonly vtable: number,
    private readonly vtableSize: number,
    private readonly tableSize: number,
    readonly depth: number,
    /** Where this table sits in the schema, for error messages ("Model.subgraphs[0].tensors[3]"). */
    what: Label,
  ) {
    this.#what = what;
  }

  /** Where this table sits in the schema, for error messages ("Model.subgraphs[0].tensors[3]"). */
  get what(): string {
    if (typeof this.#what !== 'string') this.#what = this.#what();
    return this.#what;
  }

  private name(field: number): string {
    return `${this.what} field ${field}`;
  }

  /** Absolute position of a present field of `size` inline bytes, or 0 when the field is absent. */
  private fieldPos(field: number, size: number): number {
    const entry = 4 + 2 * field;
    if (entry + 2 > this.vtableSize) return 0;
    const offset = this.fb.view.getUint16(this.vtable + entry, true);
    if (offset === 0) return 0;
    if (offset < 4 || offset + size > this.tableSize) {
      this.fb.fail(`${this.name(field)}: offset ${offset} (+${size}) outside the ${this.tableSize}-byte table`);
    }
    return this.pos + offset;
  }

  has(field: number): boolean {
    return this.fieldPos(field, 0) !== 0;
  }

  bool(field: number, fallback = false): boolean {
    const p = this.fieldPos(field, 1);
    return p ? this.fb.view.getUint8(p) !== 0 : fallback;
  }

  u8(field: number, fallback = 0): number {
    const p = this.fieldPos(field, 1);
    return p ? this.fb.view.getUint8(p) : fallback;
  }

  i8(field: number, fallback = 0): number {
    const p = this.fieldPos(field, 1);
    return p ? this.fb.view.getInt8(p) : fallback;
  }

  i32(field: number, fallback = 0): number {
    const p = this.fieldPos(field, 4);
    return p ? this.fb.view.getInt32(p, true) : fallback;
  }

  u32(field: number, fallback = 0): number {
    const p = this.fieldPos(field, 4);
    return p ? this.fb.view.getUint32(p, true) : fallback;
  }

  f32(field: number, fallback = 0): number {
    const p = this.fieldPos(field, 4);
    return p ? this.fb.view.getFloat32(p, true) : fallback;
  }

  i64(field: number, fallback = 0): number {
    const p = this.fieldPos(field, 8);
    return p ? this.fb.i64(p, () => this.name(field)) : fallback;
  }

  u64(field: number, fallback = 0): number {
    const p = this.fieldPos(field, 8);
    return p ? this.fb.u64(p, () => this.name(field)) : fallback;
  }

  /** Position of the object a reference field points to, or 0 when absent. */
  private target(field: number): number {
    const p = this.fieldPos(field, 4);
    // fieldPos checked that the 4 bytes lie inside the table, hence inside the buffer.
    return p ? p + this.fb.view.getUint32(p, true) : 0;
  }

  /** A sub-table, or null when the field is absent. */
  table(field: number, what: string): Table | null {
    const t = this.target(field);
    return t ? this.fb.tableAt(t, this.depth + 1, () => `${this.what}.${what}`) : null;
  }

  /** A vector of `elementSize`-byte elements, bounds-checked as a whole, or null when absent. */
  vector(field: number, elementSize: number, what: string): VectorRef | null {
    const t = this.target(field);
    if (!t) return null;
    const fb = this.fb;
    if (!fb.inside(t, 4)) fb.check(t, 4, () => `${this.what}.${what} (vector length)`);
    const length = fb.view.getUint32(t, true);
    // length ≤ 2^32 and elementSize ≤ 8, so the product is an exact double.
    if (!fb.inside(t + 4, length * elementSize)) fb.check(t + 4, length * elementSize, () => `${this.what}.${what} (vector of ${length})`);
    fb.spend(4 + length * elementSize, () => `${this.what}.${what}`);
    return { start: t + 4, length };
  }

  /** A vector of tables (each element a uoffset); each table is validated as it is read. */
  tables(field: number, what: string): Table[] {
    const v = this.vector(field, 4, what);
    if (!v) return [];
    const out: Table[] = new Array(v.length);
    const view = this.fb.view;
    for (let i = 0; i < v.length; i++) {
      const at = v.start + 4 * i;
      out[i] = this.fb.tableAt(at + view.getUint32(at, true), this.depth + 1, () => `${this.what}.${what}[${i}]`);
    }
    return out;
  }

  /** Positions of the elements of a vector of inline structs of `structSize` bytes. */
  structs(field: number, structSize: number, what: string): number[] {
    const v = this.vector(field, structSize, what);
    if (!v) return [];
    return Array.from({ length: v.length }, (_, i) => v.start + i * structSize);
  }

  /** A string (UTF-8, invalid sequences replaced), or null when absent. */
  string(field: number, what: string): string | null {
    const v = this.vector(field, 1, what);
    if (!v) return null;
    return v.length === 0 ? '' : utf8.decode(this.fb.bytes.subarray(v.start, v.start + v.length));
  }

  /** A vector of strings. */
  strings(field: number, what: string): string[] {
    const v = this.vector(field, 4, what);
    if (!v) return [];
    const out: string[] = [];
    for (let i = 0; i < v.length; i++) {
      const s = this.fb.deref(v.start + 4 * i, () => `${this.what}.${what}[${i}]`);
      const length = this.fb.u32(s, () => `${this.what}.${what}[${i}] (length)`);
      this.fb.check(s + 4, length, () => `${this.what}.${what}[${i}]`);
      this.fb.spend(length, () => `${this.what}.${what}[${i}]`);
      out.push(utf8.decode(this.fb.bytes.subarray(s + 4, s + 4 + length)));
    }
    return out;
  }

  /** A [ubyte] / [byte] vector as a view into the buffer (no copy, so not charged as work). */
  bytes(field: number, what: string): Uint8Array | null {
    const t = this.target(field);
    if (!t) return null;
    const length = this.fb.u32(t, () => `${this.what}.${what} (vector length)`);
    this.fb.check(t + 4, length, () => `${this.what}.${what} (vector of ${length})`);
    return this.fb.bytes.subarray(t + 4, t + 4 + length);
  }

  /** An [int] vector, copied (the data need not be aligned). */
  int32s(field: number, what: string): number[] | null {
    const v = this.vector(field, 4, what);
    if (!v) return null;
    const out: number[] = new Array(v.length);
    const view = this.fb.view;
    for (let i = 0; i < v.length; i++) out[i] = view.getInt32(v.start + 4 * i, true);
    return out;
  }

  /** A [float] vector, copied. */
  float32s(field: number, what: string): Float32Array | null {
    const v = this.vector(field, 4, what);
    if (!v) return null;
    const out = new Float32Array(v.length);
    const view = this.fb.view;
    for (let i = 0; i < v.length; i++) out[i] = view.getFloat32(v.start + 4 * i, true);
    return out;
  }

  /** A [long] vector as numbers; values beyond ±2^53 are refused. */
  int64s(field: number, what: string): number[] | null {
    const v = this.vector(field, 8, what);
    if (!v) return null;
    const out: number[] = new Array(v.length);
    const view = this.fb.view;
    for (let i = 0; i < v.length; i++) {
      const at = v.start + 8 * i;
      const value = view.getInt32(at + 4, true) * 4294967296 + view.getUint32(at, true);
      out[i] = Number.isSafeInteger(value) ? value : this.fb.i64(at, () => `${this.what}.${what}[${i}]`);
    }
    return out;
  }

  /**
   * A union: its type is the u8 field `field`, its value the table in field `field + 1` (how flatc
   * numbers the two hidden fields of a union). Null when the type is NONE (0).
   */
  union(field: number, what: string): { type: number; table: Table } | null {
    const type = this.u8(field);
    if (type === 0) return null;
    const table = this.table(field + 1, what);
    if (!table) this.fb.fail(`${this.what}.${what}: union of type ${type} without a value`);
    return { type, table };
  }
}
