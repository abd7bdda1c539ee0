// TFLite model metadata (tflite-support's metadata_schema.fbs, file identifier "M001"): a second
// flatbuffer stored in the model buffer that the Model.metadata entry "TFLITE_METADATA" points to.
// We read the input's normalization (mean/std) and the names of the associated files (the label file).
import { FlatBuffer, type Table } from './flatbuffer.js';
import { ModelFormatError } from './errors.js';
import type { Model } from './schema.js';

export const METADATA_NAME = 'TFLITE_METADATA';
export const METADATA_IDENTIFIER = 'M001';

/** enum AssociatedFileType : byte */
export const AssociatedFileType = {
  UNKNOWN: 0,
  DESCRIPTIONS: 1,
  TENSOR_AXIS_LABELS: 2,
  TENSOR_VALUE_LABELS: 3,
  TENSOR_AXIS_SCORE_CALIBRATION: 4,
  VOCABULARY: 5,
} as const;

/** union ProcessUnitOptions: type number of NormalizationOptions. */
const NORMALIZATION_OPTIONS = 1;

export interface AssociatedFile {
  name: string;
  type: number;
  locale: string | null;
  /** Where the metadata attaches it. */
  scope: 'model' | 'subgraph' | 'input' | 'output';
}

export interface TfliteMetadata {
  name: string | null;
  description: string | null;
  version: string | null;
  /** NormalizationOptions of the first input tensor: value = (x - mean[c]) / std[c]; 1 or C values. */
  inputNormalization: { mean: number[]; std: number[] } | null;
  associatedFiles: AssociatedFile[];
  /** The label file of the first output (TENSOR_AXIS_LABELS), else of the subgraph or the model. */
  labelFile: string | null;
}

function readAssociatedFiles(t: Table, field: number, scope: AssociatedFile['scope']): AssociatedFile[] {
  // AssociatedFile: name 0, description 1, type 2 (byte), locale 3.
  return t.tables(field, 'associated_files').map((f) => ({
    name: f.string(0, 'name') ?? '',
    type: f.i8(2, AssociatedFileType.UNKNOWN),
    locale: f.string(3, 'locale'),
    scope,
  }));
}

function readNormalization(tensor: Table): TfliteMetadata['inputNormalization'] {
  // TensorMetadata: name 0, description 1, dimension_names 2, content 3, process_units 4, stats 5,
  // associated_files 6. ProcessUnit: options (union) 0/1. NormalizationOptions: mean 0, std 1.
  for (const unit of tensor.tables(4, 'process_units')) {
    const options = unit.union(0, 'options');
    if (options?.type !== NORMALIZATION_OPTIONS) continue;
    const mean = options.table.float32s(0, 'mean');
    const std = options.table.float32s(1, 'std');
    if (!mean || !std) continue;
    return { mean: Array.from(mean), std: Array.from(std) };
  }
  return null;
}

/** Parses the metadata flatbuffer itself. */
export function readMetadata(bytes: Uint8Array, file: string): TfliteMetadata {
  const fb = new FlatBuffer(bytes, file, 'metadata');
  const id = fb.identifier();
  if (id !== METADATA_IDENTIFIER) {
    throw new ModelFormatError(file, `corrupt metadata: identifier ${JSON.stringify(id)}, expected "${METADATA_IDENTIFIER}"`);
  }
  // ModelMetadata: name 0, description 1, version 2, subgraph_metadata 3, author 4, license 5,
  // associated_files 6, min_parser_version 7.
  const root = fb.root('ModelMetadata');
  const files = readAssociatedFiles(root, 6, 'model');
  let inputNormalization: TfliteMetadata['inputNormalization'] = null;
  const subgraphs = root.tables(3, 'subgraph_metadata');
  const outputFiles: AssociatedFile[] = [];
  const subgraphFiles: AssociatedFile[] = [];
  if (subgraphs.length > 0) {
    // SubGraphMetadata: name 0, description 1, input_tensor_metadata 2, output_tensor_metadata 3,
    // associated_files 4.
    const sg = subgraphs[0]!;
    const inputs = sg.tables(2, 'input_tensor_metadata');
    const outputs = sg.tables(3, 'output_tensor_metadata');
    if (inputs.length > 0) inputNormalization = readNormalization(inputs[0]!);
    for (const input of inputs) files.push(...readAssociatedFiles(input, 6, 'input'));
    outputs.forEach((output, i) => {
      const found = readAssociatedFiles(output, 6, 'output');
      if (i === 0) outputFiles.push(...found);
      files.push(...found);
    });
    subgraphFiles.push(...readAssociatedFiles(sg, 4, 'subgraph'));
    files.push(...subgraphFiles);
  }
  const isLabels = (f: AssociatedFile) => f.type === AssociatedFileType.TENSOR_AXIS_LABELS && f.name !== '';
  const labels =
    outputFiles.find(isLabels) ?? subgraphFiles.find(isLabels) ?? files.find((f) => f.scope === 'model' && isLabels(f));
  return {
    name: root.string(0, 'name'),
    description: root.string(1, 'description'),
    version: root.string(2, 'version'),
    inputNormalization,
    associatedFiles: files,
    labelFile: labels?.name ?? null,
  };
}

/** The TFLITE_METADATA buffer of a model, or null when it has none. */
export function metadataBuffer(model: Model, file: string): Uint8Array | null {
  const entry = model.metadata.find((m) => m.name === METADATA_NAME);
  if (!entry) return null;
  const buffer = model.buffers[entry.buffer];
  if (!buffer) {
    throw new ModelFormatError(file, `metadata ${METADATA_NAME} names buffer ${entry.buffer} of ${model.buffers.length}`);
  }
  if (!buffer.data) throw new ModelFormatError(file, `metadata ${METADATA_NAME} is empty`);
  return buffer.data;
}
