// Portable int8 GEMM (format S16: centered int16 weights, the input zero point in the bias), a
// plain statement of the arithmetic; also what CPUs without a SIMD table run. Both requantization
// schemes (requant.h's header policies).
#include "../../kernels_qs8.h"
#include "requant.h"

namespace mn {
namespace {

template <class Requant>
MN_NOINLINE void gemm(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w, size_t w_stride,
          const int32_t* rowcorr, int8_t* c, size_t c_stride, const QOut* out) {
  const size_t nr = 8;
  for (size_t j0 = 0; j0 < n; j0 += nr) {
    const uint8_t* panel = static_cast<const uint8_t*>(w) + (j0 / nr) * w_stride;
    const int32_t* bias = reinterpret_cast<const int32_t*>(panel);
    const Requant requant(panel, nr, *out);
    const int16_t* wt = reinterpret_cast<const int16_t*>(panel + nr * kQHeaderBytesPerChannel);
    const size_t nc = n - j0 < nr ? n - j0 : nr;
    for (size_t i = 0; i < m; ++i) {
      const int8_t* x = a + i * a_stride;
      uint32_t acc[nr];
      for (size_t j = 0; j < nr; ++j)
        acc[j] = (uint32_t)bias[j] + (rowcorr != nullptr ? (uint32_t)rowcorr[i] : 0u);
      for (size_t p = 0; p < k; ++p) {
        const int32_t xv = x[p];
        const int16_t* wp = wt + p * nr;
        for (size_t j = 0; j < nr; ++j) acc[j] += (uint32_t)(wp[j] * xv);
      }
      int8_t* dst = c + i * c_stride + j0;
      for (size_t j = 0; j < nc; ++j) dst[j] = requant((int32_t)acc[j], j, *out);
    }
  }
}

}  // namespace

void qgemm_scalar(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w,
                  size_t w_stride, const int32_t* rowcorr, int8_t* c, size_t c_stride,
                  const QOut* out) {
  gemm<FixedPointHeader>(m, n, k, a, a_stride, w, w_stride, rowcorr, c, c_stride, out);
}

void qgemm_fp32_scalar(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w,
                       size_t w_stride, const int32_t* rowcorr, int8_t* c, size_t c_stride,
                       const QOut* out) {
  const NearestRounding nearest;
  gemm<Fp32Header>(m, n, k, a, a_stride, w, w_stride, rowcorr, c, c_stride, out);
}

}  // namespace mn
