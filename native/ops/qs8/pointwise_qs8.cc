// int8 1x1 convolution (GEMM [h*w, inC] x [inC, outC]) and fully connected (one row). Threads
// split pixel tiles when there are plenty, otherwise output-channel panels. Formats with a
// per-row correction (kernels_qs8.h: -w_zp * Σx, uint8 files on S8 kernels) get it computed per
// block of rows into the thread's scratch.
#include "ops_qs8.h"

namespace mn {

namespace {

// Pixels per GEMM call: an A block of about 16 KB, in whole tiles.
size_t pointwise_block(const QKernels& kt, size_t K) {
  size_t block = 16384 / (K == 0 ? 1 : K);
  block = block < kt.gemm_mr ? kt.gemm_mr : block > 512 ? 512 : block;
  return block / kt.gemm_mr * kt.gemm_mr;
}

// The rowcorr of m rows, or nullptr when the part needs none.
const int32_t* rowcorr(const QKernels& kt, const QGemmPart& g, size_t m, const int8_t* a,
                       size_t a_stride, uint8_t* scratch) {
  if (!g.rowcorr) return nullptr;
  int32_t* rc = reinterpret_cast<int32_t*>(scratch);
  kt.rowsum(m, g.k, a, a_stride, g.rowcorrMult, rc);
  return rc;
}

}  // namespace

size_t qpointwise_scratch_bytes(const QKernels& kt, const QStepDesc& s, size_t threads) {
  // Pixel split: one block of rowcorr; channel split (fewer than threads * 4 tiles): all rows.
  const size_t rows = std::max(pointwise_block(kt, s.inC), checked_mul({threads, kt.gemm_mr, 4}));
  return round64(checked_mul(rows, 4));
}

void qrun_pointwise(const QExecContext& ctx, const QStepDesc& s, int8_t* arena) {
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  const QKernels& kt = *ctx.k;
  const QGemmPart& g = s.gemm0;
  const size_t M = s.inH * s.inW, N = s.outC, K = s.inC;
  const size_t mr = kt.gemm_mr, T = ctx.pool->size();
  if (T == 1 || M >= T * mr * 4) {
    const size_t block = pointwise_block(kt, K);
    const size_t units = (M + mr - 1) / mr;
    parallel_for(*ctx.pool, units, grain_for(*ctx.pool, units, 8, block / mr), [&](size_t tid, size_t u0, size_t u1) {
      const size_t m1 = u1 * mr < M ? u1 * mr : M;
      for (size_t m0 = u0 * mr; m0 < m1; m0 += block) {
        const size_t mb = m1 - m0 < block ? m1 - m0 : block;
        const int32_t* rc = rowcorr(kt, g, mb, in + m0 * K, K, ctx.scratch[tid]);
        g.fn(mb, N, K, in + m0 * K, K, g.w, g.wStride, rc, out + m0 * N, N, &g.out);
      }
    });
  } else {
    const size_t nr = kt.gemm_nr, panels = qgemm_panels(kt, N);
    parallel_for(*ctx.pool, panels, grain_for(*ctx.pool, panels, 4), [&](size_t tid, size_t p0, size_t p1) {
      const size_t n0 = p0 * nr, n1 = p1 * nr < N ? p1 * nr : N;
      const int32_t* rc = rowcorr(kt, g, M, in, K, ctx.scratch[tid]);
      g.fn(M, n1 - n0, K, in, K, g.w + p0 * g.wStride, g.wStride, rc, out + n0, N, &g.out);
    });
  }
}

void qrun_fc(const QExecContext& ctx, const QStepDesc& s, int8_t* arena) {
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  const QKernels& kt = *ctx.k;
  const QGemmPart& g = s.gemm0;
  const size_t N = s.outC, K = s.inC, nr = kt.gemm_nr, panels = qgemm_panels(kt, N);
  parallel_for(*ctx.pool, panels, grain_for(*ctx.pool, panels, 4), [&](size_t tid, size_t p0, size_t p1) {
    const size_t n0 = p0 * nr, n1 = p1 * nr < N ? p1 * nr : N;
    const int32_t* rc = rowcorr(kt, g, 1, in, K, ctx.scratch[tid]);
    g.fn(1, n1 - n0, K, in, K, g.w + p0 * g.wStride, g.wStride, rc, out + n0, N, &g.out);
  });
}

}  // namespace mn
