// AVX2 int8 GEMM (format S16): panels of 16 channels x pairs of k as int16 (w - w_zp); each pair
// of A values is sign-extended and broadcast, and vpmaddwd adds both products into int32 lanes
// (exact: no 8-bit saturation as with vpmaddubsw). Tiles of up to 4 rows x 16 channels.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"
#include "requant_avx2.h"
#include "tile_gemm.h"

namespace mn {
namespace {

const size_t kNR = 16;
const size_t kHeader = kNR * kQHeaderBytesPerChannel;

template <class Rq, int MR>
void tile(size_t k, const int8_t* a, size_t a_stride, const uint8_t* w, const int32_t* rowcorr,
          int8_t* c, size_t c_stride, size_t n, const QOut* out) {
  const __m256i bias0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
  const __m256i bias1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32));
  __m256i acc[MR][2];
  for (int i = 0; i < MR; ++i) {
    const __m256i rc = _mm256_set1_epi32(rowcorr != nullptr ? rowcorr[i] : 0);
    acc[i][0] = _mm256_add_epi32(bias0, rc);
    acc[i][1] = _mm256_add_epi32(bias1, rc);
  }
  const uint8_t* wp = w + kHeader;
  const size_t pairs = (k + 1) / 2;
  for (size_t g = 0; g < pairs; ++g, wp += 64) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + 32));
    for (int i = 0; i < MR; ++i) {
      int16_t two;
      __builtin_memcpy(&two, a + i * a_stride + 2 * g, 2);
      const __m256i x = _mm256_cvtepi8_epi16(_mm_set1_epi16(two));
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(x, w0));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(x, w1));
    }
  }
  const Rq rq0 = Rq::load(w, kNR, 0, *out), rq1 = Rq::load(w, kNR, 1, *out);
  const Out8 o = load_out8(*out);
  for (int i = 0; i < MR; ++i) {
    const __m128i v = narrow16(clamp8(rq0(acc[i][0]), o), clamp8(rq1(acc[i][1]), o));
    int8_t* dst = c + i * c_stride;
    if (n >= 16)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), v);
    else
      store_partial(dst, v, n);
  }
}

template <class Rq>
struct Tiles {
  static constexpr QTileFn fn[4] = {tile<Rq, 1>, tile<Rq, 2>, tile<Rq, 3>, tile<Rq, 4>};
};

}  // namespace

void qgemm_avx2(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w,
                size_t w_stride, const int32_t* rowcorr, int8_t* c, size_t c_stride, const QOut* out) {
  tile_gemm<kNR, Tiles<FixedPoint8>>(m, n, k, a, a_stride, w, w_stride, rowcorr, c, c_stride, out);
}

void qgemm_fp32_avx2(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w,
                     size_t w_stride, const int32_t* rowcorr, int8_t* c, size_t c_stride, const QOut* out) {
  const NearestRounding nearest;
  tile_gemm<kNR, Tiles<Fp32Requant8>>(m, n, k, a, a_stride, w, w_stride, rowcorr, c, c_stride, out);
}

}  // namespace mn
