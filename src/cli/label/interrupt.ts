// SIGINT and SIGTERM during `mobilenet label`: the first stops taking inputs (the images already started
// finish and their records are written, in order), then the command ends with 128 + the signal's number
// (130, 143), as shells report a job stopped by a signal. A second signal ends the process at once: every
// record written so far is still whole (each is one write), and --resume redoes the rest.

import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export interface Interruption {
  readonly signal: AbortSignal;
  /** The signal that stopped the run, if one did. */
  readonly received: NodeJS.Signals | undefined;
  /** The exit status for it (128 + its number). */
  readonly exitCode: number;
  dispose(): void;
}

export function handleInterrupts(say: (line: string) => void): Interruption {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const statusOf = (signal: NodeJS.Signals) => 128 + (constants.signals[signal] ?? 0);
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) process.exit(statusOf(received));
    received = signal;
    say(`${signal}: finishing the images in progress (${signal} again stops at once)`);
    controller.abort();
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    get exitCode() {
      return received ? statusOf(received) : 0;
    },
    dispose() {
      for (const s of SIGNALS) process.off(s, onSignal);
    },
  };
}
