// What the benchmark scripts say about the machine they ran on.
import { readFileSync } from 'node:fs';

/** The CPU's model name from /proc/cpuinfo ('unknown' elsewhere). */
export function cpuModel() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    return line ? line.split(':')[1].trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}
