// Types of bench/xnnpack/peer.mjs, for bench/test.
import type { XnnpackDescription } from './describe.mjs';

export declare const xnnpackBuilt: () => boolean;
export declare function xnnpackInput(description: XnnpackDescription, pixels: Uint8Array): Uint8Array;

export declare class XnnpackPeer {
  static start(descriptionBytes: Uint8Array, threads: number): Promise<XnnpackPeer>;
  readonly info: { ready: true; threads: number; tensors: number; nodes: number; input_bytes: number; output_bytes: number };
  readonly pid: number | undefined;
  setInput(bytes: Uint8Array): Promise<void>;
  run(count: number): Promise<number[]>;
  output(): Promise<number[]>;
  close(): void;
}
