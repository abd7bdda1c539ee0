// The TFLite reader on synthetic models (test/helpers/tflite-mobilenet.ts) covering what the published
// files do not (float and float16 weights, FULLY_CONNECTED, MEAN, explicit PAD, standalone RELU6,
// out-of-line buffers, …), and unit tests of the FlatBuffers, zip and dequantization layers.
import { describe, expect, it } from 'vitest';
import { architectureShapes, shapeOf } from '../src/model/architecture.js';
import type { BottleneckLayer, Conv2dLayer, FullyConnectedLayer } from '../src/model/spec.js';
import { dequantize, readIntegerConstant, type TensorSource } from '../src/tflite/dequantize.js';
import { FlatBuffer, MAX_TABLE_DEPTH } from '../src/tflite/flatbuffer.js';
import { rangeImpliedActivation, samePadding } from '../src/tflite/graph.js';
import { ModelFormatError, parseTflite } from '../src/tflite/index.js';
import type { Tensor } from '../src/tflite/schema.js';
import { findZip, parseLabels } from '../src/tflite/zip.js';
import { buildSyntheticMobilenet, OP, TYPE, type SyntheticOptions } from './helpers/tflite-mobilenet.js';
import { buildFlatBuffer, concat, fb, makeZip, writeTflite, type FbTable, type ModelDef } from './helpers/tflite-writer.js';

const NAME = 'synthetic.tflite';

function parse(opts: SyntheticOptions, warnings: string[] = []) {
  const model = buildSyntheticMobilenet(opts);
  return { ...model, spec: parseTflite(model.bytes, NAME, { onWarning: (m) => warnings.push(m) }) };
}

function refuse(opts: SyntheticOptions): string {
  const { bytes } = buildSyntheticMobilenet(opts);
  try {
    parseTflite(bytes, NAME);
  } catch (error) {
    expect(error).toBeInstanceOf(ModelFormatError);
    return (error as Error).message;
  }
  throw new Error('expected a ModelFormatError');
}

/** Index of the n-th operator with this opcode. */
function nthOp(def: ModelDef, opcode: number, n = 0): number {
  const found = def.operators.map((o, i) => (o.opcode === opcode ? i : -1)).filter((i) => i >= 0);
  if (found[n] === undefined) throw new Error(`no operator ${opcode} #${n}`);
  return found[n]!;
}

