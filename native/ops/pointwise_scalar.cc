// Portable GEMM microkernel (no ISA flags): 4 pixels x 8 output channels, plain loops that the
// compiler may auto-vectorise with the baseline ISA. Bias + clamp (+ residual) fused in the store.
#include <stddef.h>

#include "../kernels.h"

namespace mn {
namespace {

const size_t MR = kScalarMR;
const size_t NR = kScalarNR;

// IND: row i of A is a + i*a_stride and its element p is at koff[p] (indirect GEMM: a
// convolution reading its input in place); otherwise element p is at p.
template <bool IND, int R>
void tile(size_t k, const float* a, size_t a_stride, const size_t* koff, const float* w, float* c, size_t c_stride,
          const float* res, size_t res_stride, size_t nc, float minv, float maxv) {
  float acc[R][NR];
  for (int i = 0; i < R; ++i)
    for (size_t j = 0; j < NR; ++j) acc[i][j] = w[j];
  w += NR;
  for (size_t p = 0; p < k; ++p) {
    const size_t off = IND ? koff[p] : p;
    for (int i = 0; i < R; ++i) {
      const float av = a[i * a_stride + off];
      for (size_t j = 0; j < NR; ++j) acc[i][j] += av * w[j];
    }
    w += NR;
  }
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * c_stride;
    for (size_t j = 0; j < nc; ++j) {
      float v = acc[i][j];
      v = v < minv ? minv : v;
      v = v > maxv ? maxv : v;
      if (res != nullptr) v += res[i * res_stride + j];
      ci[j] = v;
    }
  }
}

typedef void (*TileFn)(size_t, const float*, size_t, const size_t*, const float*, float*, size_t,
                       const float*, size_t, size_t, float, float);
template <bool IND>
struct Tiles {
  static constexpr TileFn table[MR + 1] = {nullptr, tile<IND, 1>, tile<IND, 2>, tile<IND, 3>, tile<IND, 4>};
};
template <bool IND>
constexpr TileFn Tiles<IND>::table[MR + 1];

template <bool IND>
void gemm(size_t m, size_t n, size_t k, const float* a, size_t a_stride, const size_t* koff,
          const float* w, float* c, size_t c_stride, const float* res, size_t res_stride,
          float minv, float maxv) {
  const size_t panel = NR * (k + 1);
  for (size_t n0 = 0; n0 < n; n0 += NR, w += panel) {
    const size_t nc = n - n0 < NR ? n - n0 : NR;
    for (size_t r0 = 0; r0 < m; r0 += MR) {
      const size_t mr = m - r0 < MR ? m - r0 : MR;
      Tiles<IND>::table[mr](k, a + r0 * a_stride, a_stride, koff, w, c + r0 * c_stride + n0,
                            c_stride, res != nullptr ? res + r0 * res_stride + n0 : nullptr,
                            res_stride, nc, minv, maxv);
    }
  }
}

}  // namespace

void gemm_scalar(size_t m, size_t n, size_t k, const float* a, size_t a_stride, const float* w,
                float* c, size_t c_stride, const float* res, size_t res_stride, float minv,
                float maxv) {
  gemm<false>(m, n, k, a, a_stride, nullptr, w, c, c_stride, res, res_stride, minv, maxv);
}

void igemm_scalar(size_t m, size_t n, size_t k, const float* a, size_t a_step, const size_t* koff,
                 const float* w, float* c, size_t c_stride, float minv, float maxv) {
  gemm<true>(m, n, k, a, a_step, koff, w, c, c_stride, nullptr, 0, minv, maxv);
}

}  // namespace mn
