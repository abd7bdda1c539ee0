// Test helper: a tiny FlatBuffers writer and a TFLite model writer on top of it, to build models the
// real files do not cover (float weights, FULLY_CONNECTED, MEAN, PAD, unsupported ops, …).
//
// Layout is forward-only: a table is written, then the objects it references after it, so every
// uoffset is positive; each vtable is written just before its table. Tables are described as arrays
// indexed by field id (undefined = absent).
import { crc32, deflateRawSync } from 'node:zlib';

export type FbField =
  | { kind: 'bool' | 'u8' | 'i8'; value: number }
  | { kind: 'i32' | 'u32' | 'f32'; value: number }
  | { kind: 'i64' | 'u64'; value: bigint }
  | { kind: 'string'; value: string }
  | { kind: 'bytes'; value: Uint8Array }
  | { kind: 'i32s' | 'f32s'; value: ArrayLike<number> }
  | { kind: 'i64s'; value: ArrayLike<number> }
  | { kind: 'table'; value: FbTable }
  | { kind: 'tables'; value: FbTable[] };

export type FbTable = (FbField | undefined)[];

export const fb = {
  bool: (v: boolean): FbField => ({ kind: 'bool', value: v ? 1 : 0 }),
  u8: (value: number): FbField => ({ kind: 'u8', value }),
  i8: (value: number): FbField => ({ kind: 'i8', value }),
  i32: (value: number): FbField => ({ kind: 'i32', value }),
  u32: (value: number): FbField => ({ kind: 'u32', value }),
  f32: (value: number): FbField => ({ kind: 'f32', value }),
  i64: (value: number | bigint): FbField => ({ kind: 'i64', value: BigInt(value) }),
  u64: (value: number | bigint): FbField => ({ kind: 'u64', value: BigInt(value) }),
  string: (value: string): FbField => ({ kind: 'string', value }),
  bytes: (value: Uint8Array): FbField => ({ kind: 'bytes', value }),
  i32s: (value: ArrayLike<number>): FbField => ({ kind: 'i32s', value }),
  f32s: (value: ArrayLike<number>): FbField => ({ kind: 'f32s', value }),
  i64s: (value: ArrayLike<number>): FbField => ({ kind: 'i64s', value }),
  table: (value: FbTable): FbField => ({ kind: 'table', value }),
  tables: (value: FbTable[]): FbField => ({ kind: 'tables', value }),
};

class Out {
  buf = new Uint8Array(1024);
  view = new DataView(this.buf.buffer);
  pos = 0;