describe('synthetic float models', () => {
  it('v1 α=0.25, FULLY_CONNECTED classifier: layers and weights as written', () => {
    const { spec, params } = parse({ arch: 'v1', alpha: 0.25, resolution: 96, numClasses: 10 });
    expect([spec.arch, spec.alpha, spec.resolution, spec.numClasses]).toEqual(['v1', 0.25, 96, 10]);
    expect(spec.layers.map(shapeOf)).toEqual(architectureShapes('v1', 0.25, 10));
    expect(spec.normalization).toEqual({ mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] });
    expect(spec.labels).toBeUndefined();
    const stem = spec.layers[0] as Conv2dLayer;
    expect(stem.weights).toEqual(params[0]!.weights);
    expect(stem.bias).toEqual(params[0]!.bias);
    const fc = spec.layers.find((l): l is FullyConnectedLayer => l.type === 'fc')!;
    expect(fc.weights).toEqual(params[params.length - 1]!.weights);
  });

  it('v2 α=0.35, 1×1 CONV_2D classifier and MEAN pooling', () => {
    const { spec, params } = parse({ arch: 'v2', alpha: 0.35, classifier: 'conv', pool: 'mean' });
    expect([spec.arch, spec.alpha]).toEqual(['v2', 0.35]);
    expect(spec.layers.map(shapeOf)).toEqual(architectureShapes('v2', 0.35, 10));
    const fc = spec.layers.find((l): l is FullyConnectedLayer => l.type === 'fc')!;
    expect(fc.weights).toEqual(params[params.length - 1]!.weights);
    const block = spec.layers[2] as BottleneckLayer;
    expect(block.expand?.weights).toEqual(params[3]!.weights);
    expect(block.depthwise.weights).toEqual(params[4]!.weights);
    expect(block.project.weights).toEqual(params[5]!.weights);
  });

  it('explicit SAME-equivalent PAD, standalone RELU6 and float16 weights behind DEQUANTIZE', () => {
    const { spec, params, def } = parse({
      arch: 'v2', alpha: 0.5, explicitPad: true, standaloneRelu6: true, weights: 'float16',
    });
    expect(def.operators.some((o) => o.opcode === OP.PAD)).toBe(true);
    expect(def.operators.some((o) => o.opcode === OP.RELU6)).toBe(true);
    expect(spec.layers.map(shapeOf)).toEqual(architectureShapes('v2', 0.5, 10));
    expect((spec.layers[0] as Conv2dLayer).act).toBe('relu6');
    expect((spec.layers[0] as Conv2dLayer).weights).toEqual(params[0]!.weights); // the float16-rounded values
  });

  it('refuses a PAD that differs from SAME', () => {
    expect(refuse({ arch: 'v1', alpha: 0.25, explicitPad: 'wrong' })).toBe(
      `${NAME}: operator 1 (CONV_2D): the PAD before it (operator 0) pads top/bottom/left/right 1/1/1/1; ` +
        'TensorFlow SAME padding would be 0/1/0/1',
    );
  });

  it('refuses VALID padding on a 3×3 convolution without PAD', () => {
    const message = refuse({
      arch: 'v1',
      alpha: 0.25,
      mutate: (def) => {
        def.operators[0]!.options!.table[0] = fb.i8(1);
      },
    });
    expect(message).toBe(`${NAME}: operator 0 (CONV_2D): VALID padding on a 3×3 kernel; MobileNet pads SAME`);
  });

  it.each([
    ['HARD_SWISH', OP.HARD_SWISH, 0, 1],
    ['LOGISTIC', OP.LOGISTIC, 28, 29],
  ])('names an unsupported operator (%s)', (name, opcode, afterLayer, opIndex) => {
    expect(refuse({ arch: 'v1', alpha: 0.25, insertOp: { afterLayer, opcode } })).toBe(
      `${NAME}: operator ${opIndex} (${name}) is not part of MobileNet v1/v2`,
    );
  });

  it('a logits model gets a softmax, with a warning', () => {
    const warnings: string[] = [];
    const { spec } = parse({ arch: 'v1', alpha: 0.25, softmax: false }, warnings);
    expect(spec.layers[spec.layers.length - 1]).toEqual({ type: 'softmax' });
    expect(warnings).toEqual([`${NAME}: the model ends without SOFTMAX; one was added after the classifier`]);
  });

  it('refuses softmax with beta ≠ 1 and a classifier with an activation', () => {
    const beta = refuse({
      arch: 'v1', alpha: 0.25,
      mutate: (def) => { def.operators[nthOp(def, OP.SOFTMAX)]!.options!.table[0] = fb.f32(2); },
    });
    expect(beta).toBe(`${NAME}: operator 29 (SOFTMAX): beta 2; only beta 1 is supported`);
    const relu = refuse({
      arch: 'v1', alpha: 0.25,
      mutate: (def) => { def.operators[nthOp(def, OP.FULLY_CONNECTED)]!.options!.table[0] = fb.i8(1); },
    });
    expect(relu).toBe(`${NAME}: operator 28 (FULLY_CONNECTED): the classifier must be linear, found relu`);
  });

  it('non-published widths: α derived from the channel counts', () => {
    expect(parse({ arch: 'v1', alpha: 0.3 }).spec.alpha).toBe(0.3);
    expect(parse({ arch: 'v2', alpha: 0.6 }).spec.alpha).toBe(0.6);
  });

  it('names the layer that differs from the table', () => {
    // A depthwise convolution with RELU instead of RELU6.
    const message = refuse({
      arch: 'v1', alpha: 0.25,
      mutate: (def) => { def.operators[1]!.options!.table[4] = fb.i8(1); },
    });
    expect(message).toBe(
      `${NAME}: operator 1 (DEPTHWISE_CONV_2D): expected depthwise(kernel=3, stride=1, channels=8, act=relu6) ` +
        '(layer 1 of MobileNet v1 α=0.25), found depthwise(kernel=3, stride=1, channels=8, act=relu)',
    );
  });

  it('a v2 block without its residual ADD is refused', () => {
    const message = refuse({
      arch: 'v2', alpha: 0.35,
      mutate: (def) => {
        const i = nthOp(def, OP.ADD);
        const add = def.operators[i]!;
        def.operators.splice(i, 1);
        for (const op of def.operators) op.inputs = op.inputs.map((t) => (t === add.outputs[0] ? add.inputs[0]! : t));
      },
    });
    expect(message).toMatch(
      /^synthetic\.tflite: operator 6 \(CONV_2D\): expected bottleneck\(inC=8, expandC=48, outC=8, stride=1, residual=true\) \(layer 3 of MobileNet v2 α=0.35\), found bottleneck\(.*residual=false\)$/,
    );
  });

  it('an ADD of something other than the block input is refused', () => {
    const message = refuse({
      arch: 'v2', alpha: 0.35,
      mutate: (def) => {
        const add = def.operators[nthOp(def, OP.ADD)]!;
        // Add the projection's output to itself.
        add.inputs = [add.inputs[0]!, add.inputs[0]!];
      },
    });
    expect(message).toMatch(/^synthetic\.tflite: operator 9 \(ADD\): adds tensor \d+, not the block input/);
  });

  it('an output range of exactly [0, 6] implies RELU6 (TF1 quantized graphs)', () => {
    const quantizeStemOutput = (scale: number) => (def: ModelDef) => {
      const stem = def.operators[0]!;
      stem.options!.table[3] = fb.i8(0); // fused activation NONE
      const out = def.tensors[stem.outputs[0]!]!;
      out.type = TYPE.UINT8;
      out.quantization = { scale: [scale], zeroPoint: [0] };
    };
    const { spec } = parse({ arch: 'v1', alpha: 0.25, mutate: quantizeStemOutput(6 / 255) });
    expect((spec.layers[0] as Conv2dLayer).act).toBe('relu6');
    expect(refuse({ arch: 'v1', alpha: 0.25, mutate: quantizeStemOutput(10 / 255) })).toMatch(
      /operator 0 \(CONV_2D\): expected conv2d\(.*act=relu6\).*found conv2d\(.*act=none\)/,
    );
  });

  it('reads buffers stored outside the flatbuffer (offset/size)', () => {
    const base = buildSyntheticMobilenet({ arch: 'v1', alpha: 0.25 });
    const def = base.def;
    const stemWeights = def.tensors[def.operators[0]!.inputs[1]!]!;
    const data = def.buffers[stemWeights.buffer!] as Uint8Array;
    // The size of the flatbuffer does not depend on the offset value: write once to learn it.
    def.buffers[stemWeights.buffer!] = { offset: 0, size: data.length };
    const size = writeTflite(def).length;
    const offset = Math.ceil(size / 16) * 16;
    def.buffers[stemWeights.buffer!] = { offset, size: data.length };
    const head = writeTflite(def);
    const bytes = concat([head, new Uint8Array(offset - head.length), data]);
    const spec = parseTflite(bytes, NAME);
    expect((spec.layers[0] as Conv2dLayer).weights).toEqual(base.params[0]!.weights);

    def.buffers[stemWeights.buffer!] = { offset, size: data.length + 1 };
    const short = concat([writeTflite(def), new Uint8Array(offset - head.length), data]);
    expect(() => parseTflite(short, NAME)).toThrow(/^synthetic\.tflite: corrupt model: .*outside the flatbuffer/);
  });

  it('refuses a non-square input', () => {
    const message = refuse({
      arch: 'v1', alpha: 0.25,
      mutate: (def) => { def.tensors[def.inputs[0]!]!.shape = [1, 64, 48, 3]; },
    });
    expect(message).toBe(`${NAME}: input is 64×48; only square inputs are supported`);
  });
});

