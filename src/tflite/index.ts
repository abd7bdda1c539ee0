// Reading MobileNet v1/v2 .tflite files into a ModelSpec.
//
//   parseTflite(bytes, name)  →  ModelSpec     (name only labels errors: "name: …")
//   loadTfliteFile(path)      →  Promise<ModelSpec>
//   describeTflite(bytes, name)                (counts and the input tensor, for tests and debugging)
//
// Every problem with the file — missing, truncated, corrupt, not a MobileNet — is a ModelFormatError whose
// message starts with the name/path. Labels come from the label file that the TFLite metadata names
// and that is packed in the zip archive appended to the model; if the metadata names one, it must be
// there (a missing archive means a truncated file). A label file whose line count differs from the
// number of classes (other than 1000 lines for 1001 classes, see fitLabels in src/model/labels.ts) is
// ignored (reported through onWarning), since the network is still usable.
//
// Besides the published quantized files this reads what people export for their own classes: float32
// (or float16 / dynamic-range) weights, any number of classes, and the classifier heads Keras, TF Model
// Maker and Teachable Machine write (see to-spec.ts), including input scaling inside the graph.
import type { ModelSpec } from '../model/spec.js';
import { FileReadProblem, readRegularFile } from '../util/read-file.js';
import { ModelFormatError } from './errors.js';
import { metadataBuffer, readMetadata, type TfliteMetadata } from './metadata.js';
import { readInputShape, readModel, tensorTypeName, type Model } from './schema.js';
import { readQuantization } from './quantized.js';
import { modelToSpec } from './to-spec.js';
import { findZip, parseLabels } from './zip.js';

export { ModelFormatError } from './errors.js';

export interface ParseOptions {
  /** Called with non-fatal findings (ignored labels, an added softmax). */
  onWarning?: (message: string) => void;
}

function labelsOf(bytes: Uint8Array, name: string, metadata: TfliteMetadata | null): string[] | null {
  const labelFile = metadata?.labelFile;
  if (!labelFile) return null;
  const zip = findZip(bytes, name);
  if (!zip) {
    throw new ModelFormatError(name, `the metadata names the label file ${labelFile}, but no zip archive follows the model (truncated file?)`);
  }
  const data = zip.read(labelFile);
  if (!data) throw new ModelFormatError(name, `label file ${labelFile} is missing from the zip archive`);
  return parseLabels(data);
}

function metadataOf(model: Model, name: string): TfliteMetadata | null {
  const data = metadataBuffer(model, name);
  return data ? readMetadata(data, name) : null;
}

/** Guarantees the contract: anything thrown is a ModelFormatError (an unexpected one keeps its cause). */
function guarded<T>(name: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof ModelFormatError) throw error;
    const wrapped = new ModelFormatError(name, `cannot read the model: ${(error as Error)?.message ?? String(error)}`);
    (wrapped as Error & { cause?: unknown }).cause = error;
    throw wrapped;
  }
}

/** Reads a MobileNet v1/v2 TFLite model (flatbuffer + metadata + appended label zip). */
export function parseTflite(bytes: Uint8Array, name: string, options: ParseOptions = {}): ModelSpec {
  return guarded(name, () => {
    const model = readModel(bytes, name);
    const metadata = metadataOf(model, name);
    const labels = labelsOf(bytes, name, metadata);
    const spec = modelToSpec({ file: name, fileSize: bytes.length, model, metadata, labels, onWarning: options.onWarning });
    const reading = readQuantization(model, name);
    if (reading && 'quantization' in reading) spec.quantization = reading.quantization;
    else if (reading) spec.int8Unsupported = reading.unsupported;
    return spec;
  });
}

/**
 * The input size (H = W) of a model file, read from its header alone (no weights, no graph): enough to
 * start preparing an image while the model loads. Undefined when the file does not say it plainly;
 * parseTflite is what reports what is wrong with a file.
 */
export function readInputSize(bytes: Uint8Array, name: string): number | undefined {
  try {
    const shape = readInputShape(bytes, name);
    if (shape?.length !== 4 || shape[0] !== 1 || shape[3] !== 3 || shape[1] !== shape[2] || !(shape[1]! > 0)) return undefined;
    return shape[1];
  } catch {
    return undefined;
  }
}

/** Largest model file read: MobileNets are 0.5–25 MB; this leaves room and refuses what cannot be one. */
export const MAX_MODEL_BYTES = 256 * 2 ** 20;

/** Reads and parses a .tflite file; any problem is a ModelFormatError naming it (`path: no such file`). */
export async function loadTfliteFile(path: string, options: ParseOptions = {}): Promise<ModelSpec> {
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(path, MAX_MODEL_BYTES, 'a model file');
  } catch (error) {
    throw new ModelFormatError(path, error instanceof FileReadProblem ? error.problem : String(error));
  }
  return parseTflite(bytes, path, options);
}

export interface TensorInfo {
  index: number;
  name: string;
  shape: number[];
  type: string;
  scale: number[];
  zeroPoint: number[];
}

export interface TfliteDescription {
  version: number;
  description: string | null;
  subgraphCount: number;
  /** Of subgraph 0. */
  tensorCount: number;
  operatorCount: number;
  bufferCount: number;
  /** Operator name → number of operators using it (subgraph 0). */
  opcodes: Record<string, number>;
  input: TensorInfo | null;
  output: TensorInfo | null;
  metadata: TfliteMetadata | null;
  /** Entries of the appended zip archive. */
  zipEntries: string[];
}

/** Structural facts about a TFLite file, without mapping it onto MobileNet. */
export function describeTflite(bytes: Uint8Array, name: string): TfliteDescription {
  return guarded(name, () => {
    const model = readModel(bytes, name);
    const sg = model.subgraphs[0];
    const opcodes: Record<string, number> = {};
    for (const op of sg?.operators ?? []) {
      const opName = model.operatorCodes[op.opcodeIndex]?.name ?? `opcode ${op.opcodeIndex}`;
      opcodes[opName] = (opcodes[opName] ?? 0) + 1;
    }
    const info = (index: number | undefined): TensorInfo | null => {
      const t = index === undefined ? undefined : sg?.tensors[index];
      if (!t) return null;
      return {
        index: t.index,
        name: t.name,
        shape: [...t.shape],
        type: tensorTypeName(t.type),
        scale: Array.from(t.quantization?.scale ?? []),
        zeroPoint: [...(t.quantization?.zeroPoint ?? [])],
      };
    };
    return {
      version: model.version,
      description: model.description,
      subgraphCount: model.subgraphs.length,
      tensorCount: sg?.tensors.length ?? 0,
      operatorCount: sg?.operators.length ?? 0,
      bufferCount: model.buffers.length,
      opcodes,
      input: info(sg?.inputs[0]),
      output: info(sg?.outputs[0]),
      metadata: metadataOf(model, name),
      zipEntries: findZip(bytes, name)?.entries.map((e) => e.name) ?? [],
    };
  });
}
