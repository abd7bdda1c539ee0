// int8 full convolution (the stem): blocks of output pixels are im2col'd into the thread's scratch
// (rows of k*k*inC bytes, padded to a multiple of 4, taps outside the image holding the input zero
// point so that their (x - x_zp) is 0) and go through the ISA GEMM.
#include <algorithm>
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

// The patch of output pixel (oy, ox) into dst, tap by tap (any pixel; used at the borders).
void patch_taps(const QStepDesc& s, const int8_t* in, size_t oy, size_t ox, int8_t* dst) {
  const size_t k = s.kernel, C = s.inC;
  for (size_t ky = 0; ky < k; ++ky)
    for (size_t kx = 0; kx < k; ++kx, dst += C) {
      const ptrdiff_t iy = (ptrdiff_t)(oy * s.stride + ky) - (ptrdiff_t)s.padTop;
      const ptrdiff_t ix = (ptrdiff_t)(ox * s.stride + kx) - (ptrdiff_t)s.padLeft;
      if (iy < 0 || iy >= (ptrdiff_t)s.inH || ix < 0 || ix >= (ptrdiff_t)s.inW)
        std::memset(dst, s.pad, C);
      else
        std::memcpy(dst, in + ((size_t)iy * s.inW + (size_t)ix) * C, C);
    }
}

// The patches of output pixels [p, p + count) into dst, rows `stride` bytes apart. Pixels whose
// k x k window lies inside the image copy k runs of k * C bytes; the stem's 9-byte runs as fixed
// 16-byte copies (the excess is overwritten by the next run or pixel, or lands in the row's padding
// or the scratch slack; the read stays within the arena's slack at worst).
void patches(const QStepDesc& s, const int8_t* in, size_t p, size_t count, int8_t* dst, size_t stride) {
  const size_t k = s.kernel, C = s.inC, run = k * C, rowBytes = s.inW * C;
  // Output columns whose window is inside the image horizontally: [xlo, xhi).
  const size_t xlo = (s.padLeft + s.stride - 1) / s.stride;
  const size_t xhi = s.inW + s.padLeft >= k ? std::min(s.outW, (s.inW + s.padLeft - k) / s.stride + 1) : 0;
  for (size_t end = p + count; p < end;) {
    const size_t oy = p / s.outW, ox0 = p % s.outW;
    const size_t ox1 = std::min(s.outW, ox0 + (end - p));
    const ptrdiff_t iy0 = (ptrdiff_t)(oy * s.stride) - (ptrdiff_t)s.padTop;
    const bool inY = iy0 >= 0 && iy0 + (ptrdiff_t)k <= (ptrdiff_t)s.inH;
    for (size_t ox = ox0; ox < ox1; ++ox, dst += stride) {
      if (!inY || ox < xlo || ox >= xhi) {
        patch_taps(s, in, oy, ox, dst);
        continue;
      }
      const int8_t* src = in + (size_t)iy0 * rowBytes + (ox * s.stride - s.padLeft) * C;
      if (run <= 16) {
        for (size_t ky = 0; ky < k; ++ky) std::memcpy(dst + ky * run, src + ky * rowBytes, 16);
      } else {
        for (size_t ky = 0; ky < k; ++ky) std::memcpy(dst + ky * run, src + ky * rowBytes, run);
      }
    }
    p += ox1 - ox0;
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
      if (g.rowcorr) kt.rowsum(mb, K, cols, stride, g.rowcorrMult, rc);
      g.fn(mb, N, K, cols, stride, g.w, g.wStride, g.rowcorr ? rc : nullptr,
              out + m0 * N, N, &g.out);
    }
  });
}

}  // namespace mn
