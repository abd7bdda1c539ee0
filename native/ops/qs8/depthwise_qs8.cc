// int8 depthwise operator. 3x3 kernels run through the band engine of bottleneck_qs8.cc (a
// bottleneck without expand and project); this file builds the rows the 3x3 kernels read
// (kernels_qs8.h QDwFormat) and runs other kernel sizes with a plain loop (not used by MobileNet).
#include <cstring>

#include "ops_qs8.h"
#include "requant.h"

namespace mn {

namespace {

// Pixels of a Padded row: pad_left pad pixels, the input, and pad pixels up to the last tap read.
size_t padded_pixels(const QStepDesc& s) {
  const size_t needed = checked_add(checked_mul(s.outW - 1, s.stride), 3);
  const size_t have = checked_add(s.padLeft, s.inW);
  return needed > have ? needed : have;
}

}  // namespace

size_t qdw_built_bytes(const QKernels& kt, const QStepDesc& s) {
  const size_t C = s.expandC;
  if (kt.dw_format == QDwFormat::S8Taps4) return checked_mul({s.outW, (C + 15) / 16 * 16, 4});
  return checked_mul(padded_pixels(s), C);
}

void qdw_build(const QKernels& kt, const QStepDesc& s, const int8_t* in, int8_t* out) {
  const size_t C = s.expandC;
  if (kt.dw_format == QDwFormat::S8Taps4) {
    kt.dw_build(in, s.inW, s.stride, s.padLeft, s.outW, C, s.dw.pad, out);
    return;
  }
  const size_t left = s.padLeft * C, row = s.inW * C, total = padded_pixels(s) * C;
  if (in == nullptr) {
    std::memset(out, s.dw.pad, total);
    return;
  }
  std::memset(out, s.dw.pad, left);
  std::memcpy(out + left, in, row);
  std::memset(out + left + row, s.dw.pad, total - left - row);
}

namespace {

// A depthwise of another kernel size (not used by MobileNet) as a plain loop: Σ over the taps inside
// the image of (w - w_zp)(x - x_zp), as ops.ts; requant(acc, c) in the plan's scheme, with a Guard
// held by each thread's job (NearestRounding for the float scheme).
template <class Guard, class Requant>
void raw_depthwise(const QExecContext& ctx, const QStepDesc& s, int8_t* arena, const Requant& requant) {
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  const size_t C = s.inC, k = s.kernel;
  const int16_t* w = reinterpret_cast<const int16_t*>(s.dw.w);
  const int32_t* bias = reinterpret_cast<const int32_t*>(s.dw.w + round64(k * k * C * 2));
  const int32_t xzp = s.dw.pad;
  parallel_for(*ctx.pool, s.outH, grain_for(*ctx.pool, s.outH, 8), [&](size_t, size_t y0, size_t y1) {
    [[maybe_unused]] const Guard guard{};
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
          out[(oy * s.outW + ox) * C + c] = requant((int32_t)acc, c);
        }
  });
}

struct NoGuard {};

}  // namespace

void qrun_depthwise(const QExecContext& ctx, const QStepDesc& s, int8_t* arena) {
  if (s.kernel == 3) {
    qrun_bottleneck(ctx, s, arena);
    return;
  }
  const size_t C = s.inC, k = s.kernel;
  const int32_t* mult = reinterpret_cast<const int32_t*>(s.dw.w + round64(k * k * C * 2) + round64(C * 4));
  const int32_t* shift = mult + round64(C * 4) / 4;
  const QOut& q = s.dw.out;
  if (s.dw.fp32) {
    const float* scale = reinterpret_cast<const float*>(mult);  // the 'xnnpack' scheme's, in mult's place
    raw_depthwise<NearestRounding>(ctx, s, arena,
                                   [&](int32_t acc, size_t c) { return (int8_t)(fp32_requant(acc, scale[c], q) + q.zero); });
  } else {
    raw_depthwise<NoGuard>(ctx, s, arena, [&](int32_t acc, size_t c) { return clamp_out(mbqm(acc, mult[c], shift[c]), q); });
  }
}

}  // namespace mn
