// Full convolution (the stem: 3x3 stride 2, inC 3; any k/stride works): one output row at a time.
// Output pixels whose window lies inside the image go through the ISA's indirect GEMM, which
// reads the input in place (tap offsets precomputed in koff); pixels touching the padding (a
// border column, the rows at the top/bottom edge) are im2col'd into per-thread scratch
// ([outW][k*k*inC], zeros for padding) and go through the plain GEMM. Weights are packed as
// [outC][k*k*inC] panels. Threads take chunks of output rows.
#include <cstring>

#include "ops.h"

namespace mn {

namespace {

// Copies n floats; a compile-time n (the stem's 3 pixels x 3 channels = 9) becomes a few vector
// moves instead of a loop or a memcpy call.
template <size_t N>
inline void copy_fixed(float* dst, const float* src) {
  struct Block {
    float v[N];
  };
  std::memcpy(dst, src, sizeof(Block));
}
inline void copy_n(float* dst, const float* src, size_t n) {
  switch (n) {
    case 9:
      copy_fixed<9>(dst, src);
      return;
    case 15:
      copy_fixed<15>(dst, src);
      return;
    case 3:
      copy_fixed<3>(dst, src);
      return;
    default:
      std::memcpy(dst, src, n * sizeof(float));
  }
}

// im2col of columns [x0, x1) of output row oy into patch ([x1-x0][k*k*C]).
void im2col_row(const StepDesc& s, const float* in, size_t oy, size_t x0, size_t x1,
                float* patch) {
  const size_t k = s.kernel, C = s.inC, K = k * k * C, kC = k * C;
  for (size_t ox = x0; ox < x1; ++ox) {
    float* dst = patch + (ox - x0) * K;
    const ptrdiff_t ix0 = (ptrdiff_t)(ox * s.stride) - (ptrdiff_t)s.padLeft;
    const bool colsInside = ix0 >= 0 && ix0 + (ptrdiff_t)k <= (ptrdiff_t)s.inW;
    for (size_t ky = 0; ky < k; ++ky, dst += kC) {
      const ptrdiff_t iy = (ptrdiff_t)(oy * s.stride + ky) - (ptrdiff_t)s.padTop;
      if (iy < 0 || iy >= (ptrdiff_t)s.inH) {
        std::memset(dst, 0, kC * sizeof(float));
        continue;
      }
      const float* row = in + (size_t)iy * s.inW * C;
      if (colsInside) {  // the k pixels of this kernel row are adjacent in the input
        copy_n(dst, row + (size_t)ix0 * C, kC);
        continue;
      }
      for (size_t kx = 0; kx < k; ++kx) {
        const ptrdiff_t ix = ix0 + (ptrdiff_t)kx;
        float* d = dst + kx * C;
        if (ix < 0 || ix >= (ptrdiff_t)s.inW)
          std::memset(d, 0, C * sizeof(float));
        else
          std::memcpy(d, row + (size_t)ix * C, C * sizeof(float));
      }
    }
  }
}

}  // namespace

void plan_conv2d(StepDesc* s) {
  const size_t k = s->kernel, C = s->inC;
  s->koff.resize(checked_mul({k, k, C}));
  for (size_t ky = 0; ky < k; ++ky)
    for (size_t kx = 0; kx < k; ++kx)
      for (size_t c = 0; c < C; ++c) s->koff[(ky * k + kx) * C + c] = (ky * s->inW + kx) * C + c;
}

void run_conv2d(const ExecContext& ctx, const StepDesc& s, float* arena) {
  const float* in = arena + s.input;
  float* out = arena + s.output;
  const size_t k = s.kernel, C = s.inC, K = k * k * C;
  // Output columns whose k input columns are all inside the image: [xa, xb).
  const size_t xa = (s.padLeft + s.stride - 1) / s.stride;
  size_t xb = s.inW + s.padLeft >= k ? (s.inW + s.padLeft - k) / s.stride + 1 : 0;
  xb = xb > s.outW ? s.outW : xb;
  const bool direct = ctx.k->igemm != nullptr && xa < xb;
  parallel_for(*ctx.pool, s.outH, grain_for(*ctx.pool, s.outH, 8),
               [&](size_t tid, size_t y0, size_t y1) {
                 float* patch = ctx.scratch[tid];
                 for (size_t oy = y0; oy < y1; ++oy) {
                   float* orow = out + oy * s.outW * s.outC;
                   const ptrdiff_t iy0 = (ptrdiff_t)(oy * s.stride) - (ptrdiff_t)s.padTop;
                   if (!direct || iy0 < 0 || iy0 + (ptrdiff_t)k > (ptrdiff_t)s.inH) {
                     im2col_row(s, in, oy, 0, s.outW, patch);
                     ctx.k->gemm(s.outW, s.outC, K, patch, K, s.w0.data(), orow, s.outC, nullptr,
                                 0, s.act0.min, s.act0.max);
                     continue;
                   }
                   // Interior columns straight from the input, border columns through im2col.
                   const float* a =
                       in + ((size_t)iy0 * s.inW + xa * s.stride - s.padLeft) * C;
                   ctx.k->igemm(xb - xa, s.outC, K, a, s.stride * C, s.koff.data(), s.w0.data(),
                                orow + xa * s.outC, s.outC, s.act0.min, s.act0.max);
                   if (xa > 0) {
                     im2col_row(s, in, oy, 0, xa, patch);
                     ctx.k->gemm(xa, s.outC, K, patch, K, s.w0.data(), orow, s.outC, nullptr, 0,
                                 s.act0.min, s.act0.max);
                   }
                   if (xb < s.outW) {
                     im2col_row(s, in, oy, xb, s.outW, patch);
                     ctx.k->gemm(s.outW - xb, s.outC, K, patch, K, s.w0.data(),
                                 orow + xb * s.outC, s.outC, nullptr, 0, s.act0.min, s.act0.max);
                   }
                 }
               });
}

}  // namespace mn
