// Depthwise convolution operator: threads split output rows; for each row the three input rows
// (or the shared zero row for vertical padding) go to the ISA's 3x3 row kernel. Kernel sizes
// other than 3 take a plain portable loop (not used by MobileNet).
#include "ops.h"

namespace mn {

void run_depthwise(const ExecContext& ctx, const StepDesc& s, float* arena) {
  const float* in = arena + s.input;
  float* out = arena + s.output;
  const size_t C = s.inC;
  if (s.kernel == 3) {
    parallel_for(*ctx.pool, s.outH, grain_for(*ctx.pool, s.outH, 8), [&](size_t, size_t y0, size_t y1) {
      for (size_t oy = y0; oy < y1; ++oy) {
        const float* rows[3];
        for (size_t ky = 0; ky < 3; ++ky) {
          const ptrdiff_t iy = (ptrdiff_t)(oy * s.stride + ky) - (ptrdiff_t)s.padTop;
          rows[ky] = (iy < 0 || iy >= (ptrdiff_t)s.inH) ? ctx.zero : in + (size_t)iy * s.inW * C;
        }
        ctx.k->dw3x3(rows, s.inW, s.stride, s.padLeft, s.outW, C, s.w0.data(),
                     out + oy * s.outW * C, s.act0.min, s.act0.max);
      }
    });
    return;
  }
  const size_t k = s.kernel;
  const float* w = s.w0.data();
  const float* bias = s.bias.data();
  parallel_for(*ctx.pool, s.outH, grain_for(*ctx.pool, s.outH, 8), [&](size_t, size_t y0, size_t y1) {
    for (size_t oy = y0; oy < y1; ++oy) {
      for (size_t ox = 0; ox < s.outW; ++ox) {
        float* o = out + (oy * s.outW + ox) * C;
        for (size_t c = 0; c < C; ++c) o[c] = bias[c];
        for (size_t ky = 0; ky < k; ++ky) {
          const ptrdiff_t iy = (ptrdiff_t)(oy * s.stride + ky) - (ptrdiff_t)s.padTop;
          if (iy < 0 || iy >= (ptrdiff_t)s.inH) continue;
          for (size_t kx = 0; kx < k; ++kx) {
            const ptrdiff_t ix = (ptrdiff_t)(ox * s.stride + kx) - (ptrdiff_t)s.padLeft;
            if (ix < 0 || ix >= (ptrdiff_t)s.inW) continue;
            const float* src = in + ((size_t)iy * s.inW + (size_t)ix) * C;
            const float* wk = w + (ky * k + kx) * C;
            for (size_t c = 0; c < C; ++c) o[c] += src[c] * wk[c];
          }
        }
        for (size_t c = 0; c < C; ++c) {
          float v = o[c];
          v = v < s.act0.min ? s.act0.min : v;
          v = v > s.act0.max ? s.act0.max : v;
          o[c] = v;
        }
      }
    }
  });
}

}  // namespace mn
