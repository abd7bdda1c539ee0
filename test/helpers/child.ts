// `bin/mobilenet` as a child process with its peak RSS measured, as scripts run it.
import { spawn, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './shared.js';

export const BIN = join(REPO_ROOT, 'bin', 'mobilenet');
const MAXRSS_HOOK = join(REPO_ROOT, 'test', 'helpers', 'maxrss.cjs');

export interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stderr without the peak-RSS line. */
  stderr: string;
  /** Peak resident memory of the process, MiB. */
  maxRssMiB: number;
}

export interface ChildOptions {
  env?: Record<string, string>;
  /** Standard input, as text. */
  input?: string | Buffer;
  /** stdout goes to this file descriptor instead of a pipe. */
  stdoutFd?: number;
  timeoutMs?: number;
  /** Extra node options before the script (e.g. `--import` a fault injector). */
  nodeOptions?: string[];
}

export function runMobilenet(args: string[], options: ChildOptions = {}): Promise<ChildOutcome> {
  const stdio: StdioOptions = ['pipe', options.stdoutFd ?? 'pipe', 'pipe'];
  const child = spawn(process.execPath, [...(options.nodeOptions ?? []), '--require', MAXRSS_HOOK, BIN, ...args], {
    env: { ...process.env, MOBILENET_OFFLINE: '1', ...options.env },
    stdio,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk; });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk; });
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(options.input);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const match = /\n?maxrss_kib=(\d+)\n/.exec(stderr);
      resolve({
        code, signal, stdout,
        stderr: match ? stderr.replace(match[0], '') : stderr,
        maxRssMiB: match ? Number(match[1]) / 1024 : NaN,
      });
    });
  });
}
