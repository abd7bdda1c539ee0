// AVX-512 3x3 depthwise row kernel: 16 channels per zmm, the block's 9 taps + bias stay in
// registers while the row is swept; channel tails by load/store masks; column borders by
// per-column validity (predictable branches), padding rows are a caller-supplied zero row.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <stddef.h>

#include "../kernels.h"

namespace mn {

void dw3x3_avx512(const float* const* rows, size_t in_w, size_t stride, size_t pad_left,
                  size_t out_w, size_t channels, const float* w, float* out, float minv,
                  float maxv) {
  const size_t CB = kAvx512CB;
  const size_t C = channels;
  const __m512 vmin = _mm512_set1_ps(minv);
  const __m512 vmax = _mm512_set1_ps(maxv);
  const ptrdiff_t iw = (ptrdiff_t)in_w;
  for (size_t c0 = 0; c0 < C; c0 += CB, w += CB * 10) {
    const size_t cr = C - c0 < CB ? C - c0 : CB;
    const __mmask16 mask = cr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cr) - 1u);
    const __m512 vb = _mm512_load_ps(w);
    const __m512 k00 = _mm512_load_ps(w + 16), k01 = _mm512_load_ps(w + 32),
                 k02 = _mm512_load_ps(w + 48), k10 = _mm512_load_ps(w + 64),
                 k11 = _mm512_load_ps(w + 80), k12 = _mm512_load_ps(w + 96),
                 k20 = _mm512_load_ps(w + 112), k21 = _mm512_load_ps(w + 128),
                 k22 = _mm512_load_ps(w + 144);
    const float* r0 = rows[0] + c0;
    const float* r1 = rows[1] + c0;
    const float* r2 = rows[2] + c0;
    float* o = out + c0;
    for (size_t x = 0; x < out_w; ++x, o += C) {
      const ptrdiff_t ix = (ptrdiff_t)(x * stride) - (ptrdiff_t)pad_left;
      __m512 acc0 = vb;
      __m512 acc1 = _mm512_setzero_ps();
      if (ix >= 0 && ix < iw) {
        const size_t off = (size_t)ix * C;
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, r0 + off), k00, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, r1 + off), k10, acc1);
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, r2 + off), k20, acc0);
      }
      if (ix + 1 >= 0 && ix + 1 < iw) {
        const size_t off = (size_t)(ix + 1) * C;
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, r0 + off), k01, acc1);
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, r1 + off), k11, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, r2 + off), k21, acc1);
      }
      if (ix + 2 >= 0 && ix + 2 < iw) {
        const size_t off = (size_t)(ix + 2) * C;
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, r0 + off), k02, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, r1 + off), k12, acc1);
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, r2 + off), k22, acc0);
      }
      const __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(acc0, acc1), vmin), vmax);
      _mm512_mask_storeu_ps(o, mask, v);
    }
  }
}

}  // namespace mn
#endif
