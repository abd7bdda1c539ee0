// AVX2 int8 3x3 depthwise row kernel (format I16Z32): 8 channels per block; each tap sign-extends
// 8 inputs to int32 lanes and vpmaddwd multiplies their low halves by the int16 weights (the zero
// high halves drop the sign bits). Two output pixels at a time.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"
#include "requant_avx2.h"

namespace mn {
namespace {

const size_t kCB = 8;

inline __m256i load8(const int8_t* p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

inline __m256i pixel(const int8_t* r0, const int8_t* r1, const int8_t* r2, size_t C, __m256i acc,
                     const __m256i* w) {
  const int8_t* rows[3] = {r0, r1, r2};
  for (int ky = 0; ky < 3; ++ky)
    for (int kx = 0; kx < 3; ++kx)
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(load8(rows[ky] + kx * C), w[ky * 3 + kx]));
  return acc;
}

inline void store8(int8_t* dst, __m128i v, size_t count) {
  if (count == kCB)
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), v);
  else
    store_partial(dst, v, count);
}

template <class Rq>
__attribute__((noinline)) void dw3x3(const int8_t* const* rows, size_t stride, size_t out_w, size_t channels, const void* w,
           size_t w_stride, int8_t* out, const QOut* q) {
  const Out8 o = load_out8(*q);
  const size_t C = channels, step = stride * channels;
  for (size_t c0 = 0; c0 < channels; c0 += kCB) {
    const uint8_t* blk = static_cast<const uint8_t*>(w) + (c0 / kCB) * w_stride;
    const size_t count = channels - c0 < kCB ? channels - c0 : kCB;
    const __m256i bias = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk));
    const Rq rq = Rq::load(blk, kCB, 0, *q);
    __m256i wt[9];
    for (int t = 0; t < 9; ++t)
      wt[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kCB * kQHeaderBytesPerChannel + 32 * t));
    const int8_t* r0 = rows[0] + c0;
    const int8_t* r1 = rows[1] + c0;
    const int8_t* r2 = rows[2] + c0;
    size_t x = 0;
    for (; x + 2 <= out_w; x += 2) {
      const size_t at = x * step;
      const __m256i s0 = pixel(r0 + at, r1 + at, r2 + at, C, bias, wt);
      const __m256i s1 = pixel(r0 + at + step, r1 + at + step, r2 + at + step, C, bias, wt);
      store8(out + x * C + c0, narrow8(clamp8(rq(s0), o)), count);
      store8(out + (x + 1) * C + c0, narrow8(clamp8(rq(s1), o)), count);
    }
    for (; x < out_w; ++x) {
      const size_t at = x * step;
      const __m256i s = pixel(r0 + at, r1 + at, r2 + at, C, bias, wt);
      store8(out + x * C + c0, narrow8(clamp8(rq(s), o)), count);
    }
  }
}

}  // namespace

void qdw3x3_avx2(const int8_t* const* rows, size_t stride, size_t out_w, size_t channels,
                 const void* w, size_t w_stride, int8_t* out, const QOut* q) {
  dw3x3<FixedPoint8>(rows, stride, out_w, channels, w, w_stride, out, q);
}

void qdw3x3_fp32_avx2(const int8_t* const* rows, size_t stride, size_t out_w, size_t channels,
                      const void* w, size_t w_stride, int8_t* out, const QOut* q) {
  const NearestRounding nearest;
  dw3x3<Fp32Requant8>(rows, stride, out_w, channels, w, w_stride, out, q);
}

}  // namespace mn
