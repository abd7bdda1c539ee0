// NEON requantization of 4 int32 lanes, private to the *_qs8_neon*.cc files (internal linkage).
// This is how TFLite's optimized kernels do it, and exactly the reference arithmetic:
// SQRDMULH is gemmlowp's SaturatingRoundingDoublingHighMul, and RoundingDivideByPOT is a rounding
// shift right (half up) after taking 1 off negative values (saturating), which rounds them half
// away from zero.
#pragma once

#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"

namespace mn {
namespace {

struct Rq4 {
  int32x4_t mult, left, negRight;
};

// Channels [4 * group, 4 * group + 4) of a header of nr channels.
inline Rq4 load_rq4(const void* header, size_t nr, size_t group) {
  const int32_t* mult = static_cast<const int32_t*>(header) + nr + 4 * group;
  Rq4 r;
  r.mult = vld1q_s32(mult);
  r.left = vld1q_s32(mult + nr);
  r.negRight = vnegq_s32(vld1q_s32(mult + 2 * nr));
  return r;
}

inline Rq4 broadcast_rq4(const QRequant& q) {
  return Rq4{vdupq_n_s32(q.mult), vdupq_n_s32(q.left), vdupq_n_s32(-q.right)};
}

inline int32x4_t requant4(int32x4_t acc, const Rq4& r) {
  const int32x4_t h = vqrdmulhq_s32(vshlq_s32(acc, r.left), r.mult);
  const int32x4_t fixup = vshrq_n_s32(vandq_s32(h, r.negRight), 31);
  return vrshlq_s32(vqaddq_s32(h, fixup), r.negRight);
}

// The two requantization schemes as policies of the kernels (kernels_qs8.h): the constants of 4
// channels of a header, applied to accumulators; int32 lanes out, for finish8.
struct FixedPoint4 {
  Rq4 rq;
  static FixedPoint4 load(const void* header, size_t nr, size_t group, const QOut&) {
    return FixedPoint4{load_rq4(header, nr, group)};
  }
  int32x4_t operator()(int32x4_t acc) const { return requant4(acc, rq); }
};

// XNNPACK's: rint(float32(float32(acc) * scale)); FCVTNS rounds to nearest-even whatever FPCR says,
// the conversion to float and the product by FPCR's mode (the kernels hold NearestRounding). Clamped
// above in float first: FCVTNS saturates, so below is fine as it is.
struct Fp32Requant4 {
  float32x4_t scale, hi;
  static Fp32Requant4 load(const void* header, size_t nr, size_t group, const QOut& q) {
    const float* scale = reinterpret_cast<const float*>(static_cast<const int32_t*>(header) + nr) + 4 * group;
    return Fp32Requant4{vld1q_f32(scale), vdupq_n_f32((float)q.hi)};
  }
  int32x4_t operator()(int32x4_t acc) const {
    return vcvtnq_s32_f32(vminq_f32(vmulq_f32(vcvtq_f32_s32(acc), scale), hi));
  }
};

// FPCR's rounding mode at round-to-nearest for a scope (Fp32Requant4's conversion and product round
// by it): one read of FPCR in the default mode, which Node never changes. The kernel bodies run in a
// noinline function below it (the compiler does not order float arithmetic against FPCR writes).
class NearestRounding {
 public:
  NearestRounding() {
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(saved_));
    if ((saved_ & kRMode) != 0) write(saved_ & ~kRMode);
  }
  ~NearestRounding() {
    if ((saved_ & kRMode) != 0) write(saved_);
  }
  NearestRounding(const NearestRounding&) = delete;
  NearestRounding& operator=(const NearestRounding&) = delete;

 private:
  static void write(uint64_t fpcr) { __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr) : "memory"); }
  static constexpr uint64_t kRMode = uint64_t(3) << 22;
  uint64_t saved_;
};

struct Out4 {
  int32x4_t lo, hi, zero;
};

inline Out4 load_out4(const QOut& q) { return Out4{vdupq_n_s32(q.lo), vdupq_n_s32(q.hi), vdupq_n_s32(q.zero)}; }

// Eight requantized lanes -> 8 int8 (clamped before the zero point is added: no overflow).
inline int8x8_t finish8(int32x4_t a, int32x4_t b, const Out4& o) {
  a = vaddq_s32(vminq_s32(vmaxq_s32(a, o.lo), o.hi), o.zero);
  b = vaddq_s32(vminq_s32(vmaxq_s32(b, o.lo), o.hi), o.zero);
  return vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)));
}

inline void store8(int8_t* dst, int8x8_t v, size_t n) {
  if (n >= 8) {
    vst1_s8(dst, v);
    return;
  }
  int8_t tmp[8];
  vst1_s8(tmp, v);
  for (size_t i = 0; i < n; ++i) dst[i] = tmp[i];
}

}  // namespace
}  // namespace mn
