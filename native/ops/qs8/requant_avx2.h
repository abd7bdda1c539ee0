// AVX2 requantization of 8 int32 lanes (kernels_qs8.h's header form), private to the
// *_qs8_avx2.cc files (internal linkage only). AVX2 has no 64-bit arithmetic shift: the 64-bit
// value is biased by 2^62 (non-negative then), shifted logically, and the bias's 2^(62 - shr)
// taken off again in 32 bits.
#pragma once

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"

namespace mn {
namespace {

struct Rq8 {
  __m256i mult, multOdd, left, nudgeE, nudgeO, negE, negO, shrE, shrO, post;
  bool hasLeft;
};

inline Rq8 finish_rq8(Rq8 r) {
  const __m256i bias = _mm256_set1_epi64x(int64_t(1) << 62);
  r.nudgeE = _mm256_add_epi64(r.nudgeE, bias);
  r.nudgeO = _mm256_add_epi64(r.nudgeO, bias);
  const __m256i one = _mm256_set1_epi64x(1), top = _mm256_set1_epi64x(62);
  const __m256i postE = _mm256_sllv_epi64(one, _mm256_sub_epi64(top, r.shrE));
  const __m256i postO = _mm256_sllv_epi64(one, _mm256_sub_epi64(top, r.shrO));
  r.post = _mm256_blend_epi32(postE, _mm256_slli_epi64(postO, 32), 0xAA);
  r.multOdd = _mm256_srli_epi64(r.mult, 32);
  r.hasLeft = !_mm256_testz_si256(r.left, r.left);
  return r;
}

// Channels [8 * group, 8 * group + 8) of a header of nr channels.
inline Rq8 load_rq8(const void* header, size_t nr, size_t group) {
  const int32_t* mult = static_cast<const int32_t*>(header) + nr + 8 * group;
  const int32_t* left = mult + nr;
  const int64_t* nudge = reinterpret_cast<const int64_t*>(static_cast<const int32_t*>(header) + 4 * nr) + 8 * group;
  const int64_t* neg = nudge + nr;
  const int64_t* shr = neg + nr;
  Rq8 r;
  r.mult = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mult));
  r.left = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(left));
  r.nudgeE = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(nudge));
  r.nudgeO = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(nudge + 4));
  r.negE = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(neg));
  r.negO = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(neg + 4));
  r.shrE = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(shr));
  r.shrO = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(shr + 4));
  return finish_rq8(r);
}

inline Rq8 broadcast_rq8(const QRequant& q) {
  Rq8 r;
  r.mult = _mm256_set1_epi32(q.mult);
  r.left = _mm256_set1_epi32(q.left);
  r.nudgeE = r.nudgeO = _mm256_set1_epi64x(q.nudge);
  r.negE = r.negO = _mm256_set1_epi64x(q.neg);
  r.shrE = r.shrO = _mm256_set1_epi64x(q.shr);
  return finish_rq8(r);
}

inline __m256i requant8(__m256i acc, const Rq8& r) {
  const __m256i a = r.hasLeft ? _mm256_sllv_epi32(acc, r.left) : acc;
  const __m256i ao = _mm256_srli_epi64(a, 32);
  __m256i pe = _mm256_mul_epi32(a, r.mult);
  __m256i po = _mm256_mul_epi32(ao, r.multOdd);
  pe = _mm256_sub_epi64(_mm256_add_epi64(pe, r.nudgeE), _mm256_and_si256(a, r.negE));
  po = _mm256_sub_epi64(_mm256_add_epi64(po, r.nudgeO), _mm256_and_si256(ao, r.negO));
  pe = _mm256_srlv_epi64(pe, r.shrE);
  po = _mm256_srlv_epi64(po, r.shrO);
  return _mm256_sub_epi32(_mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA), r.post);
}

// The two requantization schemes as policies of the kernels (kernels_qs8.h): the constants of 8
// channels of a header, applied to accumulators; int32 lanes out, for clamp8.
struct FixedPoint8 {
  Rq8 rq;
  static FixedPoint8 load(const void* header, size_t nr, size_t group, const QOut&) {
    return FixedPoint8{load_rq8(header, nr, group)};
  }
  __m256i operator()(__m256i acc) const { return requant8(acc, rq); }
};

// XNNPACK's: rint(float32(float32(acc) * scale)). The final rounding is explicit (vroundps to
// nearest-even, then an exact conversion); the int -> float conversion and the product round by
// MXCSR (the kernels hold NearestRounding while they run); a product beyond int32 is
// clamped above in float first (the conversion would give INT32_MIN, which clamp8 takes to the lower
// bound, as it should for a product below it).
struct Fp32Requant8 {
  __m256 scale, hi;
  static Fp32Requant8 load(const void* header, size_t nr, size_t group, const QOut& q) {
    const float* scale = reinterpret_cast<const float*>(static_cast<const int32_t*>(header) + nr) + 8 * group;
    return Fp32Requant8{_mm256_loadu_ps(scale), _mm256_set1_ps((float)q.hi)};
  }
  __m256i operator()(__m256i acc) const {
    const __m256 p = _mm256_min_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale), hi);
    return _mm256_cvttps_epi32(_mm256_round_ps(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};

// MXCSR's rounding control at round-to-nearest for a scope: Fp32Requant8's int -> float conversion
// and product round by it. Node never changes the default (nearest), so this is one read of MXCSR;
// a host that did change it still gets XNNPACK's bytes. The kernel bodies run in a noinline
// function below it (the compiler does not order float arithmetic against MXCSR writes).
class NearestRounding {
 public:
  NearestRounding() : saved_(_mm_getcsr()) {
    if ((saved_ & kRoundingControl) != 0) _mm_setcsr(saved_ & ~kRoundingControl);
  }
  ~NearestRounding() {
    if ((saved_ & kRoundingControl) != 0) _mm_setcsr(saved_);
  }
  NearestRounding(const NearestRounding&) = delete;
  NearestRounding& operator=(const NearestRounding&) = delete;

 private:
  static constexpr unsigned kRoundingControl = 0x6000;
  unsigned saved_;
};

struct Out8 {
  __m256i lo, hi, zero;
};

inline Out8 load_out8(const QOut& q) {
  return Out8{_mm256_set1_epi32(q.lo), _mm256_set1_epi32(q.hi), _mm256_set1_epi32(q.zero)};
}

inline __m256i clamp8(__m256i r, const Out8& o) {
  return _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(r, o.lo), o.hi), o.zero);
}

// Two vectors of 8 values in [-128, 127] -> 16 int8 in order.
inline __m128i narrow16(__m256i lo, __m256i hi) {
  const __m256i words = _mm256_packs_epi32(lo, hi);       // lo0-3 hi0-3 | lo4-7 hi4-7
  const __m256i bytes = _mm256_packs_epi16(words, words);  // per lane: those 8, twice
  const __m256i order = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 0, 4, 1, 5));
  return _mm256_castsi256_si128(order);
}

// 8 values in [-128, 127] -> 8 int8 in the low half.
inline __m128i narrow8(__m256i v) {
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_packs_epi16(words, words);
}

// Stores the first n (< 16) bytes of v.
inline void store_partial(int8_t* dst, __m128i v, size_t n) {
  alignas(16) int8_t tmp[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(tmp), v);
  for (size_t i = 0; i < n; ++i) dst[i] = tmp[i];
}

}  // namespace
}  // namespace mn
