// NEON int8 3x3 depthwise row kernel (format I16, Padded rows): 8 channels per block, inputs widened
// to int16 and multiplied into int32 accumulators (vmlal); both requantization schemes.
#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"
#include "requant_neon.h"

namespace mn {
namespace {

template <class Rq>
__attribute__((noinline)) void dw3x3(const int8_t* const* rows, size_t stride, size_t out_w, size_t channels, const void* w,
           size_t w_stride, int8_t* out, const QOut* q) {
  const size_t cb = 8, C = channels, step = stride * channels;
  const Out4 o = load_out4(*q);
  for (size_t c0 = 0; c0 < C; c0 += cb) {
    const uint8_t* blk = static_cast<const uint8_t*>(w) + (c0 / cb) * w_stride;
    const size_t count = C - c0 < cb ? C - c0 : cb;
    const int32_t* bias = reinterpret_cast<const int32_t*>(blk);
    const int32x4_t b0 = vld1q_s32(bias), b1 = vld1q_s32(bias + 4);
    const Rq r0 = Rq::load(blk, cb, 0, *q), r1 = Rq::load(blk, cb, 1, *q);
    const int16_t* wt = reinterpret_cast<const int16_t*>(blk + cb * kQHeaderBytesPerChannel);
    int16x8_t wv[9];
    for (int t = 0; t < 9; ++t) wv[t] = vld1q_s16(wt + t * cb);
    for (size_t x = 0; x < out_w; ++x) {
      int32x4_t lo = b0, hi = b1;
      for (int ky = 0; ky < 3; ++ky) {
        const int8_t* p = rows[ky] + x * step + c0;
        for (int kx = 0; kx < 3; ++kx) {
          const int16x8_t xv = vmovl_s8(vld1_s8(p + kx * C));
          lo = vmlal_s16(lo, vget_low_s16(xv), vget_low_s16(wv[ky * 3 + kx]));
          hi = vmlal_high_s16(hi, xv, wv[ky * 3 + kx]);
        }
      }
      store8(out + x * C + c0, finish8(r0(lo), r1(hi), o), count);
    }
  }
}

}  // namespace

void qdw3x3_neon(const int8_t* const* rows, size_t stride, size_t out_w, size_t channels, const void* w,
                 size_t w_stride, int8_t* out, const QOut* q) {
  dw3x3<FixedPoint4>(rows, stride, out_w, channels, w, w_stride, out, q);
}

void qdw3x3_fp32_neon(const int8_t* const* rows, size_t stride, size_t out_w, size_t channels, const void* w,
                      size_t w_stride, int8_t* out, const QOut* q) {
  const NearestRounding nearest;
  dw3x3<Fp32Requant4>(rows, stride, out_w, channels, w, w_stride, out, q);
}

}  // namespace mn
