// AVX2 int8 ADD (the residual of an inverted bottleneck), 8 elements at a time: through the three
// requantizations of TFLite's reference add.h, or XNNPACK's multiply-add and shift.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"
#include "requant_avx2.h"

namespace mn {
namespace {

// a and b 8 elements at a time (the last step partial): `sum` turns the widened lanes of a and b into
// the int32 lanes of the result, which are clamped, narrowed and stored. The two schemes differ only there.
template <class Sum>
inline void add_lanes8(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const Out8& o, Sum sum) {
  for (size_t i = 0; i < n; i += 8) {
    const size_t count = n - i < 8 ? n - i : 8;
    int64_t xa = 0, xb = 0;
    __builtin_memcpy(&xa, a + i, count);
    __builtin_memcpy(&xb, b + i, count);
    const __m256i x1 = _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(xa));
    const __m256i x2 = _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(xb));
    const __m128i v = narrow8(clamp8(sum(x1, x2), o));
    if (count == 8)
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), v);
    else
      store_partial(out + i, v, count);
  }
}

}  // namespace

void qadd_avx2(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const QAddParams* p) {
  const Rq8 r1 = broadcast_rq8(p->in1), r2 = broadcast_rq8(p->in2), rs = broadcast_rq8(p->sum);
  const Out8 o = load_out8(p->out);
  const __m256i off1 = _mm256_set1_epi32(p->offset1), off2 = _mm256_set1_epi32(p->offset2);
  const __m128i shift = _mm_cvtsi32_si128(p->shift_in);
  add_lanes8(n, a, b, out, o, [&](__m256i x1, __m256i x2) {
    const __m256i s1 = requant8(_mm256_sll_epi32(_mm256_add_epi32(x1, off1), shift), r1);
    const __m256i s2 = requant8(_mm256_sll_epi32(_mm256_add_epi32(x2, off2), shift), r2);
    return requant8(_mm256_add_epi32(s1, s2), rs);
  });
}

void qadd_xnn_avx2(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const QAddXnnParams* p) {
  const Out8 o = load_out8(p->out);
  const __m256i multA = _mm256_set1_epi32(p->mult_a), multB = _mm256_set1_epi32(p->mult_b);
  const __m256i bias = _mm256_set1_epi32(p->bias);
  const __m128i shift = _mm_cvtsi32_si128(p->shift);
  add_lanes8(n, a, b, out, o, [&](__m256i x1, __m256i x2) {
    const __m256i acc = _mm256_add_epi32(_mm256_add_epi32(bias, _mm256_mullo_epi32(x1, multA)),
                                         _mm256_mullo_epi32(x2, multB));
    return _mm256_sra_epi32(acc, shift);
  });
}

}  // namespace mn
