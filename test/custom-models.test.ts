// Models people train on their own classes and export themselves — float32 TFLite MobileNets with any
// class count, in the graph forms Keras, TF Model Maker and Teachable Machine write, with embedded
// labels or a label file — loaded by path and run end to end, through the library and the CLI. All
// models are synthetic (test/helpers/tflite-mobilenet.ts); nothing here needs ../shared.
//
// Every variant is checked against a reference run of the exact weights written into the file
// (specOfSynthetic → planModel → runPlan), on both backends.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Classifier } from '../src/classifier.js';
import { planModel } from '../src/engine/index.js';
import { runPlan } from '../src/engine/reference/run.js';
import { LabelsError, readLabels } from '../src/model/labels.js';
import type { Normalization } from '../src/model/spec.js';
import { ModelFormatError, parseTflite } from '../src/tflite/index.js';
import { randomPixels, writeBmp } from './helpers/image-bmp.js';
import { REPO_ROOT } from './helpers/shared.js';
import {
  buildSyntheticMobilenet,
  OP,
  specOfSynthetic,
  type SyntheticOptions,
} from './helpers/tflite-mobilenet.js';

const scratch = mkdtempSync(join(tmpdir(), 'mobilenet-custom-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const BACKENDS = ['native', 'reference'] as const;
const TOLERANCE = 1e-4;
const KERAS: Normalization = { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] };
const FIVE = ['cat', 'dog', 'teapot', 'bicycle', 'ficus'];

interface Variant {
  name: string;
  opts: SyntheticOptions;
  /** The class names the model comes with (none: the classifier says "class i"). */
  labels?: string[];
  /** Written next to the model and passed as labelsFile / --labels. */
  labelsFile?: string;
  /** What (pixel − mean) / std the model must be fed. */
  normalization: Normalization;
}

const VARIANTS: Variant[] = [
  {
    name: 'v1 α=0.25, 5 classes, FULLY_CONNECTED, labels embedded in the file',
    opts: { arch: 'v1', alpha: 0.25, numClasses: 5, seed: 11, metadata: { labels: FIVE } },
    labels: FIVE,
    normalization: KERAS,
  },
  {
    name: 'Keras MobileNetV2 top: ZeroPadding2D, MEAN without keep_dims → FULLY_CONNECTED → SOFTMAX; --labels',
    opts: { arch: 'v2', alpha: 0.35, numClasses: 5, seed: 12, explicitPad: true, pool: 'mean', keepDims: false },
    labels: FIVE,
    labelsFile: FIVE.join('\n') + '\n',
    normalization: KERAS,
  },
  {
    name: 'Keras MobileNet v1 top: MEAN → RESHAPE → 1×1 CONV_2D → RESHAPE → SOFTMAX, standalone RELU6',
    opts: {
      arch: 'v1', alpha: 0.5, numClasses: 7, seed: 13, pool: 'mean', keepDims: false, classifier: 'conv',
      standaloneRelu6: true, explicitPad: true,
    },
    normalization: KERAS,
  },
  {
    name: 'Teachable Machine: v2 α=0.35, Dense(100, relu) → Dense(5, no bias) → SOFTMAX; numbered labels.txt',
    opts: {
      arch: 'v2', alpha: 0.35, numClasses: 5, seed: 14, pool: 'mean', keepDims: false,
      hidden: [{ units: 100, act: 'relu' }], classifierBias: false,
    },
    labels: FIVE,
    labelsFile: FIVE.map((l, i) => `${i} ${l}`).join('\n') + '\n',
    normalization: KERAS,
  },
  {
    name: 'TF Model Maker: metadata normalization [0, 255] and embedded labels, logits without SOFTMAX',
    opts: {
      arch: 'v2', alpha: 0.5, numClasses: 5, seed: 15, pool: 'mean', softmax: false,
      metadata: { mean: [0], std: [255], labels: FIVE, zipMethod: 8 },
    },
    labels: FIVE,
    normalization: { mean: [0, 0, 0], std: [255, 255, 255] },
  },
  {
    name: 'Keras Rescaling(1/127.5, −1) inside the graph: MUL and ADD on the input',
    opts: {
      arch: 'v2', alpha: 0.35, numClasses: 5, seed: 16, pool: 'mean', keepDims: false,
      inputOps: [{ op: 'mul', values: [1 / 127.5] }, { op: 'add', values: [-1], constantFirst: true }],
    },
    labels: FIVE,
    labelsFile: FIVE.join('\r\n'),
    normalization: KERAS,
  },
  {
    name: 'per-channel input scaling inside the graph: SUB mean, DIV std',
    opts: {
      arch: 'v1', alpha: 0.25, numClasses: 3, seed: 17,
      inputOps: [{ op: 'sub', values: [123.675, 116.28, 103.53] }, { op: 'div', values: [58.395, 57.12, 57.375] }],
    },
    normalization: { mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] },
  },
  {
    name: 'v2, 1000 classes without background, --labels with 1000 lines',
    opts: { arch: 'v2', alpha: 0.35, numClasses: 1000, seed: 18 },
    labels: Array.from({ length: 1000 }, (_, i) => `thing ${i}`),
    labelsFile: Array.from({ length: 1000 }, (_, i) => `thing ${i}`).join('\n') + '\n',
    normalization: KERAS,
  },
];