describe('metadata, labels and normalization', () => {
  const labels = Array.from({ length: 10 }, (_, i) => `class ${i}`);

  it('per-channel normalization and a deflated label file', () => {
    const { spec } = parse({ arch: 'v1', alpha: 0.25, metadata: { mean: [1, 2, 3], std: [4], labels, zipMethod: 8 } });
    expect(spec.normalization).toEqual({ mean: [1, 2, 3], std: [4, 4, 4] });
    expect(spec.labels).toEqual(labels);
  });

  it('a label file with the wrong number of lines is ignored, with a warning', () => {
    const warnings: string[] = [];
    const { spec } = parse({ arch: 'v1', alpha: 0.25, metadata: { labels: labels.slice(1) } }, warnings);
    expect(spec.labels).toBeUndefined();
    expect(warnings).toEqual([`${NAME}: the label file has 9 lines for 10 classes; labels ignored`]);
  });

  it('a label file named by the metadata but cut off is an error', () => {
    const { bytes } = buildSyntheticMobilenet({ arch: 'v1', alpha: 0.25, metadata: { labels } });
    const start = findZip(bytes, NAME)!.start;
    expect(() => parseTflite(bytes.subarray(0, start), NAME)).toThrow(
      `${NAME}: the metadata names the label file labels.txt, but no zip archive follows the model (truncated file?)`,
    );
    const corrupt = bytes.slice();
    corrupt[start + 40] = corrupt[start + 40]! ^ 0xff; // inside the stored label text
    expect(() => parseTflite(corrupt, NAME)).toThrow(`${NAME}: corrupt zip archive: entry labels.txt: CRC-32 mismatch`);
  });

  it.each([
    ['uint8, zero point 128, scale 1/128', TYPE.UINT8, 1 / 128, 128, 128, 128],
    ['int8, zero point 0, scale 1/128 (pixels fed as p − 128)', TYPE.INT8, 1 / 128, 0, 128, 128],
    ['int8, zero point −1, scale 1/127.5', TYPE.INT8, 1 / 127.5, -1, 127, 127.5],
  ])('without metadata, from the input quantization: %s', (_label, type, scale, zeroPoint, mean, std) => {
    const { spec } = parse({ arch: 'v1', alpha: 0.25, input: { type, scale, zeroPoint } });
    expect(spec.normalization.mean).toEqual([mean, mean, mean]);
    for (const s of spec.normalization.std) expect(s).toBeCloseTo(std, 4);
  });
});

