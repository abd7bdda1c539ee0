// AVX2+FMA 3x3 depthwise row kernel: 8 channels per ymm, the block's taps + bias in registers
// while the row is swept; channel tails by vmaskmov; column borders by per-column validity.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "../kernels.h"

namespace mn {
namespace {
const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
}

void dw3x3_avx2(const float* const* rows, size_t in_w, size_t stride, size_t pad_left,
                size_t out_w, size_t channels, const float* w, float* out, float minv,
                float maxv) {
  const size_t CB = kAvx2CB;
  const size_t C = channels;
  const __m256 vmin = _mm256_set1_ps(minv);
  const __m256 vmax = _mm256_set1_ps(maxv);
  const ptrdiff_t iw = (ptrdiff_t)in_w;
  for (size_t c0 = 0; c0 < C; c0 += CB, w += CB * 10) {
    const size_t cr = C - c0 < CB ? C - c0 : CB;
    const __m256i mask = _mm256_loadu_si256((const __m256i*)(kMaskTable + 8 - cr));
    const __m256 vb = _mm256_load_ps(w);
    const __m256 k00 = _mm256_load_ps(w + 8), k01 = _mm256_load_ps(w + 16),
                 k02 = _mm256_load_ps(w + 24), k10 = _mm256_load_ps(w + 32),
                 k11 = _mm256_load_ps(w + 40), k12 = _mm256_load_ps(w + 48),
                 k20 = _mm256_load_ps(w + 56), k21 = _mm256_load_ps(w + 64),
                 k22 = _mm256_load_ps(w + 72);
    const float* r0 = rows[0] + c0;
    const float* r1 = rows[1] + c0;
    const float* r2 = rows[2] + c0;
    float* o = out + c0;
    if (cr == CB) {
      for (size_t x = 0; x < out_w; ++x, o += C) {
        const ptrdiff_t ix = (ptrdiff_t)(x * stride) - (ptrdiff_t)pad_left;
        __m256 acc0 = vb;
        __m256 acc1 = _mm256_setzero_ps();
        if (ix >= 0 && ix < iw) {
          const size_t off = (size_t)ix * C;
          acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + off), k00, acc0);
          acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + off), k10, acc1);
          acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + off), k20, acc0);
        }
        if (ix + 1 >= 0 && ix + 1 < iw) {
          const size_t off = (size_t)(ix + 1) * C;
          acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + off), k01, acc1);
          acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + off), k11, acc0);
          acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + off), k21, acc1);
        }
        if (ix + 2 >= 0 && ix + 2 < iw) {
          const size_t off = (size_t)(ix + 2) * C;
          acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + off), k02, acc0);
          acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + off), k12, acc1);
          acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + off), k22, acc0);
        }
        _mm256_storeu_ps(o, _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(acc0, acc1), vmin), vmax));
      }
    } else {
      for (size_t x = 0; x < out_w; ++x, o += C) {
        const ptrdiff_t ix = (ptrdiff_t)(x * stride) - (ptrdiff_t)pad_left;
        __m256 acc0 = vb;
        __m256 acc1 = _mm256_setzero_ps();
        if (ix >= 0 && ix < iw) {
          const size_t off = (size_t)ix * C;
          acc0 = _mm256_fmadd_ps(_mm256_maskload_ps(r0 + off, mask), k00, acc0);
          acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(r1 + off, mask), k10, acc1);
          acc0 = _mm256_fmadd_ps(_mm256_maskload_ps(r2 + off, mask), k20, acc0);
        }
        if (ix + 1 >= 0 && ix + 1 < iw) {
          const size_t off = (size_t)(ix + 1) * C;
          acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(r0 + off, mask), k01, acc1);
          acc0 = _mm256_fmadd_ps(_mm256_maskload_ps(r1 + off, mask), k11, acc0);
          acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(r2 + off, mask), k21, acc1);
        }
        if (ix + 2 >= 0 && ix + 2 < iw) {
          const size_t off = (size_t)(ix + 2) * C;
          acc0 = _mm256_fmadd_ps(_mm256_maskload_ps(r0 + off, mask), k02, acc0);
          acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(r1 + off, mask), k12, acc1);
          acc0 = _mm256_fmadd_ps(_mm256_maskload_ps(r2 + off, mask), k22, acc0);
        }
        _mm256_maskstore_ps(
            o, mask, _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(acc0, acc1), vmin), vmax));
      }
    }
  }
}

}  // namespace mn
#endif
