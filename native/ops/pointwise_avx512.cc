// AVX-512 GEMM microkernel: 7 pixels x 32 output channels (14 zmm accumulators), weights packed
// in 32-wide panels [bias][k][32]. Channel tails by store masks (the packed panel is zero padded);
// a panel of at most 24 channels (v2's 24-channel projections) computes its upper 8 in a ymm,
// which costs half a zmm FMA where 512-bit FMAs are double-pumped (AMD Zen 4), instead of a
// zmm two-thirds padding. Pixel tails by smaller instantiations of the same template. Bias +
// clamp (+ residual) fused. Compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma; only
// called after dispatch.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <stddef.h>

#include "../kernels.h"

namespace mn {
namespace {

const size_t MR = kAvx512MR;
const size_t NR = kAvx512NR;

// IND: row i of A is a + i*a_stride and its element p is at koff[p] (indirect GEMM: a
// convolution reading its input in place); otherwise element p is at p. HI: channels 16..31 of
// the panel computed in a zmm (16), a ymm (8: channels 16..23 only) or not at all (0).
template <bool IND, int R, int HI>
void tile(size_t k, const float* a, size_t a_stride, const size_t* koff, const float* w, float* c, size_t c_stride,
          const float* res, size_t res_stride, __mmask16 m0, __mmask16 m1, __m512 vmin,
          __m512 vmax) {
  __m512 acc[R];
  __m512 hi[HI == 16 ? R : 1];
  __m256 hy[HI == 8 ? R : 1];
  {
    const __m512 b0 = _mm512_load_ps(w);
    const __m512 b1 = _mm512_load_ps(w + 16);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      acc[i] = b0;
      if (HI == 16) hi[i] = b1;
      if (HI == 8) hy[i] = _mm512_extractf32x8_ps(b1, 0);
    }
  }
  w += NR;
  const float* ap[R];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) ap[i] = a + i * a_stride;
  for (size_t p = 0; p < k; ++p) {
    const __m512 w0 = _mm512_load_ps(w);
    const __m512 w1 = HI == 16 ? _mm512_load_ps(w + 16) : w0;
    const __m256 wy = HI == 8 ? _mm256_load_ps(w + 16) : _mm512_extractf32x8_ps(w0, 0);
    w += NR;
    const size_t off = IND ? koff[p] : p;
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m512 av = _mm512_set1_ps(ap[i][off]);
      acc[i] = _mm512_fmadd_ps(av, w0, acc[i]);
      if (HI == 16) hi[i] = _mm512_fmadd_ps(av, w1, hi[i]);
      if (HI == 8) hy[i] = _mm256_fmadd_ps(_mm512_extractf32x8_ps(av, 0), wy, hy[i]);
    }
  }
  const __m256 ymin = _mm512_extractf32x8_ps(vmin, 0), ymax = _mm512_extractf32x8_ps(vmax, 0);
  if (res == nullptr) {
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      float* ci = c + i * c_stride;
      _mm512_mask_storeu_ps(ci, m0, _mm512_min_ps(_mm512_max_ps(acc[i], vmin), vmax));
      if (HI == 16) _mm512_mask_storeu_ps(ci + 16, m1, _mm512_min_ps(_mm512_max_ps(hi[i], vmin), vmax));
      if (HI == 8)
        _mm256_mask_storeu_ps(ci + 16, (__mmask8)m1, _mm256_min_ps(_mm256_max_ps(hy[i], ymin), ymax));
    }
    return;
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * c_stride;
    const float* ri = res + i * res_stride;
    const __m512 v0 = _mm512_min_ps(_mm512_max_ps(acc[i], vmin), vmax);
    _mm512_mask_storeu_ps(ci, m0, _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, ri)));
    if (HI == 16) {
      const __m512 v1 = _mm512_min_ps(_mm512_max_ps(hi[i], vmin), vmax);
      _mm512_mask_storeu_ps(ci + 16, m1, _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, ri + 16)));
    }
    if (HI == 8) {
      const __m256 v1 = _mm256_min_ps(_mm256_max_ps(hy[i], ymin), ymax);
      _mm256_mask_storeu_ps(ci + 16, (__mmask8)m1,
                            _mm256_add_ps(v1, _mm256_maskz_loadu_ps((__mmask8)m1, ri + 16)));
    }
  }
}

