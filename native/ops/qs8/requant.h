// TFLite's integer arithmetic in plain C++ (gemmlowp SaturatingRoundingDoublingHighMul and
// RoundingDivideByPOT, MultiplyByQuantizedMultiplier of the default double-rounding build), as
// src/engine/int8/quantize.ts states it. Generic code: included by the operators and the scalar
// kernels only, never by a file compiled with ISA flags (kernels_qs8.h explains why).
#pragma once

#include <cfenv>
#include <cmath>
#include <cstdint>

#include "../../kernels_qs8.h"

// Keeps a kernel body out of its caller (see NearestRounding).
#if defined(_MSC_VER)
#define MN_NOINLINE __declspec(noinline)
#else
#define MN_NOINLINE __attribute__((noinline))
#endif

namespace mn {

// int32 x << s as the C++ reference computes it (wrapping), 0 <= s <= 31.
inline int32_t shl_wrap(int32_t x, int s) { return (int32_t)((uint32_t)x << s); }

// gemmlowp SaturatingRoundingDoublingHighMul: (a*b + nudge) / 2^31 truncated toward zero,
// nudge = 2^30 for a*b >= 0 and 1 - 2^30 otherwise; INT32_MIN * INT32_MIN saturates.
inline int32_t srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  const int64_t ab = (int64_t)a * b;
  const int64_t nudge = ab >= 0 ? (int64_t(1) << 30) : 1 - (int64_t(1) << 30);
  return (int32_t)((ab + nudge) / (int64_t(1) << 31));
}

// gemmlowp RoundingDivideByPOT: x / 2^e rounded half away from zero, 0 <= e <= 31.
inline int32_t rdbpot(int32_t x, int e) {
  const int32_t mask = (int32_t)((uint32_t(1) << e) - 1u);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}

// MultiplyByQuantizedMultiplier(x, multiplier, shift), -31 <= shift <= 31.
inline int32_t mbqm(int32_t x, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  return rdbpot(srdhm(shl_wrap(x, left), multiplier), right);
}

// The header form of a (multiplier >= 0, shift) pair (kernels_qs8.h).
inline QRequant make_requant(int32_t multiplier, int shift) {
  QRequant r;
  r.mult = multiplier;
  r.left = shift > 0 ? shift : 0;
  r.right = shift > 0 ? 0 : -shift;
  r.nudge = (int64_t(1) << 30) + (r.right > 0 ? (int64_t(1) << (30 + r.right)) : 0);
  r.neg = r.right > 0 ? int64_t(0x80000000) : 0;
  r.shr = 31 + r.right;
  return r;
}

// requant(acc) through the header form (must equal mbqm(acc, mult, ±shift)).
inline int32_t requant_apply(int32_t acc, const QRequant& r) {
  const int32_t a = shl_wrap(acc, r.left);
  const int64_t p = (int64_t)a * r.mult + r.nudge - (a < 0 ? r.neg : 0);
  return (int32_t)(p >> r.shr);
}

inline int8_t clamp_out(int32_t r, const QOut& q) {
  r = r < q.lo ? q.lo : r;
  r = r > q.hi ? q.hi : r;
  return (int8_t)(r + q.zero);
}

inline int32_t mbqm(int32_t x, const QRequant& r) { return mbqm(x, r.mult, r.left - r.right); }

// One element of TFLite's ADD (reference add.h), given QAddParams.
inline int8_t add_one(int8_t a, int8_t b, const QAddParams& p) {
  const int32_t s1 = mbqm(shl_wrap(a + p.offset1, p.shift_in), p.in1);
  const int32_t s2 = mbqm(shl_wrap(b + p.offset2, p.shift_in), p.in2);
  return clamp_out(mbqm((int32_t)((uint32_t)s1 + (uint32_t)s2), p.sum), p.out);
}

// x rounded to the nearest integer, halves to even, whatever the rounding mode; |x| < 2^23.
inline int32_t round_half_even(float x) {
  const float below = std::floor(x);
  const float frac = x - below;  // exact
  int32_t r = (int32_t)below;
  if (frac > 0.5f || (frac == 0.5f && (r & 1) != 0)) ++r;
  return r;
}

// The floating-point rounding mode at round-to-nearest for a scope: the float conversions, products
// and sums of the 'xnnpack' scheme round by it. Node never changes the default (nearest), so this
// is one read of the mode; a host that did change it still gets XNNPACK's bytes. The arithmetic
// must be in a function called below it (the compiler does not order float arithmetic against
// mode changes).
class NearestRounding {
 public:
  NearestRounding() : saved_(std::fegetround()) {
    if (saved_ != FE_TONEAREST) std::fesetround(FE_TONEAREST);
  }
  ~NearestRounding() {
    if (saved_ != FE_TONEAREST) std::fesetround(saved_);
  }
  NearestRounding(const NearestRounding&) = delete;
  NearestRounding& operator=(const NearestRounding&) = delete;

 private:
  int saved_;
};

// XNNPACK's requantization (the 'xnnpack' scheme): rint(float32(float32(acc) * scale)), halves to
// even, clamped to [q.lo, q.hi] (clamping the product first: it may exceed int32; the bounds are
// integers, so the rounding commutes with the clamp). The float conversion and product round by the
// current mode (callers hold NearestRounding); the final rounding is explicit.
inline int32_t fp32_requant(int32_t acc, float scale, const QOut& q) {
  const float p = (float)acc * scale;
  return round_half_even(p < (float)q.lo ? (float)q.lo : p > (float)q.hi ? (float)q.hi : p);
}

// The two schemes as policies of the scalar kernels, reading channel j of a block's header of nr
// channels (kernels_qs8.h).
struct FixedPointHeader {
  const int32_t *mult, *left, *right;
  FixedPointHeader(const void* header, size_t nr, const QOut&) {
    mult = static_cast<const int32_t*>(header) + nr;
    left = mult + nr;
    right = left + nr;
  }
  int8_t operator()(int32_t acc, size_t j, const QOut& q) const {
    return clamp_out(mbqm(acc, mult[j], left[j] - right[j]), q);
  }
};

struct Fp32Header {
  const float* scale;
  Fp32Header(const void* header, size_t nr, const QOut&) {
    scale = reinterpret_cast<const float*>(static_cast<const int32_t*>(header) + nr);
  }
  int8_t operator()(int32_t acc, size_t j, const QOut& q) const {
    return (int8_t)(fp32_requant(acc, scale[j], q) + q.zero);
  }
};

// One element of XNNPACK's ADD (QAddXnnParams).
inline int8_t add_xnn_one(int8_t a, int8_t b, const QAddXnnParams& p) {
  const int32_t acc = p.bias + a * p.mult_a + b * p.mult_b;
  int32_t r = acc >> p.shift;
  r = r < p.out.lo ? p.out.lo : r > p.out.hi ? p.out.hi : r;
  return (int8_t)(r + p.out.zero);
}

}  // namespace mn
