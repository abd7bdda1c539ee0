// int8 full convolution (the stem): blocks of output pixels are im2col'd into the thread's scratch
// (rows of k*k*inC bytes, padded to a multiple of 4, taps outside the image holding the input zero
// point so that their (x - x_zp) is 0) and go through the ISA GEMM.
#include <cstring>

#include "ops_qs8.h"

namespace mn {

namespace {

size_t im2col_stride(const QStepDesc& s) { return (s.kernel * s.kernel * s.inC + 3) / 4 * 4; }

// Pixels per block: about 8 KB of patches, whole tiles.
size_t conv_block(const QKernels& kt, size_t stride) {
  size_t block = 8192 / stride;
  block = block < kt.gemm_mr ? kt.gemm_mr : block > 256 ? 256 : block;
  return block / kt.gemm_mr * kt.gemm_mr;
}

// The patches of output pixels [p, p + count) into dst, rows `stride` bytes apart.
void patches(const QStepDesc& s, const int8_t* in, size_t p, size_t count, int8_t* dst, size_t stride) {
  const size_t k = s.kernel, C = s.inC, run = k * C;
  size_t oy = p / s.outW, ox = p % s.outW;
  for (size_t i = 0; i < count; ++i, dst += stride) {
    const ptrdiff_t iy0 = (ptrdiff_t)(oy * s.stride) - (ptrdiff_t)s.padTop;
    const ptrdiff_t ix0 = (ptrdiff_t)(ox * s.stride) - (ptrdiff_t)s.padLeft;
    const bool inX = ix0 >= 0 && ix0 + (ptrdiff_t)k <= (ptrdiff_t)s.inW;
    int8_t* d = dst;
    for (size_t ky = 0; ky < k; ++ky, d += run) {
      const ptrdiff_t iy = iy0 + (ptrdiff_t)ky;
      if (iy < 0 || iy >= (ptrdiff_t)s.inH) {
        std::memset(d, s.pad, run);
        continue;
      }
      const int8_t* src = in + ((size_t)iy * s.inW) * C;
      if (inX && run <= 16) {
        // The stem's 9 bytes: one fixed 16-byte copy (the excess is overwritten by the next tap
        // row or pixel, or lands in the row's padding / the scratch slack; the read stays in the
        // arena's slack at worst).
        std::memcpy(d, src + (size_t)ix0 * C, 16);
      } else if (inX) {
        std::memcpy(d, src + (size_t)ix0 * C, run);
      } else {
        for (size_t kx = 0; kx < k; ++kx) {
          const ptrdiff_t ix = ix0 + (ptrdiff_t)kx;
          if (ix < 0 || ix >= (ptrdiff_t)s.inW)
            std::memset(d + kx * C, s.pad, C);
          else
            std::memcpy(d + kx * C, src + (size_t)ix * C, C);
        }
      }
    }
    if (++ox == s.outW) {
      ox = 0;
      ++oy;
    }
  }
}

}  // namespace

size_t qconv2d_scratch_bytes(const QKernels& kt, const QStepDesc& s) {
  const size_t stride = im2col_stride(s);
  const size_t block = conv_block(kt, stride);
  return checked_add(round64(checked_add(checked_mul(block, stride), 16)), round64(checked_mul(block, 4)));
}

void qrun_conv2d(const QExecContext& ctx, const QStepDesc& s, int8_t* arena) {
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  const QKernels& kt = *ctx.k;
  const QGemmPart& g = s.gemm0;
  const size_t K = s.kernel * s.kernel * s.inC, stride = im2col_stride(s);
  const size_t M = s.outH * s.outW, N = s.outC, mr = kt.gemm_mr;
  const size_t block = conv_block(kt, stride);
  const size_t units = (M + mr - 1) / mr;
  parallel_for(*ctx.pool, units, grain_for(*ctx.pool, units, 8, block / mr), [&](size_t tid, size_t u0, size_t u1) {
    int8_t* cols = reinterpret_cast<int8_t*>(ctx.scratch[tid]);
    int32_t* rc = reinterpret_cast<int32_t*>(ctx.scratch[tid] + round64(block * stride + 16));
    const size_t m1 = u1 * mr < M ? u1 * mr : M;
    for (size_t m0 = u0 * mr; m0 < m1; m0 += block) {
      const size_t mb = m1 - m0 < block ? m1 - m0 : block;
      patches(s, in, m0, mb, cols, stride);
      if (g.rowcorrMult != 0) kt.rowsum(mb, K, cols, stride, g.rowcorrMult, rc);
      kt.gemm(mb, N, K, cols, stride, g.w, g.wStride, g.rowcorrMult != 0 ? rc : nullptr,
              out + m0 * N, N, &g.out);
    }
  });
}

}  // namespace mn