typedef void (*TileFn)(size_t, const float*, size_t, const size_t*, const float*, float*, size_t,
                       const float*, size_t, __mmask16, __mmask16, __m512, __m512);
template <bool IND>
struct Tiles {
  // [0]: at most 16 channels, [1]: 17..24, [2]: 25..32; then by rows.
  static constexpr TileFn table[3][MR + 1] = {
      {nullptr, tile<IND, 1, 0>, tile<IND, 2, 0>, tile<IND, 3, 0>, tile<IND, 4, 0>,
       tile<IND, 5, 0>, tile<IND, 6, 0>, tile<IND, 7, 0>},
      {nullptr, tile<IND, 1, 8>, tile<IND, 2, 8>, tile<IND, 3, 8>, tile<IND, 4, 8>,
       tile<IND, 5, 8>, tile<IND, 6, 8>, tile<IND, 7, 8>},
      {nullptr, tile<IND, 1, 16>, tile<IND, 2, 16>, tile<IND, 3, 16>, tile<IND, 4, 16>,
       tile<IND, 5, 16>, tile<IND, 6, 16>, tile<IND, 7, 16>},
  };
};
template <bool IND>
constexpr TileFn Tiles<IND>::table[3][MR + 1];

inline __mmask16 tail_mask(size_t count) {
  return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1u);
}

template <bool IND>
void gemm(size_t m, size_t n, size_t k, const float* a, size_t a_stride, const size_t* koff,
          const float* w, float* c, size_t c_stride, const float* res, size_t res_stride,
          float minv, float maxv) {
  const __m512 vmin = _mm512_set1_ps(minv);
  const __m512 vmax = _mm512_set1_ps(maxv);
  const size_t panel = NR * (k + 1);
  for (size_t n0 = 0; n0 < n; n0 += NR, w += panel) {
    const size_t nc = n - n0 < NR ? n - n0 : NR;
    const __mmask16 m0 = tail_mask(nc);
    const __mmask16 m1 = nc > 16 ? tail_mask(nc - 16) : (__mmask16)0;
    const TileFn* tiles = Tiles<IND>::table[nc <= 16 ? 0 : nc <= 24 ? 1 : 2];
    for (size_t r0 = 0; r0 < m; r0 += MR) {
      const size_t mr = m - r0 < MR ? m - r0 : MR;
      tiles[mr](k, a + r0 * a_stride, a_stride, koff, w, c + r0 * c_stride + n0, c_stride,
                res != nullptr ? res + r0 * res_stride + n0 : nullptr, res_stride, m0, m1, vmin,
                vmax);
    }
  }
}

}  // namespace

// Both return with the upper register state cleared: the tiles take zmm arguments, so GCC leaves
// it dirty on their way out and may not clear it in the caller either, and generic (SSE) code run
// after a dirty state was measured 2.5x slower (v2's avgpool and softmax).
void gemm_avx512(size_t m, size_t n, size_t k, const float* a, size_t a_stride, const float* w,
                 float* c, size_t c_stride, const float* res, size_t res_stride, float minv,
                 float maxv) {
  gemm<false>(m, n, k, a, a_stride, nullptr, w, c, c_stride, res, res_stride, minv, maxv);
  _mm256_zeroupper();
}

void igemm_avx512(size_t m, size_t n, size_t k, const float* a, size_t a_step, const size_t* koff,
                  const float* w, float* c, size_t c_stride, float minv, float maxv) {
  gemm<true>(m, n, k, a, a_step, koff, w, c, c_stride, nullptr, 0, minv, maxv);
  _mm256_zeroupper();
}

}  // namespace mn
#endif