describe('FlatBuffer reader', () => {
  const file = 'fb.bin';
  it('reads scalars with defaults, strings, vectors and unions', () => {
    const bytes = buildFlatBuffer(
      [fb.i32(-5), undefined, fb.string('héllo'), fb.f32s([1.5, -2]), fb.i64s([7, -9]), fb.u8(3), fb.table([fb.bool(true)])],
      'TEST',
    );
    const root = new FlatBuffer(bytes, file, 'test').root('Root');
    expect(root.i32(0)).toBe(-5);
    expect(root.i32(1, 42)).toBe(42);
    expect(root.i32(99, 7)).toBe(7); // beyond the vtable
    expect(root.string(2, 's')).toBe('héllo');
    expect(Array.from(root.float32s(3, 'f')!)).toEqual([1.5, -2]);
    expect(root.int64s(4, 'l')).toEqual([7, -9]);
    const u = root.union(5, 'u');
    expect(u?.type).toBe(3);
    expect(u?.table.bool(0)).toBe(true);
    expect(root.string(1, 'absent')).toBeNull();
  });

  it('reads vectors of structs', () => {
    // Two 8-byte structs {a: int32, b: float32}: the bytes of an [int] vector of 4 whose length
    // field then says 2 (a struct vector counts structs).
    const bytes = buildFlatBuffer([fb.i32s([7, 0x3fc00000, -1, 0x40200000])]);
    const b = new FlatBuffer(bytes, file, 'test');
    const lengthAt = b.root('Root').vector(0, 4, 'v')!.start - 4;
    new DataView(bytes.buffer).setUint32(lengthAt, 2, true);
    const at = b.root('Root').structs(0, 8, 's');
    expect(at).toHaveLength(2);
    expect(at.map((p) => [b.i32(p, 'a'), b.f32(p + 4, 'b')])).toEqual([[7, 1.5], [-1, 2.5]]);
    expect(() => b.root('Root').structs(0, 12, 's')).toThrow(/^fb\.bin: corrupt test: Root\.s \(vector of 2\) at offset \d+ \(24 bytes\) lies outside/);
  });

  const fails = (bytes: Uint8Array, read: (b: FlatBuffer) => unknown, pattern: RegExp) => {
    try {
      read(new FlatBuffer(bytes, file, 'test'));
    } catch (error) {
      expect(error).toBeInstanceOf(ModelFormatError);
      expect((error as Error).message).toMatch(pattern);
      return;
    }
    throw new Error('expected a ModelFormatError');
  };

  it('rejects an odd vtable size, a vector longer than the buffer, a union without value', () => {
    const bytes = buildFlatBuffer([fb.i32s([1, 2, 3])]);
    const view = new DataView(bytes.buffer);
    const root = view.getUint32(0, true);
    const vtable = root - view.getInt32(root, true);
    const odd = bytes.slice();
    new DataView(odd.buffer).setUint16(vtable, 7, true);
    fails(odd, (b) => b.root('Root'), /^fb\.bin: corrupt test: Root: invalid vtable size 7$/);

    const long = bytes.slice();
    const vector = root + view.getUint16(vtable + 4, true);
    const lengthAt = vector + view.getUint32(vector, true);
    new DataView(long.buffer).setUint32(lengthAt, 0x40000000, true);
    fails(long, (b) => b.root('Root').int32s(0, 'v'), /^fb\.bin: corrupt test: Root\.v \(vector of 1073741824\) at offset \d+ \(4294967296 bytes\) lies outside/);

    const union = buildFlatBuffer([fb.u8(2)]);
    fails(union, (b) => b.root('Root').union(0, 'u'), /union of type 2 without a value/);
  });

  it('limits nesting depth', () => {
    let table: FbTable = [fb.i32(1)];
    for (let i = 0; i < MAX_TABLE_DEPTH + 5; i++) table = [fb.table(table)];
    const bytes = buildFlatBuffer(table);
    fails(
      bytes,
      (b) => {
        let t = b.root('T');
        for (;;) t = t.table(0, 'x')!;
      },
      /nested deeper than 32/,
    );
  });

  it('limits work on shared references', () => {
    // Root → vector of n uoffsets that all point at one table holding a 1000-float vector. Legal
    // structure, but decoding every element copies the same 4 KB n times.
    const n = 10_000;
    const slots = 28;
    const vt2 = slots + 4 * n;
    const t = vt2 + 8;
    const floats = t + 8;
    const bytes = new Uint8Array(floats + 4 + 4000);
    const v = new DataView(bytes.buffer);
    v.setUint32(0, 16, true); // root table at 16
    v.setUint16(8, 6, true); // vtable of the root: 6 bytes, table 8 bytes, field 0 at +4
    v.setUint16(10, 8, true);
    v.setUint16(12, 4, true);
    v.setInt32(16, 16 - 8, true);
    v.setUint32(20, 24 - 20, true); // field 0 → vector at 24
    v.setUint32(24, n, true);
    for (let i = 0; i < n; i++) v.setUint32(slots + 4 * i, t - (slots + 4 * i), true);
    v.setUint16(vt2, 6, true);
    v.setUint16(vt2 + 2, 8, true);
    v.setUint16(vt2 + 4, 4, true);
    v.setInt32(t, t - vt2, true);
    v.setUint32(t + 4, floats - (t + 4), true);
    v.setUint32(floats, 1000, true);
    const read = (b: FlatBuffer) => b.root('R').tables(0, 't').map((table) => table.float32s(0, 'f'));
    // With few elements the same structure reads fine.
    const few = bytes.slice();
    new DataView(few.buffer).setUint32(24, 3, true);
    expect(read(new FlatBuffer(few, file, 'test'))).toHaveLength(3);
    fails(bytes, read, /references shared so often that decoding would not end/);
  });
});

