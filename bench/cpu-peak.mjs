// What one core of this machine can do at most: fp32 multiply-adds (FMA) and int8 multiply-adds
// (AVX-512 VNNI vpdpbusd) per second, from register-only loops with enough independent accumulators
// to hide the instructions' latency. The ceiling that `bench --profile`'s GFLOP/s and GMAC/s columns
// are read against. x86-64 only; needs g++ (the loops are compiled here, with target attributes, so the
// program runs on any x86-64 and skips what the CPU lacks).
//
//   node bench/cpu-peak.mjs [--seconds 0.5]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuModel } from './machine.mjs';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '0.5' } } });

const SOURCE = String.raw`
#include <immintrin.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
using Clock = std::chrono::steady_clock;
static double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
static volatile float sink_f; static volatile int sink_i;
constexpr int N = 12;  // independent chains: more than latency × ports of any current core
// Fully unrolled, so that the accumulators live in registers (a loop over an array of them would
// store and reload each one, and measure the memory pipeline instead).
#define UNROLLED _Pragma("GCC unroll 12")

__attribute__((target("avx512f"))) static double fma512(double budget) {
  __m512 acc[N]; for (int i = 0; i < N; i++) acc[i] = _mm512_set1_ps(i * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(1e-4f);
  long iters = 0; auto t0 = Clock::now(); double s;
  do { for (int k = 0; k < 100000; k++) UNROLLED for (int i = 0; i < N; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
       iters += 100000; } while ((s = seconds_since(t0)) < budget);
  float t = 0; for (int i = 0; i < N; i++) t += _mm512_reduce_add_ps(acc[i]); sink_f = t;
  return iters * N * 16.0 * 2 / s / 1e9;
}
__attribute__((target("avx2,fma"))) static double fma256(double budget) {
  __m256 acc[N]; for (int i = 0; i < N; i++) acc[i] = _mm256_set1_ps(i * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(1e-4f);
  long iters = 0; auto t0 = Clock::now(); double s;
  do { for (int k = 0; k < 100000; k++) UNROLLED for (int i = 0; i < N; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
       iters += 100000; } while ((s = seconds_since(t0)) < budget);
  float t = 0, lane[8]; for (int i = 0; i < N; i++) { _mm256_storeu_ps(lane, acc[i]); t += lane[0]; } sink_f = t;
  return iters * N * 8.0 * 2 / s / 1e9;
}
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static double vnni512(double budget) {
  __m512i acc[N]; for (int i = 0; i < N; i++) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  long iters = 0; auto t0 = Clock::now(); double s;
  do { for (int k = 0; k < 100000; k++) UNROLLED for (int i = 0; i < N; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
       iters += 100000; } while ((s = seconds_since(t0)) < budget);
  int t = 0; for (int i = 0; i < N; i++) t += _mm512_reduce_add_epi32(acc[i]); sink_i = t;
  return iters * N * 64.0 / s / 1e9;  // 64 int8 multiply-adds per instruction
}
int main(int argc, char** argv) {
  const double budget = argc > 1 ? atof(argv[1]) : 0.5;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) printf("fp32 FMA, AVX-512: %.1f GFLOP/s\n", fma512(budget));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) printf("fp32 FMA, AVX2: %.1f GFLOP/s\n", fma256(budget));
  if (__builtin_cpu_supports("avx512vnni")) printf("int8 vpdpbusd, AVX-512 VNNI: %.1f G multiply-adds/s\n", vnni512(budget));
}
`;

const dir = mkdtempSync(join(tmpdir(), 'cpu-peak-'));
try {
  writeFileSync(join(dir, 'peak.cc'), SOURCE);
  execFileSync('g++', ['-O3', '-o', join(dir, 'peak'), join(dir, 'peak.cc')], { stdio: 'inherit' });
  process.stdout.write(`${cpuModel()}, one core (one thread):\n`);
  process.stdout.write(execFileSync(join(dir, 'peak'), [args.seconds], { encoding: 'utf8' }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
