// Timing helpers shared by the peer benchmark's sections (bench/peers.mjs, bench/peers-int8.mjs):
// waiting until every engine's threads are idle, the load other processes put on the machine, and
// percentiles.
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (ns) of other processes of ours, e.g. the XNNPACK peer: the sum over their threads of
 * /proc/<pid>/task/<tid>/schedstat's first field. Linux only (0 elsewhere, or once they have exited).
 */
export function childCpuNs(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // gone, or not Linux
    }
  }
  return total;
}

// Waits until this process and `pids` are idle: their CPU time over a SETTLE_WINDOW_MS window (the JS
// thread asleep in a timer) under SETTLE_IDLE of one core, i.e. no engine thread is spinning any
// more. Gives up after SETTLE_MAX_MS (counted as a timeout: a thread never went idle).
const SETTLE_WINDOW_MS = 5;
const SETTLE_IDLE = 0.2;
const SETTLE_MAX_MS = 1000;
export const settleStats = { blocks: 0, waitedMs: 0, maxMs: 0, timeouts: 0 };
const sleep = (msec) => new Promise((done) => setTimeout(done, msec));

export async function settle(pids = []) {
  const start = performance.now();
  for (;;) {
    const cpu0 = process.cpuUsage();
    const child0 = childCpuNs(pids);
    const wall0 = performance.now();
    await sleep(SETTLE_WINDOW_MS);
    const cpu = process.cpuUsage(cpu0);
    const busyMs = (cpu.user + cpu.system) / 1000 + (childCpuNs(pids) - child0) / 1e6;
    const now = performance.now();
    if (busyMs < SETTLE_IDLE * (now - wall0)) break;
    if (now - start > SETTLE_MAX_MS) {
      settleStats.timeouts++;
      break;
    }
  }
  const waited = performance.now() - start;
  settleStats.blocks++;
  settleStats.waitedMs += waited;
  settleStats.maxMs = Math.max(settleStats.maxMs, waited);
}

// CPU used by other processes while a row was measured: the machine's busy time (/proc/stat, in
// USER_HZ ticks) minus this process's own and its peers' (`pids`), in cores; and the hypervisor's
// steal time. Linux only (null elsewhere). A tail that comes with other load is the machine's, not
// the engine's.
function machineTicks() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { busy: f[0] + f[1] + f[2] + f[5] + f[6], steal: f[7] ?? 0 };
  } catch {
    return null;
  }
}

export function otherLoadMeter(pids = []) {
  const ticks0 = machineTicks(), cpu0 = process.cpuUsage(), child0 = childCpuNs(pids), wall0 = performance.now();
  return () => {
    const ticks = machineTicks();
    if (ticks0 === null || ticks === null) return null;
    const wallS = (performance.now() - wall0) / 1000, own = process.cpuUsage(cpu0);
    const ownS = (own.user + own.system) / 1e6 + (childCpuNs(pids) - child0) / 1e9;
    const hz = 100; // USER_HZ: 100 on every Linux architecture Node runs on
    return {
      otherCores: Math.max(0, ((ticks.busy - ticks0.busy) / hz - ownS) / wallS),
      stealCores: (ticks.steal - ticks0.steal) / hz / wallS,
    };
  };
}

export const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];

/** median, p90, p99 (ms) of a list of milliseconds. */
export function latencyStats(msList) {
  const sorted = [...msList].sort((a, b) => a - b);
  return { medianMs: percentile(sorted, 0.5), p90Ms: percentile(sorted, 0.9), p99Ms: percentile(sorted, 0.99) };
}
