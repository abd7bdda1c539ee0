// AVX-512 VNNI int8 3x3 depthwise (format S8Taps4). Building a row interleaves, per output pixel
// and channel, the three input bytes of a kernel row (flipped to x + 128) with a zero: then one
// vpdpbusd per kernel row and weight set does three taps of 16 channels, and each input row is
// built once for the (up to three) output rows that read it.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"
#include "requant_avx512vnni.h"

namespace mn {
namespace {

const size_t kCB = 16;

// A tap's 64 channels as interleave64 wants them, from a 64-byte load: 4-byte groups transposed
// across the 128-bit lanes (lane l: channels 4l..4l+3, 16+4l.., 32+4l.., 48+4l..), then flipped to
// x + 128. One permute per tap replaces the 4 x 4 lane transpose of the three interleaved taps.
inline __m512i tap_lanes(__m512i t) {
  const __m512i transpose = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  return _mm512_xor_si512(_mm512_permutexvar_epi32(transpose, t), _mm512_set1_epi8((char)0x80));
}

// Three taps from tap_lanes -> four vectors of 16 channels x [t0, t1, t2, 0]: out[v] holds channels
// 16v .. 16v + 15 (the unpacks work within 128-bit lanes, which tap_lanes arranged for that).
inline void interleave64(__m512i t0, __m512i t1, __m512i t2, __m512i out[4]) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i aLo = _mm512_unpacklo_epi8(t0, t1), aHi = _mm512_unpackhi_epi8(t0, t1);
  const __m512i bLo = _mm512_unpacklo_epi8(t2, zero), bHi = _mm512_unpackhi_epi8(t2, zero);
  out[0] = _mm512_unpacklo_epi16(aLo, bLo);
  out[1] = _mm512_unpackhi_epi16(aLo, bLo);
  out[2] = _mm512_unpacklo_epi16(aHi, bHi);
  out[3] = _mm512_unpackhi_epi16(aHi, bHi);
}

inline void store16(int8_t* dst, __m128i v, __mmask16 mask, bool full) {
  if (full)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), v);
  else
    _mm_mask_storeu_epi8(dst, mask, v);
}

}  // namespace

void qdw_build_avx512vnni(const int8_t* in, size_t in_w, size_t stride, size_t pad_left, size_t out_w,
                          size_t channels, int8_t pad, int8_t* out) {
  const size_t C = channels, Cp = (C + 15) / 16 * 16, pixelBytes = Cp * 4;
  const __m512i padTap = _mm512_set1_epi8((char)(pad ^ 0x80));  // the same in every byte: no permute
  for (size_t c0 = 0; c0 < Cp; c0 += 64) {
    const size_t valid = C - c0 < 64 ? C - c0 : 64;
    const __mmask64 mask = valid == 64 ? ~(__mmask64)0 : (((__mmask64)1 << valid) - 1);
    const size_t nv = (Cp - c0 < 64 ? Cp - c0 : 64) / 16;
    auto tap = [&](ptrdiff_t p) {
      return in != nullptr && p >= 0 && p < (ptrdiff_t)in_w ? tap_lanes(_mm512_maskz_loadu_epi8(mask, in + (size_t)p * C + c0))
                                                            : padTap;
    };
    auto emit = [&](size_t x, __m512i t0, __m512i t1, __m512i t2) {
      __m512i v[4];
      interleave64(t0, t1, t2, v);
      int8_t* dst = out + x * pixelBytes + c0 * 4;
      for (size_t k = 0; k < nv; ++k) _mm512_storeu_si512(dst + 64 * k, v[k]);
    };
    const ptrdiff_t left = (ptrdiff_t)pad_left;
    if (stride == 1) {
      // Output x + 1 reads two of output x's taps: one new tap per pixel.
      __m512i t0 = tap(-left), t1 = tap(1 - left);
      for (size_t x = 0; x < out_w; ++x) {
        const __m512i t2 = tap((ptrdiff_t)x + 2 - left);
        emit(x, t0, t1, t2);
        t0 = t1;
        t1 = t2;
      }
    } else if (stride == 2) {
      __m512i t0 = tap(-left);
      for (size_t x = 0; x < out_w; ++x) {
        const ptrdiff_t p0 = (ptrdiff_t)(2 * x) - left;
        const __m512i t2 = tap(p0 + 2);
        emit(x, t0, tap(p0 + 1), t2);
        t0 = t2;
      }
    } else {
      for (size_t x = 0; x < out_w; ++x) {
        const ptrdiff_t p0 = (ptrdiff_t)(x * stride) - left;
        emit(x, tap(p0), tap(p0 + 1), tap(p0 + 2));
      }
    }
  }
}

