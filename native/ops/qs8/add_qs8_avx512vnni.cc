// AVX-512 int8 ADD (the residual of an inverted bottleneck), 16 elements at a time: through the
// three requantizations of TFLite's reference add.h, or XNNPACK's multiply-add and shift.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"
#include "requant_avx512vnni.h"

namespace mn {
namespace {

// a and b 16 elements at a time (the last step masked): `sum` turns the widened lanes of a and b into
// the int32 lanes of the result, which are clamped, offset and stored. The two schemes differ only there.
template <class Sum>
inline void add_lanes16(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const Out16& o, Sum sum) {
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
    const __m512i x1 = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, a + i));
    const __m512i x2 = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, b + i));
    _mm_mask_storeu_epi8(out + i, mask, finish16(sum(x1, x2), o));
  }
}

}  // namespace

void qadd_avx512vnni(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const QAddParams* p) {
  const Rq16 r1 = broadcast_rq16(p->in1), r2 = broadcast_rq16(p->in2), rs = broadcast_rq16(p->sum);
  const Out16 o = load_out16(p->out);
  const __m512i off1 = _mm512_set1_epi32(p->offset1), off2 = _mm512_set1_epi32(p->offset2);
  const __m128i shift = _mm_cvtsi32_si128(p->shift_in);
  add_lanes16(n, a, b, out, o, [&](__m512i x1, __m512i x2) {
    const __m512i s1 = requant16(_mm512_sll_epi32(_mm512_add_epi32(x1, off1), shift), r1);
    const __m512i s2 = requant16(_mm512_sll_epi32(_mm512_add_epi32(x2, off2), shift), r2);
    return requant16(_mm512_add_epi32(s1, s2), rs);
  });
}

void qadd_xnn_avx512vnni(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const QAddXnnParams* p) {
  const Out16 o = load_out16(p->out);
  const __m512i multA = _mm512_set1_epi32(p->mult_a), multB = _mm512_set1_epi32(p->mult_b);
  const __m512i bias = _mm512_set1_epi32(p->bias);
  const __m128i shift = _mm_cvtsi32_si128(p->shift);
  add_lanes16(n, a, b, out, o, [&](__m512i x1, __m512i x2) {
    const __m512i acc = _mm512_add_epi32(_mm512_add_epi32(bias, _mm512_mullo_epi32(x1, multA)),
                                         _mm512_mullo_epi32(x2, multB));
    return _mm512_sra_epi32(acc, shift);
  });
}

}  // namespace mn