describe('zip', () => {
  const files = [
    { name: 'a.txt', data: new TextEncoder().encode('one\ntwo\n') },
    { name: 'b.txt', data: new TextEncoder().encode('x'.repeat(1000)) },
  ];
  it.each([0, 8] as const)('reads stored / deflated entries after other data (method %i)', (method) => {
    const bytes = concat([new Uint8Array(123), makeZip(files, method)]);
    const zip = findZip(bytes, 'z')!;
    expect(zip.start).toBe(123);
    expect(zip.entries.map((e) => e.name)).toEqual(['a.txt', 'b.txt']);
    expect(new TextDecoder().decode(zip.read('b.txt')!)).toBe('x'.repeat(1000));
    expect(zip.read('c.txt')).toBeNull();
  });

  it('no archive → null; a broken one → ModelFormatError', () => {
    expect(findZip(new Uint8Array(100), 'z')).toBeNull();
    const bytes = makeZip(files, 8);
    const broken = bytes.slice();
    new DataView(broken.buffer).setUint32(broken.length - 6, 5, true); // central directory offset
    expect(() => findZip(broken, 'z')!.read('a.txt')).toThrow(/^z: corrupt zip archive: /);
  });

  it('label lines: CRLF, BOM, a final newline', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(parseLabels(enc('\uFEFFa\r\nb c\r\n'))).toEqual(['a', 'b c']);
    expect(parseLabels(enc('a\nb'))).toEqual(['a', 'b']);
    expect(parseLabels(enc('a\n\nb\n'))).toEqual(['a', '', 'b']);
  });
});

