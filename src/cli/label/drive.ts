// The frame of `label` and `embed`: their stderr session, the model's life, and the loop that takes each result of the batch pipeline, hand it to the
// command's writer, count it, and end the same way whatever happens — an output or input-list error
// is a usage error (exit 2), a failure of inference itself ends the run (the records so far whole),
// otherwise the summary line, and exit status 1 when some input failed.
import type { Classifier } from '../../classifier.js';
import { modelOptions, type ModelFlags } from '../model-options.js';
import { EXIT_INPUT_FAILED, fail, usage } from '../process.js';
import { ListReadError, stdinIsFolder } from './inputs.js';
import { handleInterrupts } from './interrupt.js';
import { OutputError } from './output.js';
import { lowerPriority, threadIds } from './priority.js';
import type { LabelProgress } from './progress.js';

export interface Drive<R> {
  progress: LabelProgress;
  /** Writes one result; resolves to whether that input succeeded. */
  write: (result: R) => Promise<boolean>;
  /** Flushes and closes the output. */
  close: () => Promise<void>;
  /** Stops the pass that counts inputs for the progress bar. */
  stopCounting: () => void;
  say: (line: string) => void;
  interrupted: () => NodeJS.Signals | undefined;
}

export async function driveBatch<R>(results: AsyncIterable<R>, d: Drive<R>): Promise<void> {
  let failed = false;
  try {
    for await (const result of results) {
      const ok = await d.write(result);
      failed ||= !ok;
      d.progress.add(ok);
    }
  } catch (error) {
    d.progress.stop();
    await d.close().catch(() => undefined);
    if (error instanceof OutputError || error instanceof ListReadError) usage(error.message);
    fail(error);
  } finally {
    d.stopCounting();
  }
  d.progress.stop();
  try {
    await d.close();
  } catch (error) {
    usage((error as Error).message);
  }
  d.say(d.progress.summary(d.interrupted()));
  if (failed) process.exitCode = EXIT_INPUT_FAILED;
}

/** What a batch command says on stderr and how it is interrupted (see handleInterrupts). */
export interface Session {
  /** A line on stderr (not with --quiet); a progress bar on the terminal stops first (it would draw over it). */
  say: (line: string) => void;
  /** Set by the progress bar: clears it before a line. */
  screen: { beforeLine: () => void };
  interrupt: ReturnType<typeof handleInterrupts>;
}

export function startSession(quiet: boolean | undefined): Session {
  const screen = { beforeLine: () => {} };
  const say = (line: string) => {
    if (quiet) return;
    screen.beforeLine();
    process.stderr.write(`mobilenet: ${line}\n`);
  };
  return { say, screen, interrupt: handleInterrupts(say) };
}

/** `-` (a list on stdin) at most once, and not with a folder on stdin. */
export function checkStdinInput(inputs: string[]): void {
  if (inputs.filter((i) => i === '-').length > 1) usage('- (the list on stdin) may be given only once');
  if (inputs.includes('-') && stdinIsFolder()) usage('- reads a list of paths on stdin, and stdin is a folder');
}

/**
 * Loads the command's model (the library only now: --help stays fast), runs `body` with it, frees it,
 * and ends the process with the interrupt's status if a signal came. `classifies`: a model without
 * classifier is refused (exit 2) before any input is read. The threads running before the
 * model loads are libuv's pool (decoding) and V8's helpers; those it starts are inference: the first
 * yield to the second (priority.ts).
 */
export async function withModel(
  flags: ModelFlags & { model: string },
  session: Session,
  body: (classifier: Classifier) => Promise<void>,
  { classifies = false }: { classifies?: boolean } = {},
): Promise<void> {
  const { loadModel, NoClassifierError } = await import('../../classifier.js');
  const before = threadIds();
  const classifier = await loadModel(flags.model, modelOptions(flags)).catch(fail);
  if (classifies && !classifier.hasClassifier) fail(new NoClassifierError(classifier.source));
  lowerPriority(before);
  try {
    await body(classifier);
  } finally {
    classifier.dispose();
    session.interrupt.dispose();
  }
  if (session.interrupt.received) process.exit(session.interrupt.exitCode);
}