interface Written {
  variant: Variant;
  modelPath: string;
  labelsPath?: string;
  imagePath: string;
  /** The reference run of the weights as written, on the image as the classifier prepares it. */
  expected: Float32Array;
  /** The prepared input tensor. */
  tensor: Float32Array;
}

const written = new Map<string, Written>();

function writeImage(size: number, seed: number): { path: string; pixels: Uint8Array } {
  const pixels = randomPixels(size, size, seed);
  const path = join(scratch, `image-${size}-${seed}.bmp`);
  writeFileSync(path, writeBmp(size, size, pixels, { bpp: 24 }));
  return { path, pixels };
}

/** (pixel − mean) / std of raw RGB pixels, computed here independently of src/image. */
function normalizeHere(pixels: Uint8Array, n: Normalization): Float32Array {
  return Float32Array.from(pixels, (p, i) => (p - n.mean[i % 3]!) / n.std[i % 3]!);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

beforeAll(() => {
  VARIANTS.forEach((variant, i) => {
    const { bytes, params } = buildSyntheticMobilenet(variant.opts);
    const modelPath = join(scratch, `model-${i}.tflite`);
    writeFileSync(modelPath, bytes);
    let labelsPath: string | undefined;
    if (variant.labelsFile !== undefined) {
      labelsPath = join(scratch, `labels-${i}.txt`);
      writeFileSync(labelsPath, variant.labelsFile);
    }
    const resolution = variant.opts.resolution ?? 64;
    const image = writeImage(resolution, 100 + i);
    const tensor = normalizeHere(image.pixels, variant.normalization);
    const plan = planModel(specOfSynthetic(variant.opts, params, variant.normalization));
    written.set(variant.name, { variant, modelPath, labelsPath, imagePath: image.path, tensor, expected: runPlan(plan, tensor) });
  });
});

describe.each(VARIANTS.map((v) => [v.name, v] as const))('%s', (name) => {
  const load = (w: Written, backend: (typeof BACKENDS)[number]): Promise<Classifier> =>
    loadModel(w.modelPath, { backend, threads: 1, labelsFile: w.labelsPath });

  it('the reference run of the written weights is a real test (not uniform, sums to 1)', () => {
    const { expected, variant } = written.get(name)!;
    expect(expected.length).toBe(variant.opts.numClasses);
    expect(expected.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 5);
    expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(0.02);
  });

  it.each(BACKENDS)('loads by path and classifies on the %s backend like the written weights', async (backend) => {
    const w = written.get(name)!;
    const { variant } = w;
    const classifier = await load(w, backend);
    try {
      const n = variant.opts.numClasses!;
      expect(classifier.spec.numClasses).toBe(n);
      expect(classifier.labels).toEqual(variant.labels);
      const shown = variant.labels ?? Array.from({ length: n }, (_, i) => `class ${i}`);
      for (let c = 0; c < 3; c++) {
        expect(classifier.spec.normalization.mean[c]).toBeCloseTo(variant.normalization.mean[c]!, 3);
        expect(classifier.spec.normalization.std[c]).toBeCloseTo(variant.normalization.std[c]!, 3);
      }
      // The image as the classifier prepares it is the tensor the reference run was given.
      const tensor = await classifier.prepare(w.imagePath);
      expect(maxDiff(tensor, w.tensor)).toBeLessThan(1e-5);
      const probabilities = await classifier.predict(tensor);
      expect(maxDiff(probabilities, w.expected)).toBeLessThan(TOLERANCE);

      const topK = Math.min(n, 5);
      const predictions = await classifier.classify(w.imagePath, { topK });
      expect(predictions).toHaveLength(topK);
      const order = Array.from(w.expected.keys()).sort((a, b) => w.expected[b]! - w.expected[a]!);
      expect(predictions[0]!.index).toBe(order[0]);
      for (const p of predictions) {
        expect(p.label).toBe(shown[p.index]);
        expect(Math.abs(p.score - w.expected[p.index]!)).toBeLessThan(TOLERANCE);
      }
    } finally {
      classifier.dispose();
    }
  }, 60_000);

  it('native and reference agree', async () => {
    const w = written.get(name)!;
    const [native, reference] = await Promise.all(BACKENDS.map((b) => load(w, b)));
    try {
      const [a, b] = await Promise.all([native!.predict(w.tensor), reference!.predict(w.tensor)]);
      expect(maxDiff(a, b)).toBeLessThan(TOLERANCE);
    } finally {
      native!.dispose();
      reference!.dispose();
    }
  }, 60_000);
});

describe('what the reader makes of the head', () => {
  it('Teachable Machine: the hidden Dense(100, relu) becomes a 1×1 pointwise layer before the classifier', () => {
    const v = VARIANTS.find((x) => x.name.startsWith('Teachable Machine'))!;
    const { bytes, params } = buildSyntheticMobilenet(v.opts);
    const spec = parseTflite(bytes, 'tm.tflite');
    const tail = spec.layers.slice(-4);
    expect(tail.map((l) => l.type)).toEqual(['avgpool', 'pointwise', 'fc', 'softmax']);
    expect(tail[1]).toMatchObject({ inC: 1280, outC: 100, act: 'relu' });
    expect(tail[2]).toMatchObject({ inC: 100, outC: 5 });
    expect(tail[1]!.type === 'pointwise' && tail[1]!.weights).toEqual(params[params.length - 2]!.weights);
    expect(tail[2]!.type === 'fc' && Array.from(tail[2]!.bias)).toEqual([0, 0, 0, 0, 0]); // no bias input
  });

  it('hidden dense layers with RELU6 as a separate operator, and a linear one, chain up', () => {
    const opts: SyntheticOptions = {
      arch: 'v1', alpha: 0.25, numClasses: 4, standaloneRelu6: true,
      hidden: [{ units: 32, act: 'relu6' }, { units: 16, act: 'none' }],
    };
    const { bytes, def, params } = buildSyntheticMobilenet(opts);
    const relu6AfterFc = def.operators.some((o, i) => o.opcode === OP.RELU6 && def.operators[i - 1]?.opcode === OP.FULLY_CONNECTED);
    expect(relu6AfterFc).toBe(true);
    const spec = parseTflite(bytes, 'hidden.tflite');
    expect(spec.layers.slice(-5).map((l) => (l.type === 'pointwise' ? `${l.type}(${l.inC}→${l.outC}, ${l.act})` : l.type))).toEqual([
      'avgpool', 'pointwise(256→32, relu6)', 'pointwise(32→16, none)', 'fc', 'softmax',
    ]);
    const input = Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i));
    const ours = runPlan(planModel(spec), input);
    const written = runPlan(planModel(specOfSynthetic(opts, params)), input);
    expect(maxDiff(ours, written)).toBe(0);
  });

  it('a logits model gets a softmax and says so', () => {
    const v = VARIANTS.find((x) => x.opts.softmax === false)!;
    const warnings: string[] = [];
    const spec = parseTflite(buildSyntheticMobilenet(v.opts).bytes, 'logits.tflite', { onWarning: (m) => warnings.push(m) });
    expect(spec.layers[spec.layers.length - 1]).toEqual({ type: 'softmax' });
    expect(warnings).toEqual(['logits.tflite: the model ends without SOFTMAX; one was added after the classifier']);
  });

  it('a 1001-class model takes a 1000-line label file with "background" prepended, embedded or by file', async () => {
    const thousand = Array.from({ length: 1000 }, (_, i) => `n${i}`);
    const opts: SyntheticOptions = { arch: 'v1', alpha: 0.25, numClasses: 1001, metadata: { labels: thousand } };
    const spec = parseTflite(buildSyntheticMobilenet(opts).bytes, 'imagenet.tflite');
    expect(spec.labels).toEqual(['background', ...thousand]);
    const file = join(scratch, 'thousand.txt');
    writeFileSync(file, thousand.join('\n') + '\n');
    expect(await readLabels(file, 1001)).toEqual(['background', ...thousand]);
  });

  it('numbers are only dropped from label files numbered 0, 1, 2, … on every line', async () => {
    const file = join(scratch, 'numbered.txt');
    writeFileSync(file, '0: red\n1: green\n2: 3 blues\n');
    expect(await readLabels(file, 3)).toEqual(['red', 'green', '3 blues']);
    writeFileSync(file, '1 apple\n2 pear\n3 plum\n');
    expect(await readLabels(file, 3)).toEqual(['1 apple', '2 pear', '3 plum']);
    writeFileSync(file, '0 apple\npear\n2 plum\n');
    expect(await readLabels(file, 3)).toEqual(['0 apple', 'pear', '2 plum']);
  });
});

