// `mobilenet embed`: the embedding of every input (the global pool's output, the features the classifier
// reads: 1024 values for v1 α = 1, 1280 for v2), as JSON Lines or one NumPy .npy array, on the same
// decode/infer pipeline as `label` (the library's embedAll) and with label's input forms (files,
// folders, globs, `-` for a list on stdin: label/inputs.ts). This file defines the command;
// embed/run.ts does the work (loaded only when the command runs), embed/jsonl.ts and embed/npy.ts
// write the two formats.

import { Option, type Command } from 'commander';
import { addImageOptions, addModelOptions } from './model-options.js';
import { integerUpTo, positiveInteger } from './options.js';
import { defaultConcurrency, defaultThreads, MAX_CONCURRENCY } from './label/defaults.js';
import type { EmbedFlags } from './embed/run.js';

export const EMBED_FORMATS = ['jsonl', 'npy'] as const;

export function registerEmbed(program: Command): void {
  const command = program
    .command('embed')
    .description('the embedding (pooled features) of files, folders (recursively), globs or a list on stdin (-): JSON Lines or a .npy array')
    .argument('<inputs...>', 'image files, folders, glob patterns, or - for a list of paths on stdin')
    .addOption(new Option('-f, --format <format>', 'jsonl, or npy (a 2-D float32 array; default: from the --output extension, else jsonl)').choices(EMBED_FORMATS))
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .option('--index <file>', 'with --format npy: write the path of each row (and the error of a NaN row) to this file, as JSON Lines')
    .option('--normalize', 'scale each embedding to length 1 (L2), so that a dot product is the cosine similarity')
    .option('-0, --null', 'the list on stdin (-) is NUL-separated (find -print0), not one path a line')
    .option('--all-files', 'in folders, take every file, not only image extensions')
    .option('--threads <n>', 'CPU threads for inference', positiveInteger, defaultThreads())
    .option('--concurrency <n>', `images decoded or embedded at once (default: 2 × (decode threads + --threads) + 2, ${defaultConcurrency()} here)`, integerUpTo(MAX_CONCURRENCY))
    .option('-q, --quiet', 'no progress bar and no summary line on stderr');
  addImageOptions(addModelOptions(command, { labels: false }))
    .action(async (inputs: string[], flags: EmbedFlags) => {
      const { embed } = await import('./embed/run.js');
      await embed(inputs, flags);
    });
}
