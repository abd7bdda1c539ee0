// Classifier head: global average pool, fully connected (the ISA GEMM with one row: a GEMV over
// packed panels, threads split panels), softmax (stable: subtract the max). Generic code.
#include <cmath>

#include "ops.h"

namespace mn {

void run_avgpool(const ExecContext&, const StepDesc& s, float* arena) {
  const float* in = arena + s.input;
  float* out = arena + s.output;
  const size_t C = s.inC, P = s.inH * s.inW;
  for (size_t c = 0; c < C; ++c) out[c] = 0.0f;
  for (size_t p = 0; p < P; ++p) {
    const float* src = in + p * C;
    for (size_t c = 0; c < C; ++c) out[c] += src[c];
  }
  const float scale = 1.0f / (float)P;
  for (size_t c = 0; c < C; ++c) out[c] *= scale;
}

void run_fc(const ExecContext& ctx, const StepDesc& s, float* arena) {
  const float* in = arena + s.input;
  float* out = arena + s.output;
  const size_t N = s.outC, K = s.inC, nr = ctx.k->gemm_nr;
  const size_t panels = (N + nr - 1) / nr;
  const size_t panel_floats = nr * (K + 1);
  parallel_for(*ctx.pool, panels, grain_for(*ctx.pool, panels, 4), [&](size_t, size_t p0, size_t p1) {
    const size_t n0 = p0 * nr, n1 = p1 * nr < N ? p1 * nr : N;
    ctx.k->gemm(1, n1 - n0, K, in, K, s.w0.data() + p0 * panel_floats, out + n0, N, nullptr, 0,
                s.act0.min, s.act0.max);
  });
}

void run_softmax(const ExecContext&, const StepDesc& s, float* arena) {
  const float* in = arena + s.input;
  float* out = arena + s.output;
  const size_t n = s.inC;
  if (n == 0) return;
  float mx = in[0];
  for (size_t i = 1; i < n; ++i) mx = in[i] > mx ? in[i] : mx;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const float e = std::exp(in[i] - mx);
    out[i] = e;
    sum += e;
  }
  const float inv = (float)(1.0 / sum);
  for (size_t i = 0; i < n; ++i) out[i] *= inv;
}

}  // namespace mn