describe('clear errors for what does not fit', () => {
  const refuse = (opts: SyntheticOptions): string => {
    try {
      parseTflite(buildSyntheticMobilenet(opts).bytes, 'custom.tflite');
    } catch (error) {
      expect(error).toBeInstanceOf(ModelFormatError);
      return (error as Error).message;
    }
    throw new Error('expected a ModelFormatError');
  };

  it('a label file whose line count fits neither rule names the file and both counts', async () => {
    const file = join(scratch, 'four.txt');
    writeFileSync(file, FIVE.slice(1).join('\n') + '\n');
    // A 5-class model has no background class: four lines is a wrong list, not a shifted one.
    await expect(readLabels(file, 5)).rejects.toThrow(LabelsError);
    await expect(readLabels(file, 5)).rejects.toThrow(
      `${file}: has 4 labels, the model has 5 classes (the file needs 5 lines, one label a line)`,
    );
    await expect(readLabels(file, 1001)).rejects.toThrow(
      `${file}: has 4 labels, the model has 1001 classes (the file needs 1001 (or 1000 without "background") lines, one label a line)`,
    );
    const model = written.get(VARIANTS[0]!.name)!.modelPath;
    await expect(loadModel(model, { backend: 'reference', labelsFile: file })).rejects.toThrow(`${file}: has 4 labels, the model has 5 classes`);
  });

  it('Teachable Machine\'s MobileNet v1 export (Flatten of the 2×2 map, no pool) is refused by name', () => {
    const message = refuse({ arch: 'v1', alpha: 0.25, numClasses: 3, pool: 'flatten', hidden: [{ units: 100, act: 'relu' }] });
    expect(message).toBe(
      'custom.tflite: operator 27 (RESHAPE): flattens the 2×2×256 feature map into 1024 values (a Flatten layer); ' +
        'only models that average it globally (GlobalAveragePooling2D) before the classifier are supported',
    );
  });

  it('a single-output (binary) head is refused', () => {
    expect(refuse({ arch: 'v2', alpha: 0.35, numClasses: 1, pool: 'mean', keepDims: false })).toMatch(
      /^custom\.tflite: operator \d+ \(FULLY_CONNECTED\): the classifier has 1 output \(a binary sigmoid \/ logit head\); only softmax classifiers over 2 or more classes are supported$/,
    );
  });

  it('input scaling must be x·a + b with a > 0, and only before the first layer', () => {
    expect(refuse({ arch: 'v1', alpha: 0.25, inputOps: [{ op: 'sub', values: [255], constantFirst: true }] })).toBe(
      'custom.tflite: operator 0 (SUB): computes constant − input; only input·a + b with a > 0 is supported',
    );
    expect(refuse({ arch: 'v1', alpha: 0.25, inputOps: [{ op: 'mul', values: [1, -1, 1] }] })).toBe(
      'custom.tflite: operator 0 (MUL): scales the input by [1, -1, 1]; only positive factors are supported',
    );
    expect(refuse({ arch: 'v1', alpha: 0.25, insertOp: { afterLayer: 0, opcode: OP.MUL } })).toMatch(
      /^custom\.tflite: operator 1 \(MUL\): elementwise MUL is only supported on the input, before the first convolution/,
    );
  });

  it('a hidden dense layer with another activation is refused by name', () => {
    const message = refuse({
      arch: 'v2', alpha: 0.35, numClasses: 4, hidden: [{ units: 16, act: 'relu' }],
      mutate: (def) => {
        const fc = def.operators.find((o) => o.opcode === OP.FULLY_CONNECTED)!;
        fc.options!.table[0] = { kind: 'i8', value: 4 }; // TANH
      },
    });
    expect(message).toMatch(/^custom\.tflite: operator \d+ \(FULLY_CONNECTED\): fused activation TANH is not part of MobileNet$/);
  });
});

