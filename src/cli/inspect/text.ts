// `mobilenet inspect` for people: aligned tables of the layers, of the depthwise-separable blocks
// against standard convolutions, and of the peak activation memory.
import type { InspectedLayer, Inspection, TensorShape } from '../../inspect/index.js';

type Align = 'left' | 'right';

/** Rows of cells padded to their column's width; the first row is the header. */
function table(rows: string[][], align: Align[]): string[] {
  const widths = align.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  return rows.map((row) => `  ${row.map((cell, i) => (align[i] === 'left' ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')}`.trimEnd());
}

const grouped = (value: number) => value.toLocaleString('en-US');
const millions = (value: number) => (value / 1e6).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const kib = (bytes: number) => (bytes / 1024).toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const times = (factor: number) => `${factor.toFixed(1)}×`;
const shape = ([h, w, c]: TensorShape) => `${h}×${w}×${c}`;

function opName(layer: InspectedLayer): string {
  const k = `${layer.kernel}×${layer.kernel}`;
  switch (layer.type) {
    case 'conv2d': return `conv ${k}`;
    case 'depthwise': return `depthwise ${k}`;
    case 'pointwise': return 'pointwise 1×1';
    case 'bottleneck': return layer.residual ? 'bottleneck +' : 'bottleneck';
    default: return layer.type;
  }
}

function layerTable(inspection: Inspection): string[] {
  const rows = inspection.layers.map((layer) => [
    String(layer.index), opName(layer), `${shape(layer.input)} → ${shape(layer.output)}`,
    layer.stride === null ? '' : String(layer.stride), layer.expansion === null ? '' : String(layer.expansion),
    grouped(layer.parameters), millions(layer.multiplyAdds),
    kib(layer.activationBytes.layerByLayer), kib(layer.activationBytes.fusedPlan),
  ]);
  const { totals } = inspection;
  return table([
    ['#', 'layer', 'input → output', 'stride', 't', 'parameters', 'M mult-adds', 'KiB layer by layer', 'KiB fused plan'],
    ...rows,
    ['', 'total', '', '', '', grouped(totals.parameters), millions(totals.multiplyAdds), '', ''],
  ], ['right', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right']);
}

function separableTable(inspection: Inspection): string[] {
  const rows = inspection.separable.blocks.map((block) => [
    block.layers.join('+'), `${shape(block.input)} → ${shape(block.output)}`, String(block.stride),
    millions(block.separable.multiplyAdds), millions(block.standard.multiplyAdds), times(block.factor.multiplyAdds),
    grouped(block.separable.parameters), grouped(block.standard.parameters), times(block.factor.parameters),
  ]);
  return table([
    ['layers', 'input → output', 'stride', 'M mult-adds', 'standard', 'saving', 'parameters', 'standard', 'saving'],
    ...rows,
  ], ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right']);
}

function memoryTable(inspection: Inspection): string[] {
  const { layerByLayer, fusedPlan, engine } = inspection.memory;
  const rows = [
    ['', 'fp32', 'int8'],
    [`layer by layer (peak at layer ${layerByLayer.peakLayer})`, mib(layerByLayer.fp32), mib(layerByLayer.int8)],
    [`fused plan: our engine's arena (peak at step ${fusedPlan.peakStep})`, mib(fusedPlan.fp32), mib(fusedPlan.int8)],
  ];
  if (engine) {
    const threads = `${engine.threads} thread${engine.threads === 1 ? '' : 's'}`;
    rows.push([`engine: ${engine.backend} (${engine.isa}), ${threads}, arena + kernel scratch`, mib(engine.activationBytes), '']);
  }
  return table(rows, ['left', 'right', 'left']);
}

/** Words of `text` in lines of at most `width` characters. */
function wrap(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line];
}

export function formatInspection(inspection: Inspection): string {
  const { model, separable, counting } = inspection;
  const blockKind = model.arch === 'v1' ? 'depthwise-separable pair' : 'bottleneck\'s depthwise + projection';
  const lines = [
    `MobileNet ${model.arch}, α ${model.alpha}, ${model.resolution}×${model.resolution} input, ${model.classes} classes (${model.source})`,
    '',
    ...layerTable(inspection),
    '  t: expansion factor; +: residual (the block adds its input); KiB: fp32 activations alive while the layer runs',
    '',
    `Each ${blockKind} against the standard convolution it replaces (same kernel, channels and stride)`,
    ...separableTable(inspection),
    `  network with standard convolutions: ${millions(separable.standardNetwork.multiplyAdds)} M mult-adds (${times(separable.factor.multiplyAdds)}), `
      + `${grouped(separable.standardNetwork.parameters)} parameters (${times(separable.factor.parameters)})`,
    '',
    'Peak activation memory',
    ...memoryTable(inspection),
    '',
    ...wrap(`Parameters: ${counting.parameters}.`),
    ...wrap(`Multiply-adds: ${counting.multiplyAdds}.`),
    ...wrap(`Activations: ${counting.activations}.`),
  ];
  return `${lines.join('\n')}\n`;
}
