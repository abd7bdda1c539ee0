// `--shard i/n`: this process labels only the inputs whose path hashes to shard i of n, so that n
// processes given the same inputs share them out with no coordinator: each input falls in exactly one
// shard, whichever machine computes it. The hash is the first 8 bytes of SHA-256 over the path's UTF-8
// bytes, read as a big-endian unsigned 64-bit integer, modulo n. (Python, to check a record by hand:
// int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], 'big') % n.) The path is the one the
// record names: the same command line (the same folders, the same list) gives the same paths.
//
// `--shard auto/n` takes i from the variable the orchestrator sets for each task of an array job.

import { InvalidArgumentError } from 'commander';
import { createRequire } from 'node:module';

// node:crypto is required when a path is first hashed: `--help` and the option parsing need none of it.
const require = createRequire(import.meta.url);

export interface Shard {
  index: number;
  count: number;
  /** Where the index came from ('--shard', or the variable's name). */
  source: string;
}

/** The variables tried by `--shard auto/n`, in this order. */
export const SHARD_VARIABLES = [
  { name: 'JOB_COMPLETION_INDEX', what: 'Kubernetes Indexed Job' },
  { name: 'AWS_BATCH_JOB_ARRAY_INDEX', what: 'AWS Batch array job' },
  { name: 'SLURM_ARRAY_TASK_ID', what: 'Slurm job array (minus SLURM_ARRAY_TASK_MIN when set)' },
] as const;

/** Most shards: more than any cluster runs tasks, few enough that n stays a small exact number. */
export const MAX_SHARDS = 1_000_000;

function wholeNumber(text: string | undefined): number | undefined {
  return text !== undefined && /^\s*\d+\s*$/.test(text) ? Number(text) : undefined;
}

/** `i/n` or `auto/n`, checked (commander option parser: a bad value is a usage error naming the option). */
export function parseShard(value: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const match = /^(auto|\d+)\/(\d+)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError("expected i/n (e.g. 0/4) or auto/n, with i from 0 to n-1");
  const count = Number(match[2]);
  if (!(count >= 1 && count <= MAX_SHARDS)) throw new InvalidArgumentError(`the shard count must be from 1 to ${MAX_SHARDS}`);
  let index: number;
  let source = '--shard';
  if (match[1] === 'auto') {
    const found = SHARD_VARIABLES.find((v) => env[v.name] !== undefined && env[v.name] !== '');
    if (!found) {
      throw new InvalidArgumentError(`auto needs the task index in ${SHARD_VARIABLES.map((v) => `${v.name} (${v.what})`).join(', ')}, and none is set`);
    }
    const raw = wholeNumber(env[found.name]);
    if (raw === undefined) throw new InvalidArgumentError(`${found.name} is ${JSON.stringify(env[found.name])}, not a whole number`);
    index = raw;
    source = found.name;
    if (found.name === 'SLURM_ARRAY_TASK_ID' && env.SLURM_ARRAY_TASK_MIN !== undefined) {
      const min = wholeNumber(env.SLURM_ARRAY_TASK_MIN);
      if (min === undefined) throw new InvalidArgumentError(`SLURM_ARRAY_TASK_MIN is ${JSON.stringify(env.SLURM_ARRAY_TASK_MIN)}, not a whole number`);
      index -= min;
      source = 'SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN';
    }
  } else {
    index = Number(match[1]);
  }
  if (!(index >= 0 && index < count)) {
    throw new InvalidArgumentError(`the shard index (${index}${source === '--shard' ? '' : `, from ${source}`}) must be from 0 to ${count - 1}`);
  }
  return { index, count, source };
}

/** The shard (0 … count-1) a path belongs to. */
export function shardOf(path: string, count: number): number {
  if (count === 1) return 0;
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const digest = createHash('sha256').update(path, 'utf8').digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(count));
}

/** Only the inputs of one shard. */
export async function* inShard(inputs: AsyncIterable<string>, shard: Shard): AsyncGenerator<string> {
  for await (const path of inputs) if (shardOf(path, shard.count) === shard.index) yield path;
}