describe('end to end through the CLI', () => {
  const BIN = join(REPO_ROOT, 'bin', 'mobilenet');

  function mobilenet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args], (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
    });
  }

  it('dist/ and the CLI bundle are built (run `npm run build` first)', () => {
    expect(existsSync(join(REPO_ROOT, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(REPO_ROOT, 'dist', 'cli-bundle', 'main.js'))).toBe(true);
  });

  it.each([
    ['embedded labels', VARIANTS[0]!.name],
    ['--labels (numbered Teachable Machine file)', VARIANTS[3]!.name],
  ])('classify --model <file.tflite> --json prints the 5 classes with their labels (%s)', async (_how, name) => {
    const w = written.get(name)!;
    const args = ['classify', w.imagePath, '--model', w.modelPath, '--json', '--threads', '1'];
    if (w.labelsPath) args.push('--labels', w.labelsPath);
    const result = await mobilenet(args);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { file: string; predictions: { index: number; label: string; score: number }[] }[];
    expect(parsed).toHaveLength(1);
    expect(parsed[0]!.file).toBe(w.imagePath);
    const predictions = parsed[0]!.predictions;
    expect(predictions).toHaveLength(5);
    expect(predictions.map((p) => p.label).sort()).toEqual([...FIVE].sort());
    const order = Array.from(w.expected.keys()).sort((a, b) => w.expected[b]! - w.expected[a]!);
    expect(predictions.map((p) => p.index)).toEqual(order);
    for (const p of predictions) {
      expect(p.label).toBe(FIVE[p.index]);
      expect(Math.abs(p.score - w.expected[p.index]!)).toBeLessThan(TOLERANCE);
    }
  }, 30_000);

  it('a label file with the wrong count is a set-up error (exit 2) naming the file and both counts', async () => {
    const w = written.get(VARIANTS[0]!.name)!;
    const file = join(scratch, 'six.txt');
    writeFileSync(file, [...FIVE, 'extra'].join('\n'));
    const result = await mobilenet(['classify', w.imagePath, '--model', w.modelPath, '--labels', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`mobilenet: ${file}: has 6 labels, the model has 5 classes (the file needs 5 lines, one label a line)\n`);
  }, 30_000);
});
