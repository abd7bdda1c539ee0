// AVX-512 requantization of 16 int32 lanes (kernels_qs8.h's header form), private to the
// *_qs8_avx512vnni.cc files: everything here has internal linkage, so no copy compiled with
// AVX-512 flags can be picked for generic code.
#pragma once

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"

namespace mn {
namespace {

// The constants of 16 channels: multiplier (even lanes read by vpmuldq; odd ones shifted down),
// left shifts, and the lane-split int64 nudge / sign mask / right shift of even and odd channels.
struct Rq16 {
  __m512i mult, multOdd, left, nudgeE, nudgeO, negE, negO, shrE, shrO;
  bool hasLeft;
};

// Channels [16 * group, 16 * group + 16) of a header of nr channels.
inline Rq16 load_rq16(const void* header, size_t nr, size_t group) {
  const int32_t* mult = static_cast<const int32_t*>(header) + nr + 16 * group;
  const int32_t* left = mult + nr;
  const int64_t* nudge = reinterpret_cast<const int64_t*>(static_cast<const int32_t*>(header) + 4 * nr) + 16 * group;
  const int64_t* neg = nudge + nr;
  const int64_t* shr = neg + nr;
  Rq16 r;
  r.mult = _mm512_loadu_si512(mult);
  r.multOdd = _mm512_srli_epi64(r.mult, 32);
  r.left = _mm512_loadu_si512(left);
  r.hasLeft = _mm512_test_epi32_mask(r.left, r.left) != 0;
  r.nudgeE = _mm512_loadu_si512(nudge);
  r.nudgeO = _mm512_loadu_si512(nudge + 8);
  r.negE = _mm512_loadu_si512(neg);
  r.negO = _mm512_loadu_si512(neg + 8);
  r.shrE = _mm512_loadu_si512(shr);
  r.shrO = _mm512_loadu_si512(shr + 8);
  return r;
}

// The same requantization in every lane.
inline Rq16 broadcast_rq16(const QRequant& q) {
  Rq16 r;
  r.mult = r.multOdd = _mm512_set1_epi32(q.mult);
  r.left = _mm512_set1_epi32(q.left);
  r.hasLeft = q.left != 0;
  r.nudgeE = r.nudgeO = _mm512_set1_epi64(q.nudge);
  r.negE = r.negO = _mm512_set1_epi64(q.neg);
  r.shrE = r.shrO = _mm512_set1_epi64(q.shr);
  return r;
}

// (a * M + nudge - (a < 0 ? neg : 0)) >> shr per lane, a = acc << left: even lanes in the low
// halves of the 64-bit products, odd lanes copied down into them (in-lane shuffles, which leave
// the shift units to the 64-bit shifts), and the odd results shuffled back up.
inline __m512i requant16(__m512i acc, const Rq16& r) {
  const __m512i a = r.hasLeft ? _mm512_sllv_epi32(acc, r.left) : acc;
  const __m512i ao = _mm512_shuffle_epi32(a, _MM_PERM_DDBB);
  __m512i pe = _mm512_mul_epi32(a, r.mult);
  __m512i po = _mm512_mul_epi32(ao, r.multOdd);
  pe = _mm512_sub_epi64(_mm512_add_epi64(pe, r.nudgeE), _mm512_and_si512(a, r.negE));
  po = _mm512_sub_epi64(_mm512_add_epi64(po, r.nudgeO), _mm512_and_si512(ao, r.negO));
  pe = _mm512_srav_epi64(pe, r.shrE);
  po = _mm512_srav_epi64(po, r.shrO);
  return _mm512_mask_shuffle_epi32(pe, 0xAAAA, po, _MM_PERM_CCAA);
}

// The two requantization schemes as policies of the kernels (kernels_qs8.h): the constants of 16
// channels of a header, loaded once, applied to accumulators. Results are int32 lanes for the
// clamps of finish64 / finish16.
struct FixedPoint16 {
  Rq16 rq;
  static FixedPoint16 load(const void* header, size_t nr, size_t group, const QOut&) {
    return FixedPoint16{load_rq16(header, nr, group)};
  }
  __m512i operator()(__m512i acc) const { return requant16(acc, rq); }
};

// XNNPACK's: rint(float32(float32(acc) * scale)) with explicit round-to-nearest-even on every
// operation (independent of MXCSR), the product clamped above in float (beyond int32 the
// conversion gives INT32_MIN, which the integer clamp after takes to the lower bound as it should).
struct Fp32Requant16 {
  __m512 scale, hi;
  static Fp32Requant16 load(const void* header, size_t nr, size_t group, const QOut& q) {
    const float* scale = reinterpret_cast<const float*>(static_cast<const int32_t*>(header) + nr) + 16 * group;
    return Fp32Requant16{_mm512_loadu_ps(scale), _mm512_set1_ps((float)q.hi)};
  }
  __m512i operator()(__m512i acc) const {
    const __m512 f = _mm512_cvt_roundepi32_ps(acc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 p = _mm512_mul_round_ps(f, scale, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_cvt_roundps_epi32(_mm512_min_ps(p, hi), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
};

// The step's clamp and zero point, applied to requantized lanes: as int32 (lo, hi: bounds minus
// the zero point) or, for 64 outputs at once, as int16 / int8 (zero16; lo8, hi8: the bounds).
struct Out16 {
  __m512i lo, hi, zero, zero16, lo8, hi8;
};

inline Out16 load_out16(const QOut& q) {
  return Out16{_mm512_set1_epi32(q.lo), _mm512_set1_epi32(q.hi), _mm512_set1_epi32(q.zero),
               _mm512_set1_epi16((short)q.zero), _mm512_set1_epi8((char)(q.lo + q.zero)),
               _mm512_set1_epi8((char)(q.hi + q.zero))};
}

// Four vectors of requantized lanes -> 64 int8, r0's 16 first. Saturating packs keep the order of
// the clamps exact: an int16-saturated value plus the zero point is still beyond any int8 bound
// when the true one is, and the final clamp to [lo, hi] ⊂ [-128, 127] absorbs the int8 saturation.
inline __m512i finish64(__m512i r0, __m512i r1, __m512i r2, __m512i r3, const Out16& o) {
  const __m512i w01 = _mm512_adds_epi16(_mm512_packs_epi32(r0, r1), o.zero16);
  const __m512i w23 = _mm512_adds_epi16(_mm512_packs_epi32(r2, r3), o.zero16);
  const __m512i b = _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(w01, w23), o.lo8), o.hi8);
  // Per 128-bit lane L the packs leave dwords r0[4L..4L+3], r1[..], r2[..], r3[..].
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  return _mm512_permutexvar_epi32(order, b);
}

// Requantized lanes -> 16 int8 (clamped before the zero point is added: no overflow).
inline __m128i finish16(__m512i r, const Out16& o) {
  r = _mm512_min_epi32(_mm512_max_epi32(r, o.lo), o.hi);
  return _mm512_cvtepi32_epi8(_mm512_add_epi32(r, o.zero));
}

}  // namespace
}  // namespace mn
