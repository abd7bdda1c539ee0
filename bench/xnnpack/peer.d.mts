// Types of bench/xnnpack/peer.mjs, for bench/test.
export declare const xnnpackBuilt: () => boolean;

export declare class XnnpackPeer {
  static start(descriptionBytes: Uint8Array, threads: number): Promise<XnnpackPeer>;
  readonly info: { ready: true; threads: number; tensors: number; nodes: number; input_bytes: number; output_bytes: number };
  readonly pid: number | undefined;
  setInput(bytes: Uint8Array): Promise<void>;
  run(count: number): Promise<number[]>;
  output(): Promise<number[]>;
  close(): void;
}
