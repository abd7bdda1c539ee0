// Exit codes, stderr messages and stdout handling shared by the commands.
import { CommanderError } from 'commander';

export const EXIT_INPUT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 3;

const warned = new Set<string>();

export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.stderr.write(`mobilenet: warning: ${message}\n`);
}

/**
 * The codes of the library's typed errors that describe what the user gave us (a model, a file, the
 * set-up): exit 2, one line. Matched by code, so that this module imports none of the library.
 */
const USER_ERROR_CODES = new Set([
  'MODEL_NOT_FOUND', 'MODEL_DOWNLOAD_FAILED', 'MODEL_FORMAT', 'MODEL_UNSUPPORTED', 'LABELS_INVALID',
  'IMAGE_DECODE', 'INPUT_TOO_LARGE', 'NATIVE_UNAVAILABLE', 'MODEL_HAS_NO_CLASSIFIER',
]);

function isUserError(error: unknown): boolean {
  return error instanceof CommanderError || USER_ERROR_CODES.has((error as { code?: unknown } | null)?.code as string);
}

/** A usage or set-up problem found by a command: one line, exit 2. */
export function usage(message: string): never {
  process.stderr.write(`mobilenet: ${message}\n`);
  process.exit(EXIT_USAGE);
}

/**
 * Ends the command with a one-line error: status 2 for a usage, model or set-up problem, status 3
 * (with the stack) for anything else, which is a bug of ours.
 */
export function fail(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  if (isUserError(error) || !(error instanceof Error)) {
    process.stderr.write(`mobilenet: ${message}\n`);
    process.exit(EXIT_USAGE);
  }
  process.stderr.write(`mobilenet: internal error: ${message}\n${error.stack ?? ''}\n`);
  process.exit(EXIT_INTERNAL);
}

/**
 * stdout as shell tools treat it: a reader that went away (`| head -1`, EPIPE) ends the program
 * quietly with status 0; any other write error (a full disk) is one line on stderr and status 2.
 */
export function handleStdoutErrors(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    process.stderr.write(`mobilenet: cannot write the output: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  });
}
