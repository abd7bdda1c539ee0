// NEON GEMM microkernel (aarch64 only, NEON is baseline there): 6 pixels x 8 output channels
// (12 q accumulators), weights packed in 8-wide panels [bias][k][8]. Channel tails go through a
// small stack buffer. Bias + clamp (+ residual) fused in the store.
// NOTE: not exercised by CI on x86 hosts; written to mirror the scalar kernel exactly.
#if defined(__aarch64__)
#include <arm_neon.h>
#include <stddef.h>

#include "../kernels.h"

namespace mn {
namespace {

const size_t MR = kNeonMR;
const size_t NR = kNeonNR;

// IND: row i of A is a + i*a_stride and its element p is at koff[p] (indirect GEMM: a
// convolution reading its input in place); otherwise element p is at p.
template <bool IND, int R>
void tile(size_t k, const float* a, size_t a_stride, const size_t* koff, const float* w, float* c, size_t c_stride,
          const float* res, size_t res_stride, size_t nc, float32x4_t vmin, float32x4_t vmax) {
  float32x4_t acc[R][2];
  {
    const float32x4_t b0 = vld1q_f32(w);
    const float32x4_t b1 = vld1q_f32(w + 4);
    for (int i = 0; i < R; ++i) {
      acc[i][0] = b0;
      acc[i][1] = b1;
    }
  }
  w += NR;
  const float* ap[R];
  for (int i = 0; i < R; ++i) ap[i] = a + i * a_stride;
  for (size_t p = 0; p < k; ++p) {
    const float32x4_t w0 = vld1q_f32(w);
    const float32x4_t w1 = vld1q_f32(w + 4);
    w += NR;
    const size_t off = IND ? koff[p] : p;
    for (int i = 0; i < R; ++i) {
      const float32x4_t av = vld1q_dup_f32(ap[i] + off);
      acc[i][0] = vfmaq_f32(acc[i][0], av, w0);
      acc[i][1] = vfmaq_f32(acc[i][1], av, w1);
    }
  }
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * c_stride;
    const float32x4_t v0 = vminq_f32(vmaxq_f32(acc[i][0], vmin), vmax);
    const float32x4_t v1 = vminq_f32(vmaxq_f32(acc[i][1], vmin), vmax);
    if (nc == NR) {
      if (res != nullptr) {
        const float* ri = res + i * res_stride;
        vst1q_f32(ci, vaddq_f32(v0, vld1q_f32(ri)));
        vst1q_f32(ci + 4, vaddq_f32(v1, vld1q_f32(ri + 4)));
      } else {
        vst1q_f32(ci, v0);
        vst1q_f32(ci + 4, v1);
      }
    } else {
      float tmp[8];
      vst1q_f32(tmp, v0);
      vst1q_f32(tmp + 4, v1);
      for (size_t j = 0; j < nc; ++j)
        ci[j] = res != nullptr ? tmp[j] + res[i * res_stride + j] : tmp[j];
    }
  }
}

typedef void (*TileFn)(size_t, const float*, size_t, const size_t*, const float*, float*, size_t,
                       const float*, size_t, size_t, float32x4_t, float32x4_t);
template <bool IND>
struct Tiles {
  static constexpr TileFn table[MR + 1] = {nullptr, tile<IND, 1>, tile<IND, 2>, tile<IND, 3>, tile<IND, 4>, tile<IND, 5>, tile<IND, 6>};
};
template <bool IND>
constexpr TileFn Tiles<IND>::table[MR + 1];

template <bool IND>
void gemm(size_t m, size_t n, size_t k, const float* a, size_t a_stride, const size_t* koff,
          const float* w, float* c, size_t c_stride, const float* res, size_t res_stride,
          float minv, float maxv) {
  const float32x4_t vmin = vdupq_n_f32(minv);
  const float32x4_t vmax = vdupq_n_f32(maxv);
  const size_t panel = NR * (k + 1);
  for (size_t n0 = 0; n0 < n; n0 += NR, w += panel) {
    const size_t nc = n - n0 < NR ? n - n0 : NR;
    for (size_t r0 = 0; r0 < m; r0 += MR) {
      const size_t mr = m - r0 < MR ? m - r0 : MR;
      Tiles<IND>::table[mr](k, a + r0 * a_stride, a_stride, koff, w, c + r0 * c_stride + n0,
                            c_stride, res != nullptr ? res + r0 * res_stride + n0 : nullptr,
                            res_stride, nc, vmin, vmax);
    }
  }
}

}  // namespace

void gemm_neon(size_t m, size_t n, size_t k, const float* a, size_t a_stride, const float* w,
              float* c, size_t c_stride, const float* res, size_t res_stride, float minv,
              float maxv) {
  gemm<false>(m, n, k, a, a_stride, nullptr, w, c, c_stride, res, res_stride, minv, maxv);
}

void igemm_neon(size_t m, size_t n, size_t k, const float* a, size_t a_step, const size_t* koff,
               const float* w, float* c, size_t c_stride, float minv, float maxv) {
  gemm<true>(m, n, k, a, a_step, koff, w, c, c_stride, nullptr, 0, minv, maxv);
}

}  // namespace mn
#endif
