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

// 64 channels of the three taps (x ^ 0x80) -> four vectors of 16 channels x [t0, t1, t2, 0].
inline void interleave64(__m512i t0, __m512i t1, __m512i t2, __m512i out[4]) {
  const __m512i flip = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
  t0 = _mm512_xor_si512(t0, flip);
  t1 = _mm512_xor_si512(t1, flip);
  t2 = _mm512_xor_si512(t2, flip);
  const __m512i aLo = _mm512_unpacklo_epi8(t0, t1), aHi = _mm512_unpackhi_epi8(t0, t1);
  const __m512i bLo = _mm512_unpacklo_epi8(t2, zero), bHi = _mm512_unpackhi_epi8(t2, zero);
  // r_k, 128-bit lane l: channels 16l + 4k .. 16l + 4k + 3.
  const __m512i r0 = _mm512_unpacklo_epi16(aLo, bLo), r1 = _mm512_unpackhi_epi16(aLo, bLo);
  const __m512i r2 = _mm512_unpacklo_epi16(aHi, bHi), r3 = _mm512_unpackhi_epi16(aHi, bHi);
  // Transpose the 4 x 4 lanes: out[l] = lane l of r0, r1, r2, r3 = channels 16l .. 16l + 15.
  const __m512i s0 = _mm512_shuffle_i32x4(r0, r1, 0x44), s1 = _mm512_shuffle_i32x4(r0, r1, 0xEE);
  const __m512i s2 = _mm512_shuffle_i32x4(r2, r3, 0x44), s3 = _mm512_shuffle_i32x4(r2, r3, 0xEE);
  out[0] = _mm512_shuffle_i32x4(s0, s2, 0x88);
  out[1] = _mm512_shuffle_i32x4(s0, s2, 0xDD);
  out[2] = _mm512_shuffle_i32x4(s1, s3, 0x88);
  out[3] = _mm512_shuffle_i32x4(s1, s3, 0xDD);
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
  const __m512i padv = _mm512_set1_epi8(pad);
  for (size_t c0 = 0; c0 < Cp; c0 += 64) {
    const size_t valid = C - c0 < 64 ? C - c0 : 64;
    const __mmask64 mask = valid == 64 ? ~(__mmask64)0 : (((__mmask64)1 << valid) - 1);
    const size_t nv = (Cp - c0 < 64 ? Cp - c0 : 64) / 16;
    for (size_t x = 0; x < out_w; ++x) {
      const ptrdiff_t p0 = (ptrdiff_t)(x * stride) - (ptrdiff_t)pad_left;
      __m512i t[3];
      for (int kx = 0; kx < 3; ++kx) {
        const ptrdiff_t p = p0 + kx;
        t[kx] = in != nullptr && p >= 0 && p < (ptrdiff_t)in_w
                    ? _mm512_maskz_loadu_epi8(mask, in + (size_t)p * C + c0)
                    : padv;
      }
      __m512i v[4];
      interleave64(t[0], t[1], t[2], v);
      int8_t* dst = out + x * pixelBytes + c0 * 4;
      for (size_t k = 0; k < nv; ++k) _mm512_storeu_si512(dst + 64 * k, v[k]);
    }
  }
}

namespace {

// One 16-channel block of an output row; SETS weight sets (compile-time: the weights stay in
// registers), FULL: all 16 channels real (else masked stores).
template <int SETS, bool FULL>
void dw_block(const int8_t* r0, const int8_t* r1, const int8_t* r2, size_t pixelBytes, size_t out_w, size_t C,
              const uint8_t* blk, int8_t* out, const Out16& o, __mmask16 mask) {
  const __m512i bias = _mm512_loadu_si512(blk);
  const Rq16 rq = load_rq16(blk, kCB, 0);
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
    const __m512i v = finish64(requant16(a0, rq), requant16(a1, rq), requant16(a2, rq), requant16(a3, rq), o);
    int8_t* dst = out + x * C;
    store16(dst, _mm512_castsi512_si128(v), mask, FULL);
    store16(dst + C, _mm512_extracti32x4_epi32(v, 1), mask, FULL);
    store16(dst + 2 * C, _mm512_extracti32x4_epi32(v, 2), mask, FULL);
    store16(dst + 3 * C, _mm512_extracti32x4_epi32(v, 3), mask, FULL);
  }
  for (; x < out_w; ++x) store16(out + x * C, finish16(requant16(pixel(x), rq), o), mask, FULL);
}

typedef void (*BlockFn)(const int8_t*, const int8_t*, const int8_t*, size_t, size_t, size_t, const uint8_t*, int8_t*,
                        const Out16&, __mmask16);
const BlockFn kBlocks[3][2] = {{dw_block<1, false>, dw_block<1, true>},
                               {dw_block<2, false>, dw_block<2, true>},
                               {dw_block<3, false>, dw_block<3, true>}};

}  // namespace

void qdw3x3_avx512vnni(const int8_t* const* rows, size_t, size_t out_w, size_t channels, const void* w,
                       size_t w_stride, int8_t* out, const QOut* q) {
  const Out16 o = load_out16(*q);
  const size_t C = channels, pixelBytes = (C + 15) / 16 * 16 * 4;
  for (size_t c0 = 0; c0 < C; c0 += kCB) {
    const uint8_t* blk = static_cast<const uint8_t*>(w) + (c0 / kCB) * w_stride;
    const int32_t sets = *reinterpret_cast<const int32_t*>(blk + kCB * kQHeaderBytesPerChannel);
    const bool full = C - c0 >= kCB;
    const __mmask16 mask = full ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c0)) - 1u);
    kBlocks[sets - 1][full](rows[0] + c0 * 4, rows[1] + c0 * 4, rows[2] + c0 * 4, pixelBytes, out_w, C, blk,
                            out + c0, o, mask);
  }
}

}  // namespace mn
