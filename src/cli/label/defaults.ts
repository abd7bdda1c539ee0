// The defaults of `label`'s --threads and --concurrency, and why.
import { availableParallelism } from 'node:os';

/**
 * Default inference threads: half the cores. Per image, decoding (sharp, libuv's pool and libvips'
 * workers, plus the main thread's share) and inference cost about the same CPU for MobileNet v2 224 on
 * the 2-core VM (6.3 ms decode + 1.3 ms main thread, 6.6 ms inference, per-thread CPU times from
 * /proc), so an even split keeps both busy; one inference thread is also the most CPU-efficient (two
 * spend ~15 % more CPU per image on hand-offs), which leaves more to decoding. Measured with
 * `npm run bench:label -- --sweep` on the 2-core VM (500 JPEGs of 640–1920 px, whole processes, img/s,
 * median of 3 alternating rounds, quiet machine; threads / concurrency): 1 / 4: 113, 1 / 8: 121,
 * 1 / 12: 125, 1 / 16: 118, 2 / 8: 113, 2 / 12: 126. Threads 1 and 2 tie at concurrency 12; 1 uses less
 * CPU for it. Above 2 cores this is the rule, not a measurement.
 */
export function defaultThreads(cores: number = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 2));
}

/**
 * Default images in flight: enough to keep every decode thread (libuv's pool: UV_THREADPOOL_SIZE, 4
 * by default) and every inference thread busy twice over, plus two for the slack of in-order output
 * (a slow image holds back those after it): 12 with the default pool and 1 inference thread. Fewer
 * (4, 8) left the cores idle at times, more (16) only cost memory (figures above).
 */
export function defaultConcurrency(threads: number = defaultThreads(), pool: number = libuvPoolSize()): number {
  return 2 * (pool + threads) + 2;
}

function libuvPoolSize(): number {
  const size = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(size) && size >= 1 ? Math.min(size, 1024) : 4;
}

export const MAX_CONCURRENCY = 1024;
