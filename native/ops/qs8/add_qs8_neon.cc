// NEON int8 ADD (the residual of an inverted bottleneck), 8 elements at a time: through the three
// requantizations of TFLite's reference add.h, or XNNPACK's multiply-add and shift.
#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"
#include "requant_neon.h"

namespace mn {
namespace {

// a and b 8 elements at a time (the last step partial), as two halves of 4 lanes: `sum` turns the
// widened lanes of a and b into the int32 lanes of the result, which are clamped, narrowed and
// stored. The two schemes differ only there.
template <class Sum>
inline void add_lanes8(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const Out4& o, Sum sum) {
  for (size_t i = 0; i < n; i += 8) {
    const size_t count = n - i < 8 ? n - i : 8;
    int8_t ta[8] = {0}, tb[8] = {0};
    for (size_t j = 0; j < count; ++j) {
      ta[j] = a[i + j];
      tb[j] = b[i + j];
    }
    const int16x8_t xa = vmovl_s8(vld1_s8(ta)), xb = vmovl_s8(vld1_s8(tb));
    const int32x4_t lo = sum(vmovl_s16(vget_low_s16(xa)), vmovl_s16(vget_low_s16(xb)));
    const int32x4_t hi = sum(vmovl_high_s16(xa), vmovl_high_s16(xb));
    store8(out + i, finish8(lo, hi, o), count);
  }
}

}  // namespace

void qadd_neon(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const QAddParams* p) {
  const Rq4 r1 = broadcast_rq4(p->in1), r2 = broadcast_rq4(p->in2), rs = broadcast_rq4(p->sum);
  const Out4 o = load_out4(p->out);
  const int32x4_t off1 = vdupq_n_s32(p->offset1), off2 = vdupq_n_s32(p->offset2), shift = vdupq_n_s32(p->shift_in);
  add_lanes8(n, a, b, out, o, [&](int32x4_t x1, int32x4_t x2) {
    const int32x4_t s1 = requant4(vshlq_s32(vaddq_s32(x1, off1), shift), r1);
    const int32x4_t s2 = requant4(vshlq_s32(vaddq_s32(x2, off2), shift), r2);
    return requant4(vaddq_s32(s1, s2), rs);
  });
}

void qadd_xnn_neon(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const QAddXnnParams* p) {
  const Out4 o = load_out4(p->out);
  const int32x4_t bias = vdupq_n_s32(p->bias), shift = vdupq_n_s32(-p->shift);
  add_lanes8(n, a, b, out, o, [&](int32x4_t x1, int32x4_t x2) {
    const int32x4_t acc = vmlaq_n_s32(vmlaq_n_s32(bias, x1, p->mult_a), x2, p->mult_b);
    return vshlq_s32(acc, shift);  // a negative shift count: arithmetic shift right
  });
}

}  // namespace mn
