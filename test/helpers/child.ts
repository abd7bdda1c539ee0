// `bin/mobilenet` as a child process with its peak RSS measured, as scripts run it.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
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
  /** Added to this process's environment (an undefined value removes a variable). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Run as this user and group (tests run as root, where permissions do not stop reads). */
  uid?: number;
  gid?: number;
  /** Standard input, as text. */
  input?: string | Buffer;
  /** stdout goes to this file descriptor instead of a pipe. */
  stdoutFd?: number;
  timeoutMs?: number;
  /** Extra node options before the script (e.g. `--import` a fault injector). */
  nodeOptions?: string[];
  /**
   * The script instead of bin/mobilenet: UNBUNDLED_CLI runs the CLI from its modules in dist/, whose
   * classes a preloaded fault injector can patch (the bundle bin/mobilenet runs has its own copies).
   */
  script?: string;
}

export const UNBUNDLED_CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** Starts `mobilenet …`; `done` settles when it exits. */
export function startMobilenet(args: string[], options: ChildOptions = {}): { child: ChildProcess; done: Promise<ChildOutcome> } {
  const stdio: StdioOptions = ['pipe', options.stdoutFd ?? 'pipe', 'pipe'];
  const child = spawn(process.execPath, [...(options.nodeOptions ?? []), '--require', MAXRSS_HOOK, options.script ?? BIN, ...args], {
    env: { ...process.env, MOBILENET_OFFLINE: '1', ...options.env },
    cwd: options.cwd,
    uid: options.uid,
    gid: options.gid,
    stdio,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(options.input);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<ChildOutcome>((resolve) => {
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
  return { child, done };
}

export function runMobilenet(args: string[], options: ChildOptions = {}): Promise<ChildOutcome> {
  return startMobilenet(args, options).done;
}
