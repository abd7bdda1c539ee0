// Decoding yields to inference. `label` keeps two kinds of CPU work busy at once: sharp decoding on
// libuv's pool (4 threads by default) and the addon's inference thread(s). Per image they cost about
// the same CPU (MobileNet v2 224 on the 2-core VM: ~6.7 ms decode + ~6.7 ms inference), so at full
// speed the inference thread needs one core to itself; with the kernel's fair share it competes with
// four decode threads and gets about 2/5 of the CPU, and the whole run waits for it. Lowering the
// priority (raising the nice value by 10) of the threads that exist before the model is loaded (libuv's
// pool, V8's helpers; not the main thread, not the inference threads created by loadModel) lets
// inference run whenever it has work, and decoding fill every other cycle. Measured on the 2-core VM
// (500 JPEGs, threads 1, concurrency 8, alternating runs): 108-126 img/s at equal priority, 116-141
// img/s with this. Threads libvips starts later are created by pool threads and inherit their priority.
//
// Linux only (thread ids in /proc/self/task; setpriority on a thread id); elsewhere it does nothing.
// Raising a nice value needs no privilege, and it is relative: a run started under `nice` stays lower.
// The price: on a machine busy with other work, the decode threads yield to that work too (a run
// measured while other processes kept the cores busy lost more speed than a peer at equal priority);
// MOBILENET_DECODE_NICENESS=0 turns it off.

import { existsSync, readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** How much lower decoding runs than inference (nice steps; 10 ≈ 1/10 of the CPU weight). */
export const DECODE_NICENESS = 10;

/**
 * The niceness to add: MOBILENET_DECODE_NICENESS (0 to 19; 0 turns this off, e.g. on a machine shared
 * with other work, where decode threads at a lower priority also yield to every other process), else 10.
 */
export function decodeNiceness(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.MOBILENET_DECODE_NICENESS;
  if (value === undefined || value.trim() === '') return DECODE_NICENESS;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 && n <= 19 ? n : DECODE_NICENESS;
}

/** The process's thread ids (empty where they cannot be listed). */
export function threadIds(): Set<number> {
  if (process.platform !== 'linux' || !existsSync('/proc/self/task')) return new Set();
  try {
    return new Set(readdirSync('/proc/self/task').map(Number).filter(Number.isInteger));
  } catch {
    return new Set();
  }
}

/** Lowers the priority of `threads` (but never of the main thread); how many it could lower. */
export function lowerPriority(threads: Iterable<number>, niceness = decodeNiceness()): number {
  let lowered = 0;
  if (niceness === 0) return 0;
  for (const tid of threads) {
    if (tid === process.pid) continue;
    try {
      setPriority(tid, Math.min(19, getPriority(tid) + niceness));
      lowered++;
    } catch {
      // The thread ended, or this system does not take thread ids: nothing to do.
    }
  }
  return lowered;
}
