// TFLite's integer arithmetic in plain C++ (gemmlowp SaturatingRoundingDoublingHighMul and
// RoundingDivideByPOT, MultiplyByQuantizedMultiplier of the default double-rounding build), as
// src/engine/int8/quantize.ts states it. Generic code: included by the operators and the scalar
// kernels only, never by a file compiled with ISA flags (kernels_qs8.h explains why).
#pragma once

#include <cstdint>

#include "../../kernels_qs8.h"

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

}  // namespace mn
