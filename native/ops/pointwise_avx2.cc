// AVX2+FMA GEMM microkernel: 6 pixels x 16 output channels (12 ymm accumulators), weights packed
// in 16-wide panels [bias][k][16]. Channel tails by vmaskmov (panel zero padded), pixel tails by
// smaller instantiations. Bias + clamp (+ residual) fused in the store.
// Compiled with -mavx2 -mfma; only called after dispatch.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "../kernels.h"

namespace mn {
namespace {

const size_t MR = kAvx2MR;
const size_t NR = kAvx2NR;

const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

inline __m256i tail_mask(size_t count) {  // count in [0, 8]
  return _mm256_loadu_si256((const __m256i*)(kMaskTable + 8 - (count > 8 ? 8 : count)));
}

// IND: row i of A is a + i*a_stride and its element p is at koff[p] (indirect GEMM: a
// convolution reading its input in place); otherwise element p is at p.
template <bool IND, int R, int NV>
void tile(size_t k, const float* a, size_t a_stride, const size_t* koff, const float* w, float* c, size_t c_stride,
          const float* res, size_t res_stride, size_t nc, __m256 vmin, __m256 vmax) {
  __m256 acc[R][NV];
  {
    const __m256 b0 = _mm256_load_ps(w);
    const __m256 b1 = NV > 1 ? _mm256_load_ps(w + 8) : b0;
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      acc[i][0] = b0;
      if (NV > 1) acc[i][NV - 1] = b1;
    }
  }
  w += NR;
  const float* ap[R];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) ap[i] = a + i * a_stride;
  for (size_t p = 0; p < k; ++p) {
    const __m256 w0 = _mm256_load_ps(w);
    const __m256 w1 = NV > 1 ? _mm256_load_ps(w + 8) : w0;
    w += NR;
    const size_t off = IND ? koff[p] : p;
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m256 av = _mm256_broadcast_ss(ap[i] + off);
      acc[i][0] = _mm256_fmadd_ps(av, w0, acc[i][0]);
      if (NV > 1) acc[i][NV - 1] = _mm256_fmadd_ps(av, w1, acc[i][NV - 1]);
    }
  }
  const bool full = nc == (size_t)(8 * NV);
  const __m256i m0 = tail_mask(nc);
  const __m256i m1 = tail_mask(nc > 8 ? nc - 8 : 0);
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * c_stride;
    __m256 v0 = _mm256_min_ps(_mm256_max_ps(acc[i][0], vmin), vmax);
    __m256 v1 = _mm256_min_ps(_mm256_max_ps(acc[i][NV - 1], vmin), vmax);
    if (full) {
      if (res != nullptr) {
        const float* ri = res + i * res_stride;
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(ri));
        if (NV > 1) v1 = _mm256_add_ps(v1, _mm256_loadu_ps(ri + 8));
      }
      _mm256_storeu_ps(ci, v0);
      if (NV > 1) _mm256_storeu_ps(ci + 8, v1);
    } else {
      if (res != nullptr) {
        const float* ri = res + i * res_stride;
        v0 = _mm256_add_ps(v0, _mm256_maskload_ps(ri, m0));
        if (NV > 1) v1 = _mm256_add_ps(v1, _mm256_maskload_ps(ri + 8, m1));
      }
      _mm256_maskstore_ps(ci, m0, v0);
      if (NV > 1) _mm256_maskstore_ps(ci + 8, m1, v1);
    }
  }
}

typedef void (*TileFn)(size_t, const float*, size_t, const size_t*, const float*, float*, size_t,
                       const float*, size_t, size_t, __m256, __m256);
template <bool IND>
struct Tiles {
  static constexpr TileFn table[2][MR + 1] = {
      {nullptr, tile<IND, 1, 1>, tile<IND, 2, 1>, tile<IND, 3, 1>, tile<IND, 4, 1>,
       tile<IND, 5, 1>, tile<IND, 6, 1>},
      {nullptr, tile<IND, 1, 2>, tile<IND, 2, 2>, tile<IND, 3, 2>, tile<IND, 4, 2>,
       tile<IND, 5, 2>, tile<IND, 6, 2>},
  };
};
template <bool IND>
constexpr TileFn Tiles<IND>::table[2][MR + 1];

template <bool IND>
void gemm(size_t m, size_t n, size_t k, const float* a, size_t a_stride, const size_t* koff,
          const float* w, float* c, size_t c_stride, const float* res, size_t res_stride,
          float minv, float maxv) {
  const __m256 vmin = _mm256_set1_ps(minv);
  const __m256 vmax = _mm256_set1_ps(maxv);
  const size_t panel = NR * (k + 1);
  for (size_t n0 = 0; n0 < n; n0 += NR, w += panel) {
    const size_t nc = n - n0 < NR ? n - n0 : NR;
    const TileFn* tiles = Tiles<IND>::table[nc > 8 ? 1 : 0];
    for (size_t r0 = 0; r0 < m; r0 += MR) {
      const size_t mr = m - r0 < MR ? m - r0 : MR;
      tiles[mr](k, a + r0 * a_stride, a_stride, koff, w, c + r0 * c_stride + n0, c_stride,
                res != nullptr ? res + r0 * res_stride + n0 : nullptr, res_stride, nc, vmin, vmax);
    }
  }
}

}  // namespace

void gemm_avx2(size_t m, size_t n, size_t k, const float* a, size_t a_stride, const float* w,
               float* c, size_t c_stride, const float* res, size_t res_stride, float minv,
               float maxv) {
  gemm<false>(m, n, k, a, a_stride, nullptr, w, c, c_stride, res, res_stride, minv, maxv);
}

void igemm_avx2(size_t m, size_t n, size_t k, const float* a, size_t a_step, const size_t* koff,
                const float* w, float* c, size_t c_stride, float minv, float maxv) {
  gemm<true>(m, n, k, a, a_step, koff, w, c, c_stride, nullptr, 0, minv, maxv);
}

}  // namespace mn
#endif
