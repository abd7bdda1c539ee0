// A QPlan step's `weights` and `bias` kept in the model file's encoding until they are read, as
// src/model/spec.ts does for the float weights: the native backend hands the addon the file's bytes
// (QEncodedTensor) and the addon converts them while packing, so loading a model makes no JS copy
// of its weights; the first read of the property (the TS reference, a test) converts them to the
// storage domain (Int8Array, uint8 as q − 128; Int32Array bias) and the property becomes a plain one.
import type { EncodedWeights } from '../../model/spec.js';
import type { QEncodedTensor } from './plan.js';

type QWeightKey = 'weights' | 'bias';

/** The encoded tensors behind the lazy properties of an object (a non-enumerable own property). */
const ENCODED = Symbol('mobilenet.int8EncodedWeights');
type EncodedState = Record<QWeightKey, QEncodedTensor>;

/** uint8 q → int8 q − 128, which is q with its top bit flipped: four bytes at a time. */
function uint8ToStorageBytes(data: Uint8Array): Int8Array {
  const bytes = new Uint8Array((data.length + 3) & ~3);
  bytes.set(data);
  const words = new Uint32Array(bytes.buffer);
  for (let i = 0; i < words.length; i++) words[i] ^= 0x80808080;
  return new Int8Array(bytes.buffer, 0, data.length);
}

function decodeWeights(e: QEncodedTensor): Int8Array {
  return e.type === 'u8' ? uint8ToStorageBytes(e.data) : new Int8Array(e.data.buffer, e.data.byteOffset, e.data.length);
}

function decodeBias(e: QEncodedTensor): Int32Array {
  const bias = new Int32Array(e.data.length / 4);
  const view = new DataView(e.data.buffer, e.data.byteOffset, e.data.length);
  for (let i = 0; i < bias.length; i++) bias[i] = view.getInt32(4 * i, true);
  return bias;
}

function defineData(target: object, key: QWeightKey, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

// One getter and setter per key shared by every object (no closure per object). The first read
// converts and turns the property into a plain one, so that hot loops read a plain property.
function lazyAccessor(key: QWeightKey, decode: (e: QEncodedTensor) => Int8Array | Int32Array): PropertyDescriptor {
  return {
    get(this: { [ENCODED]: EncodedState }) {
      const values = decode(this[ENCODED][key]);
      defineData(this, key, values);
      return values;
    },
    set(this: object, value: unknown) {
      defineData(this, key, value);
    },
    enumerable: true,
    configurable: true,
  };
}
const ACCESSORS: Record<QWeightKey, PropertyDescriptor> = {
  weights: lazyAccessor('weights', decodeWeights),
  bias: lazyAccessor('bias', decodeBias),
};

/** A file tensor's bytes (exactly its `length` values) with its type. */
export function encodedTensor(e: EncodedWeights): QEncodedTensor {
  if (e.type !== 'u8' && e.type !== 'i8' && e.type !== 'i32') throw new RangeError(`not an 8-bit / int32 tensor: ${e.type}`);
  const bytes = e.type === 'i32' ? 4 * e.length : e.length;
  return { type: e.type, data: e.data.length === bytes ? e.data : e.data.subarray(0, bytes) };
}

/**
 * Gives `target` lazy `weights` (Int8Array, storage domain) and `bias` (Int32Array) over a file's
 * u8 / i8 weights and i32 bias, and returns it. Copying the object with a spread reads them.
 */
export function defineQWeights<T extends object>(
  target: T, weights: QEncodedTensor, bias: QEncodedTensor,
): T & { weights: Int8Array; bias: Int32Array } {
  Object.defineProperty(target, ENCODED, { value: { weights, bias }, configurable: true });
  Object.defineProperty(target, 'weights', ACCESSORS.weights);
  Object.defineProperty(target, 'bias', ACCESSORS.bias);
  return target as T & { weights: Int8Array; bias: Int32Array };
}

/** The file's bytes behind `target[key]` while it has not been read (nor assigned) yet. */
export function encodedQWeights(target: object, key: QWeightKey): QEncodedTensor | undefined {
  const get = Object.getOwnPropertyDescriptor(target, key)?.get;
  return get !== undefined && get === ACCESSORS[key].get ? (target as { [ENCODED]: EncodedState })[ENCODED][key] : undefined;
}
