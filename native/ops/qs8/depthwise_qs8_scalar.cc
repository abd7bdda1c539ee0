// Portable int8 3x3 depthwise row kernel (format I16: centered int16 weights, the input zero point
// in the bias), in both requantization schemes (requant.h's header policies).
#include "../../kernels_qs8.h"
#include "requant.h"

namespace mn {
namespace {

template <class Requant>
MN_NOINLINE void dw3x3(const int8_t* const* rows, size_t stride, size_t out_w, size_t channels, const void* w,
           size_t w_stride, int8_t* out, const QOut* q) {
  const size_t cb = 8;
  for (size_t c0 = 0; c0 < channels; c0 += cb) {
    const uint8_t* blk = static_cast<const uint8_t*>(w) + (c0 / cb) * w_stride;
    const int32_t* bias = reinterpret_cast<const int32_t*>(blk);
    const Requant requant(blk, cb, *q);
    const int16_t* wt = reinterpret_cast<const int16_t*>(blk + cb * kQHeaderBytesPerChannel);
    const size_t count = channels - c0 < cb ? channels - c0 : cb;
    for (size_t x = 0; x < out_w; ++x) {
      for (size_t j = 0; j < count; ++j) {
        uint32_t acc = (uint32_t)bias[j];
        for (size_t ky = 0; ky < 3; ++ky) {
          const int8_t* px = rows[ky] + (x * stride) * channels + c0 + j;
          for (size_t kx = 0; kx < 3; ++kx)
            acc += (uint32_t)(wt[(ky * 3 + kx) * cb + j] * px[kx * channels]);
        }
        out[x * channels + c0 + j] = requant((int32_t)acc, j, *q);
      }
    }
  }
}

}  // namespace

void qdw3x3_scalar(const int8_t* const* rows, size_t stride, size_t out_w, size_t channels,
                   const void* w, size_t w_stride, int8_t* out, const QOut* q) {
  dw3x3<FixedPointHeader>(rows, stride, out_w, channels, w, w_stride, out, q);
}

void qdw3x3_fp32_scalar(const int8_t* const* rows, size_t stride, size_t out_w, size_t channels,
                        const void* w, size_t w_stride, int8_t* out, const QOut* q) {
  const NearestRounding nearest;
  dw3x3<Fp32Header>(rows, stride, out_w, channels, w, w_stride, out, q);
}

}  // namespace mn
