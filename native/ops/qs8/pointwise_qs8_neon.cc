// NEON int8 GEMM (format S16): panels of 8 channels x k int16 (w - w_zp); each A value widened to
// int16 multiplies a panel row into two int32x4 accumulators (vmlal). Tiles of up to 4 rows.
#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"
#include "requant_neon.h"
#include "tile_gemm.h"

namespace mn {
namespace {

const size_t kNR = 8;

template <class Rq, int MR>
void tile(size_t k, const int8_t* a, size_t a_stride, const uint8_t* w, const int32_t* rowcorr, int8_t* c,
          size_t c_stride, size_t n, const QOut* out) {
  const int32_t* bias = reinterpret_cast<const int32_t*>(w);
  int32x4_t acc[MR][2];
  for (int i = 0; i < MR; ++i) {
    const int32x4_t rc = vdupq_n_s32(rowcorr != nullptr ? rowcorr[i] : 0);
    acc[i][0] = vaddq_s32(vld1q_s32(bias), rc);
    acc[i][1] = vaddq_s32(vld1q_s32(bias + 4), rc);
  }
  const int16_t* wp = reinterpret_cast<const int16_t*>(w + kNR * kQHeaderBytesPerChannel);
  for (size_t p = 0; p < k; ++p, wp += kNR) {
    const int16x8_t wv = vld1q_s16(wp);
    for (int i = 0; i < MR; ++i) {
      const int16_t x = a[i * a_stride + p];
      acc[i][0] = vmlal_n_s16(acc[i][0], vget_low_s16(wv), x);
      acc[i][1] = vmlal_high_n_s16(acc[i][1], wv, x);
    }
  }
  const Rq r0 = Rq::load(w, kNR, 0, *out), r1 = Rq::load(w, kNR, 1, *out);
  const Out4 o = load_out4(*out);
  for (int i = 0; i < MR; ++i) store8(c + i * c_stride, finish8(r0(acc[i][0]), r1(acc[i][1]), o), n);
}

template <class Rq>
struct Tiles {
  static constexpr QTileFn fn[4] = {tile<Rq, 1>, tile<Rq, 2>, tile<Rq, 3>, tile<Rq, 4>};
};

}  // namespace

void qgemm_neon(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w, size_t w_stride,
                const int32_t* rowcorr, int8_t* c, size_t c_stride, const QOut* out) {
  tile_gemm<kNR, Tiles<FixedPoint4>>(m, n, k, a, a_stride, w, w_stride, rowcorr, c, c_stride, out);
}

void qgemm_fp32_neon(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w,
                     size_t w_stride, const int32_t* rowcorr, int8_t* c, size_t c_stride, const QOut* out) {
  const NearestRounding nearest;
  tile_gemm<kNR, Tiles<Fp32Requant4>>(m, n, k, a, a_stride, w, w_stride, rowcorr, c, c_stride, out);
}

}  // namespace mn
