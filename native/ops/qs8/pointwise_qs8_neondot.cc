// NEON dot-product int8 GEMM (format S8, Armv8.2 SDOT): panels of 8 channels x groups of 4 k as
// int8; one sdot adds 4 products per channel lane. The weight zero point's -w_zp * Σx comes in as
// rowcorr (qrowsum_neondot). Tiles of up to 4 rows x 8 channels.
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
  const int8_t* wp = reinterpret_cast<const int8_t*>(w + kNR * kQHeaderBytesPerChannel);
  const size_t groups = (k + 3) / 4;
  for (size_t g = 0; g < groups; ++g, wp += 32) {
    const int8x16_t w0 = vld1q_s8(wp), w1 = vld1q_s8(wp + 16);
    for (int i = 0; i < MR; ++i) {
      int32_t four;
      __builtin_memcpy(&four, a + i * a_stride + 4 * g, 4);
      const int8x16_t x = vreinterpretq_s8_s32(vdupq_n_s32(four));
      acc[i][0] = vdotq_s32(acc[i][0], w0, x);
      acc[i][1] = vdotq_s32(acc[i][1], w1, x);
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

void qgemm_neondot(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w, size_t w_stride,
                const int32_t* rowcorr, int8_t* c, size_t c_stride, const QOut* out) {
  tile_gemm<kNR, Tiles<FixedPoint4>>(m, n, k, a, a_stride, w, w_stride, rowcorr, c, c_stride, out);
}

void qgemm_fp32_neondot(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w,
                     size_t w_stride, const int32_t* rowcorr, int8_t* c, size_t c_stride, const QOut* out) {
  const NearestRounding nearest;
  tile_gemm<kNR, Tiles<Fp32Requant4>>(m, n, k, a, a_stride, w, w_stride, rowcorr, c, c_stride, out);
}

void qrowsum_neondot(size_t m, size_t k, const int8_t* a, size_t a_stride, int32_t mult, int32_t* out) {
  const int8x16_t ones = vdupq_n_s8(1);
  for (size_t i = 0; i < m; ++i) {
    const int8_t* row = a + i * a_stride;
    int32x4_t sum = vdupq_n_s32(0);
    size_t p = 0;
    for (; p + 16 <= k; p += 16) sum = vdotq_s32(sum, vld1q_s8(row + p), ones);
    int32_t total = vaddvq_s32(sum);
    for (; p < k; ++p) total += row[p];
    out[i] = (int32_t)((uint32_t)total * (uint32_t)mult);
  }
}

}  // namespace mn