describe('dequantization', () => {
  const tensor = (shape: number[], type: number, scale: number[], zeroPoint: number[], axis = 0): Tensor => ({
    index: 1,
    name: 't',
    shape,
    type,
    buffer: 1,
    quantization: { scale: Float32Array.from(scale), zeroPoint, quantizedDimension: axis, hasCustomDetails: false },
    isVariable: false,
    sparse: false,
  });
  const source = (data: Uint8Array): TensorSource => ({ file: 'q', buffers: [{ data: null }, { data }] });

  it('per-axis along a middle dimension', () => {
    // shape [2, 3, 2], channels on axis 1: element (i, c, j) uses scale[c], zero_point[c].
    const q = Int8Array.from([1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6]);
    const t = tensor([2, 3, 2], TYPE.INT8, [0.5, 1, 2], [0, 1, -1], 1);
    const values = dequantize(source(new Uint8Array(q.buffer)), t);
    const expected = [0.5 * 1, 0.5 * 2, 1 * (3 - 1), 1 * (4 - 1), 2 * (5 + 1), 2 * (6 + 1),
      0.5 * -1, 0.5 * -2, 1 * (-3 - 1), 1 * (-4 - 1), 2 * (-5 + 1), 2 * (-6 + 1)];
    expect(Array.from(values)).toEqual(expected);
  });

  it('uint8 per tensor, int32 bias, unaligned float32, float16', () => {
    expect(Array.from(dequantize(source(Uint8Array.from([0, 128, 255])), tensor([3], TYPE.UINT8, [0.5], [128])))).toEqual([-64, 0, 63.5]);
    const bias = new Uint8Array(8);
    new DataView(bias.buffer).setInt32(0, -1000, true);
    new DataView(bias.buffer).setInt32(4, 3, true);
    expect(Array.from(dequantize(source(bias), tensor([2], TYPE.INT32, [0.25, 0.5], [0, 0])))).toEqual([-250, 1.5]);
    const unaligned = new Uint8Array(9).subarray(1);
    new DataView(unaligned.buffer, 1).setFloat32(0, 1.25, true);
    new DataView(unaligned.buffer, 1).setFloat32(4, -3, true);
    const f32: Tensor = { ...tensor([2], TYPE.FLOAT32, [], []), quantization: null };
    expect(Array.from(dequantize(source(unaligned), f32))).toEqual([1.25, -3]);
    const half = Uint8Array.from([0x00, 0x3c, 0x00, 0xc0]); // 1.0, -2.0
    expect(Array.from(dequantize(source(half), { ...f32, type: TYPE.FLOAT16 }))).toEqual([1, -2]);
    const ints = new Uint8Array(16);
    new DataView(ints.buffer).setBigInt64(8, -5n, true);
    expect(readIntegerConstant(source(ints), { ...f32, type: TYPE.INT64 })).toEqual([0, -5]);
  });

  it('refuses data that does not fit the shape or the quantization', () => {
    expect(() => dequantize(source(new Uint8Array(5)), tensor([2, 3], TYPE.UINT8, [1], [0]))).toThrow(
      'q: tensor 1 (t): holds 5 bytes, its shape [2, 3] needs 6',
    );
    expect(() => dequantize(source(new Uint8Array(6)), tensor([2, 3], TYPE.INT8, [1, 2], [0, 0], 1))).toThrow(
      'q: tensor 1 (t): 2 scales for dimension 1 of size 3',
    );
    expect(() => dequantize(source(new Uint8Array(6)), tensor([2, 3], TYPE.INT8, [1, 2], [0], 0))).toThrow(
      'q: tensor 1 (t): 2 scales but 1 zero points',
    );
    expect(() => dequantize(source(new Uint8Array(6)), { ...tensor([6], TYPE.INT8, [], []), quantization: null })).toThrow(
      'q: tensor 1 (t): INT8 data without quantization scale',
    );
  });
});

