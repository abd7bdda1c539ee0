// Exit codes and stderr messages shared by the commands.
export const EXIT_INPUT_FAILED = 1;
export const EXIT_USAGE = 2;

const warned = new Set<string>();

export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.stderr.write(`mobilenet: warning: ${message}\n`);
}

/** Ends the command with a one-line error (no stack trace): a model or set-up problem. */
export function fail(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`mobilenet: ${message}\n`);
  process.exit(EXIT_USAGE);
}
