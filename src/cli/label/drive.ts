// The loop under `label` and `embed`: take each result of the batch pipeline, hand it to the
// command's writer, count it, and end the same way whatever happens — an output or input-list error
// is a usage error (exit 2), a failure of inference itself ends the run (the records so far whole),
// otherwise the summary line, and exit status 1 when some input failed.
import { EXIT_INPUT_FAILED, fail, usage } from '../process.js';
import { ListReadError } from './inputs.js';
import { OutputError } from './output.js';
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