namespace {

// One 16-channel block of an output row; SETS weight sets (compile-time: the weights stay in
// registers), FULL: all 16 channels real (else masked stores).
template <class Rq, int SETS, bool FULL>
void dw_block(const int8_t* r0, const int8_t* r1, const int8_t* r2, size_t pixelBytes, size_t out_w, size_t C,
              const uint8_t* blk, int8_t* out, const QOut& q, const Out16& o, __mmask16 mask) {
  const __m512i bias = _mm512_loadu_si512(blk);
  const Rq rq = Rq::load(blk, kCB, 0, q);
  const uint8_t* wt = blk + kCB * kQHeaderBytesPerChannel + 64;
  __m512i wk[3 * SETS];
#pragma GCC unroll 9
  for (int i = 0; i < 3 * SETS; ++i) wk[i] = _mm512_loadu_si512(wt + 64 * i);
  auto pixel = [&](size_t x) {
    const size_t at = x * pixelBytes;
    const __m512i x0 = _mm512_loadu_si512(r0 + at), x1 = _mm512_loadu_si512(r1 + at), x2 = _mm512_loadu_si512(r2 + at);
    __m512i acc = bias;
#pragma GCC unroll 3
    for (int s = 0; s < SETS; ++s) {
      acc = _mm512_dpbusd_epi32(acc, x0, wk[3 * s]);
      acc = _mm512_dpbusd_epi32(acc, x1, wk[3 * s + 1]);
      acc = _mm512_dpbusd_epi32(acc, x2, wk[3 * s + 2]);
    }
    return acc;
  };
  size_t x = 0;
  for (; x + 4 <= out_w; x += 4) {
    // Four pixels narrowed together: finish64 leaves pixel u's 16 channels in 128-bit lane u.
    const __m512i a0 = pixel(x), a1 = pixel(x + 1), a2 = pixel(x + 2), a3 = pixel(x + 3);
    const __m512i v = finish64(rq(a0), rq(a1), rq(a2), rq(a3), o);
    int8_t* dst = out + x * C;
    store16(dst, _mm512_castsi512_si128(v), mask, FULL);
    store16(dst + C, _mm512_extracti32x4_epi32(v, 1), mask, FULL);
    store16(dst + 2 * C, _mm512_extracti32x4_epi32(v, 2), mask, FULL);
    store16(dst + 3 * C, _mm512_extracti32x4_epi32(v, 3), mask, FULL);
  }
  for (; x < out_w; ++x) store16(out + x * C, finish16(rq(pixel(x)), o), mask, FULL);
}

typedef void (*BlockFn)(const int8_t*, const int8_t*, const int8_t*, size_t, size_t, size_t, const uint8_t*, int8_t*,
                        const QOut&, const Out16&, __mmask16);
template <class Rq>
struct Blocks {
  static constexpr BlockFn fn[3][2] = {{dw_block<Rq, 1, false>, dw_block<Rq, 1, true>},
                                       {dw_block<Rq, 2, false>, dw_block<Rq, 2, true>},
                                       {dw_block<Rq, 3, false>, dw_block<Rq, 3, true>}};
};

template <class Rq>
void dw3x3(const int8_t* const* rows, size_t out_w, size_t channels, const void* w, size_t w_stride, int8_t* out,
           const QOut* q) {
  const Out16 o = load_out16(*q);
  const size_t C = channels, pixelBytes = (C + 15) / 16 * 16 * 4;
  for (size_t c0 = 0; c0 < C; c0 += kCB) {
    const uint8_t* blk = static_cast<const uint8_t*>(w) + (c0 / kCB) * w_stride;
    const int32_t sets = *reinterpret_cast<const int32_t*>(blk + kCB * kQHeaderBytesPerChannel);
    const bool full = C - c0 >= kCB;
    const __mmask16 mask = full ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c0)) - 1u);
    Blocks<Rq>::fn[sets - 1][full](rows[0] + c0 * 4, rows[1] + c0 * 4, rows[2] + c0 * 4, pixelBytes, out_w, C, blk,
                                   out + c0, *q, o, mask);
  }
}

}  // namespace

void qdw3x3_avx512vnni(const int8_t* const* rows, size_t, size_t out_w, size_t channels, const void* w,
                       size_t w_stride, int8_t* out, const QOut* q) {
  dw3x3<FixedPoint16>(rows, out_w, channels, w, w_stride, out, q);
}

void qdw3x3_fp32_avx512vnni(const int8_t* const* rows, size_t, size_t out_w, size_t channels, const void* w,
                            size_t w_stride, int8_t* out, const QOut* q) {
  dw3x3<Fp32Requant16>(rows, out_w, channels, w, w_stride, out, q);
}

}  // namespace mn