  private grow(need: number): void {
    if (this.pos + need <= this.buf.length) return;
    let size = this.buf.length;
    while (this.pos + need > size) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Pads so that (pos + offset) is a multiple of `align`. */
  align(align: number, offset = 0): void {
    while ((this.pos + offset) % align !== 0) this.u8(0);
  }

  skip(n: number): number {
    this.grow(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  // skip() may grow (replace) the buffer: take the position before touching this.view.
  u8(v: number): void {
    const at = this.skip(1);
    this.view.setUint8(at, v);
  }

  u16(v: number): void {
    const at = this.skip(2);
    this.view.setUint16(at, v, true);
  }

  u32(v: number): void {
    const at = this.skip(4);
    this.view.setUint32(at, v >>> 0, true);
  }

  raw(bytes: Uint8Array): void {
    const at = this.skip(bytes.length);
    this.buf.set(bytes, at);
  }
}

function inlineSize(f: FbField): number {
  switch (f.kind) {
    case 'bool':
    case 'u8':
    case 'i8':
      return 1;
    case 'i64':
    case 'u64':
      return 8;
    default:
      return 4;
  }
}

function writeTable(out: Out, fields: FbTable): number {
  // Inline layout: soffset, then fields from the widest down (keeps each naturally aligned).
  const present = fields.map((f, id) => ({ f, id })).filter((x): x is { f: FbField; id: number } => x.f !== undefined);
  present.sort((a, b) => inlineSize(b.f) - inlineSize(a.f));
  const offsets = new Map<number, number>();
  let size = 4;
  for (const { f, id } of present) {
    const s = inlineSize(f);
    size = Math.ceil(size / s) * s;
    if (s === 8 && size === 4) size = 8;
    offsets.set(id, size);
    size += s;
  }
  size = Math.ceil(size / 4) * 4;

  out.align(2);
  const vtable = out.pos;
  out.u16(4 + 2 * fields.length);
  out.u16(size);
  for (let id = 0; id < fields.length; id++) out.u16(offsets.get(id) ?? 0);
  out.align(8);
  const table = out.skip(size);
  out.view.setInt32(table, table - vtable, true);

  const refs: { at: number; f: FbField }[] = [];
  for (const { f, id } of present) {
    const at = table + offsets.get(id)!;
    switch (f.kind) {
      case 'bool':
      case 'u8':
        out.view.setUint8(at, f.value);
        break;
      case 'i8':
        out.view.setInt8(at, f.value);
        break;
      case 'i32':
        out.view.setInt32(at, f.value, true);
        break;
      case 'u32':
        out.view.setUint32(at, f.value, true);
        break;
      case 'f32':
        out.view.setFloat32(at, f.value, true);
        break;
      case 'i64':
        out.view.setBigInt64(at, f.value, true);
        break;
      case 'u64':
        out.view.setBigUint64(at, f.value, true);
        break;
      default:
        refs.push({ at, f });
    }
  }
  for (const { at, f } of refs) {
    const target = writeObject(out, f);
    out.view.setUint32(at, target - at, true);
  }
  return table;
}

function writeObject(out: Out, f: FbField): number {
  switch (f.kind) {
    case 'string': {
      const bytes = new TextEncoder().encode(f.value);
      out.align(4);
      const at = out.pos;
      out.u32(bytes.length);
      out.raw(bytes);
      out.u8(0);
      return at;
    }
    case 'bytes': {
      out.align(16, 4);
      const at = out.pos;
      out.u32(f.value.length);
      out.raw(f.value);
      return at;
    }
    case 'i32s':
    case 'f32s': {
      out.align(4);
      const at = out.pos;
      out.u32(f.value.length);
      for (let i = 0; i < f.value.length; i++) {
        const p = out.skip(4);
        if (f.kind === 'i32s') out.view.setInt32(p, f.value[i]!, true);
        else out.view.setFloat32(p, f.value[i]!, true);
      }
      return at;
    }
    case 'i64s': {
      out.align(8, 4);
      const at = out.pos;
      out.u32(f.value.length);
      for (let i = 0; i < f.value.length; i++) {
        const p = out.skip(8);
        out.view.setBigInt64(p, BigInt(f.value[i]!), true);
      }
      return at;
    }
    case 'table':
      return writeTable(out, f.value);
    case 'tables': {
      out.align(4);
      const at = out.pos;
      out.u32(f.value.length);
      const slots = f.value.map(() => out.skip(4));
      f.value.forEach((t, i) => {
        const target = writeTable(out, t);
        out.view.setUint32(slots[i]!, target - slots[i]!, true);
      });
      return at;
    }
    default:
      throw new Error(`not a reference field: ${f.kind}`);
  }
}

/** Serializes a root table, with an optional 4-character file identifier. */
export function buildFlatBuffer(root: FbTable, identifier?: string): Uint8Array {
  const out = new Out();
  out.u32(0);
  if (identifier !== undefined) out.raw(new TextEncoder().encode(identifier.padEnd(4).slice(0, 4)));
  const rootPos = writeTable(out, root);
  out.view.setUint32(0, rootPos, true);
  return out.buf.slice(0, out.pos);
}

// --- TFLite ------------------------------------------------------------------------------------

export interface TensorDef {
  shape: number[];
  /** TensorType: 0 FLOAT32, 1 FLOAT16, 2 INT32, 3 UINT8, 4 INT64, 9 INT8. */
  type: number;
  /** Index into ModelDef.buffers (0 = none). */
  buffer?: number;
  name?: string;
  quantization?: { scale: number[]; zeroPoint: number[]; quantizedDimension?: number };
}

export interface OperatorDef {
  opcode: number;
  inputs: number[];
  outputs: number[];
  /** BuiltinOptions type number and its fields (a table), if any. */
  options?: { type: number; table: FbTable };
}

export interface ModelDef {
  /** Builtin operator codes, in opcode_index order. */
  opcodes: number[];
  tensors: TensorDef[];
  inputs: number[];
  outputs: number[];
  operators: OperatorDef[];
  /**
   * buffers[0] must be empty (TFLite convention); null = empty buffer; {offset, size} = data stored
   * outside the flatbuffer at that file offset (the > 2 GB layout).
   */
  buffers: (Uint8Array | null | { offset: number; size: number })[];
  /** Model.metadata entries. */
  metadata?: { name: string; buffer: number }[];
  description?: string;
}

export function writeTflite(def: ModelDef): Uint8Array {
  const tensor = (t: TensorDef): FbTable => [
    fb.i32s(t.shape),
    fb.i8(t.type),
    fb.u32(t.buffer ?? 0),
    fb.string(t.name ?? ''),
    t.quantization
      ? fb.table([
          undefined,
          undefined,
          fb.f32s(t.quantization.scale),
          fb.i64s(t.quantization.zeroPoint),
          undefined,
          undefined,
          fb.i32(t.quantization.quantizedDimension ?? 0),
        ])
      : undefined,
  ];
  const operator = (o: OperatorDef): FbTable => [
    fb.u32(def.opcodes.indexOf(o.opcode)),
    fb.i32s(o.inputs),
    fb.i32s(o.outputs),
    o.options ? fb.u8(o.options.type) : undefined,
    o.options ? fb.table(o.options.table) : undefined,
  ];
  const root: FbTable = [
    fb.u32(3),
    fb.tables(def.opcodes.map((code) => [fb.i8(Math.min(code, 127)), undefined, fb.i32(1), fb.i32(code)])),
    fb.tables([
      [
        fb.tables(def.tensors.map(tensor)),
        fb.i32s(def.inputs),
        fb.i32s(def.outputs),
        fb.tables(def.operators.map(operator)),
        fb.string('main'),
      ],
    ]),
    fb.string(def.description ?? 'test model'),
    fb.tables(
      def.buffers.map((b): FbTable => {
        if (!b) return [];
        if (b instanceof Uint8Array) return [fb.bytes(b)];
        return [undefined, fb.u64(b.offset), fb.u64(b.size)];
      }),
    ),
    undefined,
    def.metadata ? fb.tables(def.metadata.map((m) => [fb.string(m.name), fb.u32(m.buffer)])) : undefined,
  ];
  return buildFlatBuffer(root, 'TFL3');
}

/** A TFLITE_METADATA flatbuffer with input normalization and an output label file. */
export function writeMetadata(opts: { mean?: number[]; std?: number[]; labelFile?: string }): Uint8Array {
  const processUnits =
    opts.mean && opts.std
      ? fb.tables([[fb.u8(1), fb.table([fb.f32s(opts.mean), fb.f32s(opts.std)])]])
      : undefined;
  const input: FbTable = [fb.string('image'), undefined, undefined, undefined, processUnits];
  const output: FbTable = [
    fb.string('probability'),
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    opts.labelFile ? fb.tables([[fb.string(opts.labelFile), undefined, fb.i8(2)]]) : undefined,
  ];
  const root: FbTable = [
    fb.string('ImageClassifier'),
    undefined,
    undefined,
    fb.tables([[undefined, undefined, fb.tables([input]), fb.tables([output])]]),
  ];
  return buildFlatBuffer(root, 'M001');
}

/** A zip archive (no ZIP64) of the given files, stored or deflated. */
export function makeZip(files: { name: string; data: Uint8Array }[], method: 0 | 8 = 0): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const file of files) {
    const name = new TextEncoder().encode(file.name);
    const body = method === 8 ? new Uint8Array(deflateRawSync(file.data)) : file.data;
    const crc = crc32(file.data) >>> 0;
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(8, method, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, body.length, true);
    local.setUint32(22, file.data.length, true);
    local.setUint16(26, name.length, true);
    const cd = new DataView(new ArrayBuffer(46));
    cd.setUint32(0, 0x02014b50, true);
    cd.setUint16(4, 20, true);
    cd.setUint16(6, 20, true);
    cd.setUint16(10, method, true);
    cd.setUint32(16, crc, true);
    cd.setUint32(20, body.length, true);
    cd.setUint32(24, file.data.length, true);
    cd.setUint16(28, name.length, true);
    cd.setUint32(42, offset, true);
    parts.push(new Uint8Array(local.buffer), name, body);
    central.push(new Uint8Array(cd.buffer), name);
    offset += 30 + name.length + body.length;
  }
  const cdSize = central.reduce((n, p) => n + p.length, 0);
  const eocd = new DataView(new ArrayBuffer(22));
  eocd.setUint32(0, 0x06054b50, true);
  eocd.setUint16(8, files.length, true);
  eocd.setUint16(10, files.length, true);
  eocd.setUint32(12, cdSize, true);
  eocd.setUint32(16, offset, true);
  return concat([...parts, ...central, new Uint8Array(eocd.buffer)]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
