// int8 depthwise operator: threads split output rows; each row goes to the ISA's 3x3 row kernel
// (qdw_row: interior pixels straight from the input rows, border pixels through a small patch
// padded with the input zero point). Other kernel sizes take a plain loop (not used by MobileNet).
#include <cstring>

#include "ops_qs8.h"
#include "requant.h"

namespace mn {

void qdw_row(const QKernels& kt, const QDwPart& d, const int8_t* const in[3], size_t inW,
             size_t stride, size_t padLeft, size_t outW, int8_t* out, int8_t* patch) {
  const size_t C = d.channels;
  // Interior pixels: all three taps inside the row (x*stride >= padLeft, x*stride - padLeft + 2 < inW).
  size_t x0 = (padLeft + stride - 1) / stride;
  size_t x1 = inW + padLeft >= 3 ? (inW + padLeft - 3) / stride + 1 : 0;
  x1 = x1 < outW ? x1 : outW;
  x0 = x0 < x1 ? x0 : x1;
  if (x0 < x1) {
    const size_t at = (x0 * stride - padLeft) * C;
    const int8_t* rows[3] = {in[0] + at, in[1] + at, in[2] + at};
    kt.dw3x3(rows, stride, x1 - x0, C, d.w, d.wStride, out + x0 * C, &d.out);
  }
  auto border = [&](size_t x) {
    for (size_t ky = 0; ky < 3; ++ky)
      for (size_t kx = 0; kx < 3; ++kx) {
        const ptrdiff_t ix = (ptrdiff_t)(x * stride + kx) - (ptrdiff_t)padLeft;
        int8_t* dst = patch + (ky * 3 + kx) * C;
        if (ix >= 0 && ix < (ptrdiff_t)inW)
          std::memcpy(dst, in[ky] + (size_t)ix * C, C);
        else
          std::memset(dst, d.pad, C);
      }
    const int8_t* rows[3] = {patch, patch + 3 * C, patch + 6 * C};
    kt.dw3x3(rows, 1, 1, C, d.w, d.wStride, out + x * C, &d.out);
  };
  for (size_t x = 0; x < x0; ++x) border(x);
  for (size_t x = x1; x < outW; ++x) border(x);
}

namespace {

// Kernel sizes other than 3: Σ over the taps inside the image of (w - w_zp)(x - x_zp), as ops.ts.
void depthwise_raw(const QExecContext& ctx, const QStepDesc& s, const int8_t* in, int8_t* out) {
  const size_t C = s.inC, k = s.kernel;
  const int16_t* w = reinterpret_cast<const int16_t*>(s.dw.w);
  const int32_t* bias = reinterpret_cast<const int32_t*>(s.dw.w + round64(k * k * C * 2));
  const int32_t* mult = bias + round64(C * 4) / 4;
  const int32_t* shift = mult + round64(C * 4) / 4;
  const int32_t xzp = s.dw.pad;
  parallel_for(*ctx.pool, s.outH, grain_for(*ctx.pool, s.outH, 8), [&](size_t, size_t y0, size_t y1) {
    for (size_t oy = y0; oy < y1; ++oy)
      for (size_t ox = 0; ox < s.outW; ++ox)
        for (size_t c = 0; c < C; ++c) {
          uint32_t acc = (uint32_t)bias[c];
          for (size_t ky = 0; ky < k; ++ky) {
            const ptrdiff_t iy = (ptrdiff_t)(oy * s.stride + ky) - (ptrdiff_t)s.padTop;
            if (iy < 0 || iy >= (ptrdiff_t)s.inH) continue;
            for (size_t kx = 0; kx < k; ++kx) {
              const ptrdiff_t ix = (ptrdiff_t)(ox * s.stride + kx) - (ptrdiff_t)s.padLeft;
              if (ix < 0 || ix >= (ptrdiff_t)s.inW) continue;
              const int32_t x = in[((size_t)iy * s.inW + (size_t)ix) * C + c];
              acc += (uint32_t)(w[(ky * k + kx) * C + c] * (x - xzp));
            }
          }
          out[(oy * s.outW + ox) * C + c] = clamp_out(mbqm((int32_t)acc, mult[c], shift[c]), s.dw.out);
        }
  });
}

}  // namespace

void qrun_depthwise(const QExecContext& ctx, const QStepDesc& s, int8_t* arena) {
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  if (s.kernel != 3) {
    depthwise_raw(ctx, s, in, out);
    return;
  }
  const size_t C = s.inC;
  parallel_for(*ctx.pool, s.outH, grain_for(*ctx.pool, s.outH, 8), [&](size_t tid, size_t y0, size_t y1) {
    int8_t* patch = reinterpret_cast<int8_t*>(ctx.scratch[tid]);
    for (size_t oy = y0; oy < y1; ++oy) {
      const int8_t* rows[3];
      for (size_t ky = 0; ky < 3; ++ky) {
        const ptrdiff_t iy = (ptrdiff_t)(oy * s.stride + ky) - (ptrdiff_t)s.padTop;
        rows[ky] = iy < 0 || iy >= (ptrdiff_t)s.inH ? reinterpret_cast<const int8_t*>(s.dw.padRow) : in + (size_t)iy * s.inW * C;
      }
      qdw_row(*ctx.k, s.dw, rows, s.inW, s.stride, s.padLeft, s.outW, out + oy * s.outW * C, patch);
    }
  });
}

}  // namespace mn
