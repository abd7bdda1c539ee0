// `mobilenet label`: label whole photo collections from scripts, one record per input, on the library's
// one decode/infer pipeline (Classifier.classifyAll) as `classify` is. This file defines the command;
// label/run.ts does the work (loaded only when the command runs), label/defaults.ts picks --threads and
// --concurrency. The other pieces, one concern a file:
// label/inputs.ts (files, folders, stdin lists: a stream of paths) and label/glob.ts (patterns),
// label/shard.ts (--shard), label/resume.ts (--resume), label/records.ts (jsonl/csv/tsv, written and
// read back), label/output.ts (stdout or an appended file, one write per record), label/progress.ts
// (bar and summary), label/interrupt.ts (SIGINT/SIGTERM), label/priority.ts (decoding yields to
// inference).
//
// Memory stays bounded whatever the number of inputs: the listing is produced as it is consumed, the
// pipeline holds `--concurrency` images, each record is written as soon as it is due. (--resume keeps the
// paths already done in a Set: memory proportional to those, see resume.ts.)

import { Option, type Command } from 'commander';
import { addImageOptions, addModelOptions } from './model-options.js';
import { integerUpTo, positiveInteger, probability } from './options.js';
import { defaultConcurrency, defaultThreads, MAX_CONCURRENCY } from './label/defaults.js';
import { FORMATS } from './label/records.js';
import type { LabelFlags } from './label/run.js';
import { parseShard } from './label/shard.js';

export function registerLabel(program: Command): void {
  const command = program
    .command('label')
    .description('label files, folders (recursively), globs or a list on stdin (-): one record per input, to stdout or --output')
    .argument('<inputs...>', "image files, folders, glob patterns, or - for a list of paths on stdin")
    .option('-k, --top-k <n>', 'classes per record', positiveInteger, 5)
    .option('--threshold <p>', 'leave out classes scoring below p', probability, 0)
    .addOption(new Option('-f, --format <format>', 'jsonl, csv or tsv (default: from the --output extension, else jsonl)').choices(FORMATS))
    .option('-o, --output <file>', 'write the records to this file (appending whole records) instead of stdout')
    .option('--resume', 'with --output: skip the inputs the file already has records for (a torn last record is redone)')
    .option('--unordered', 'write records as images finish rather than in input order')
    .option('-0, --null', 'the list on stdin (-) is NUL-separated (find -print0), not one path a line')
    .option('--all-files', 'in folders, take every file, not only image extensions')
    .option('--shard <i/n|auto/n>', 'label only shard i of n of the inputs (by a hash of the path); auto: i from the job array variable', (v) => parseShard(v))
    .option('--threads <n>', 'CPU threads for inference', positiveInteger, defaultThreads())
    .option('--concurrency <n>', `images decoded or classified at once (default: 2 × (decode threads + --threads) + 2, ${defaultConcurrency()} here)`, integerUpTo(MAX_CONCURRENCY))
    .option('-q, --quiet', 'no progress bar and no summary line on stderr');
  addImageOptions(addModelOptions(command))
    .action(async (inputs: string[], flags: LabelFlags) => {
      // Everything the command does is loaded only when it runs (--help and --version stay fast).
      const { label } = await import('./label/run.js');
      await label(inputs, flags);
    });
}