describe('graph helpers', () => {
  it('TensorFlow SAME padding', () => {
    expect(samePadding(224, 3, 2)).toEqual({ out: 112, before: 0, after: 1 });
    expect(samePadding(7, 3, 2)).toEqual({ out: 4, before: 1, after: 1 });
    expect(samePadding(112, 3, 1)).toEqual({ out: 112, before: 1, after: 1 });
    expect(samePadding(7, 1, 1)).toEqual({ out: 7, before: 0, after: 0 });
  });

  it('activation implied by an output range', () => {
    const t = (type: number, scale: number, zeroPoint: number): Tensor => ({
      index: 0, name: '', shape: [1], type, buffer: 0, isVariable: false, sparse: false,
      quantization: { scale: Float32Array.from([scale]), zeroPoint: [zeroPoint], quantizedDimension: 0, hasCustomDetails: false },
    });
    expect(rangeImpliedActivation(t(TYPE.UINT8, 0.023528477177023888, 0))).toBe('relu6'); // the TF1 files' RELU6 range
    expect(rangeImpliedActivation(t(TYPE.INT8, 0.0235294122248888, -128))).toBe('relu6'); // the TF2 file's
    expect(rangeImpliedActivation(t(TYPE.UINT8, 0.35441333055496216, 129))).toBeNull(); // a linear projection
    expect(rangeImpliedActivation(t(TYPE.UINT8, 0.05, 0))).toBeNull(); // [0, 12.75]
    expect(rangeImpliedActivation(t(TYPE.FLOAT32, 6 / 255, 0))).toBeNull();
  });
});
