// 1x1 convolution operator = GEMM [h*w, inC] x [inC, outC]. Threads split pixel tiles when there
// are plenty (early layers), otherwise output-channel panels (late 7x7 layers). Inside a thread,
// pixels go in blocks whose A slice stays cache resident while all panels are swept.
#include "ops.h"

namespace mn {

void run_pointwise(const ExecContext& ctx, const StepDesc& s, float* arena) {
  const float* in = arena + s.input;
  float* out = arena + s.output;
  const size_t M = s.inH * s.inW, N = s.outC, K = s.inC;
  const size_t mr = ctx.k->gemm_mr, nr = ctx.k->gemm_nr;
  const size_t T = ctx.pool->size();
  size_t block = 16384 / (K == 0 ? 1 : K);
  block = block < mr ? mr : block > 256 ? 256 : block;
  block = block / mr * mr;
  const GemmFn gemm = ctx.k->gemm;
  const float* w = s.w0.data();
  const Act act = s.act0;
  if (T == 1 || M >= T * mr * 4) {
    const size_t units = (M + mr - 1) / mr;
    parallel_for(*ctx.pool, units, grain_for(*ctx.pool, units, 8, block / mr), [&](size_t, size_t u0, size_t u1) {
      const size_t m1 = u1 * mr < M ? u1 * mr : M;
      for (size_t m0 = u0 * mr; m0 < m1; m0 += block) {
        const size_t mb = m1 - m0 < block ? m1 - m0 : block;
        gemm(mb, N, K, in + m0 * K, K, w, out + m0 * N, N, nullptr, 0, act.min, act.max);
      }
    });
  } else {
    const size_t panels = (N + nr - 1) / nr;
    const size_t panel_floats = nr * (K + 1);
    parallel_for(*ctx.pool, panels, grain_for(*ctx.pool, panels, 4), [&](size_t, size_t p0, size_t p1) {
      const size_t n0 = p0 * nr, n1 = p1 * nr < N ? p1 * nr : N;
      gemm(M, n1 - n0, K, in, K, w + p0 * panel_floats, out + n0, N, nullptr, 0, act.min,
           act.max);
    });
  }
}

}  // namespace mn
