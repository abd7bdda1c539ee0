// Full convolution (the stem: 3x3 stride 2, inC 3; any k/stride works): one output row at a time,
// im2col of the row into per-thread scratch ([outW][k*k*inC], zeros for padding), then the ISA's
// GEMM microkernel against weights packed as [outC][k*k*inC] panels. Threads split output rows.
#include "ops.h"

namespace mn {

void run_conv2d(const ExecContext& ctx, const StepDesc& s, float* arena) {
  const float* in = arena + s.input;
  float* out = arena + s.output;
  const size_t k = s.kernel, C = s.inC, K = k * k * C;
  parallel_for(*ctx.pool, s.outH, grain_for(*ctx.pool, s.outH, 8), [&](size_t tid, size_t y0, size_t y1) {
    float* patch = ctx.scratch[tid];
    for (size_t oy = y0; oy < y1; ++oy) {
      for (size_t ox = 0; ox < s.outW; ++ox) {
        float* dst = patch + ox * K;
        const ptrdiff_t ix0 = (ptrdiff_t)(ox * s.stride) - (ptrdiff_t)s.padLeft;
        const bool colsInside = ix0 >= 0 && ix0 + (ptrdiff_t)k <= (ptrdiff_t)s.inW;
        for (size_t ky = 0; ky < k; ++ky, dst += k * C) {
          const ptrdiff_t iy = (ptrdiff_t)(oy * s.stride + ky) - (ptrdiff_t)s.padTop;
          if (iy < 0 || iy >= (ptrdiff_t)s.inH) {
            for (size_t j = 0; j < k * C; ++j) dst[j] = 0.0f;
            continue;
          }
          const float* row = in + (size_t)iy * s.inW * C;
          if (colsInside) {  // the k pixels of this kernel row are adjacent in the input
            const float* src = row + (size_t)ix0 * C;
            for (size_t j = 0; j < k * C; ++j) dst[j] = src[j];
            continue;
          }
          for (size_t kx = 0; kx < k; ++kx) {
            const ptrdiff_t ix = ix0 + (ptrdiff_t)kx;
            float* d = dst + kx * C;
            if (ix < 0 || ix >= (ptrdiff_t)s.inW) {
              for (size_t c = 0; c < C; ++c) d[c] = 0.0f;
            } else {
              const float* src = row + (size_t)ix * C;
              for (size_t c = 0; c < C; ++c) d[c] = src[c];
            }
          }
        }
      }
      ctx.k->gemm(s.outW, s.outC, K, patch, K, s.w0.data(), out + oy * s.outW * s.outC, s.outC,
                  nullptr, 0, s.act0.min, s.act0.max);
    }
  });
}

}  // namespace mn
