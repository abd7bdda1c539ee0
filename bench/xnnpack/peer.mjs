// Drives the XNNPACK peer program (mobilenet-xnnpack.c, built by build.mjs) from JavaScript: one child
// process per thread count, one command at a time over its stdin / stdout.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { XNNPACK_PROGRAM } from './build.mjs';

/** Whether the program has been built (bench/setup.mjs builds it when XNNPACK is installed). */
export const xnnpackBuilt = () => existsSync(XNNPACK_PROGRAM);

export class XnnpackPeer {
  /** Starts the program on a description (describe.mjs's bytes) with `threads` threads. */
  static async start(descriptionBytes, threads) {
    const dir = mkdtempSync(join(tmpdir(), 'mobilenet-xnnpack-'));
    const descriptionPath = join(dir, 'model.mnxq');
    writeFileSync(descriptionPath, descriptionBytes);
    const child = spawn(XNNPACK_PROGRAM, [descriptionPath, String(threads)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new XnnpackPeer(child, dir);
    try {
      peer.info = await peer.#reply();
    } catch (error) {
      peer.close();
      throw error;
    }
    return peer;
  }

  /** The program's ready line: threads, tensors, nodes, input_bytes, output_bytes. */
  info = null;
  #child;
  #dir;
  #lines;
  #stderr = '';
  #exited = null;

  constructor(child, dir) {
    this.#child = child;
    this.#dir = dir;
    this.#lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      if (this.#stderr.length < 64 * 1024) this.#stderr += text;
    });
    this.#exited = new Promise((resolve) => child.on('close', (code, signal) => resolve(signal ?? code)));
    child.on('error', (error) => {
      this.#stderr += error.message;
    });
  }

  get pid() {
    return this.#child.pid;
  }

  async #reply() {
    const { value, done } = await this.#lines.next();
    if (done) {
      const status = await this.#exited;
      throw new Error(`the XNNPACK peer stopped (${status}): ${this.#stderr.trim() || 'no message'}`);
    }
    return JSON.parse(value);
  }

  async #command(line) {
    this.#child.stdin.write(`${line}\n`);
    return this.#reply();
  }

  /** Sets the input tensor: input_bytes bytes in the graph's type (describe.mjs's xnnpackInput). */
  async setInput(bytes) {
    if (bytes.length !== this.info.input_bytes) throw new Error(`the XNNPACK graph takes ${this.info.input_bytes} input bytes, got ${bytes.length}`);
    const path = join(this.#dir, 'input.bin');
    writeFileSync(path, bytes);
    await this.#command(`input ${path}`);
  }

  /** Runs `count` times; the nanoseconds of each run. */
  async run(count) {
    return (await this.#command(`run ${count}`)).ns;
  }

  /** The output tensor as integers of its type. */
  async output() {
    return (await this.#command('output')).output;
  }

  close() {
    this.#child.stdin.end();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
