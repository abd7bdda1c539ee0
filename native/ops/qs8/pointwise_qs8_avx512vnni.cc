// AVX-512 VNNI int8 GEMM (format S8Xor): panels of 16 channels x groups of 4 k; each A value is
// broadcast as 4 bytes, and tiles of up to 6 rows x 4 panels keep 24 accumulators in registers.
// vpdpbusd multiplies unsigned by signed bytes: without a rowcorr (w_zp = 0) A is flipped to
// x + 128 per row and group (the 128 * Σw it adds is in the bias); with one (w_zp != 0) the
// weights were packed as w + 128 and A goes in as it is (the 128 * Σx is in the rowcorr). Also
// the row sums of the S8 formats' rowcorr.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"
#include "requant_avx512vnni.h"

namespace mn {
namespace {

const size_t kNR = 16;
const size_t kHeader = kNR * kQHeaderBytesPerChannel;

// Requantizes and stores an MR x (16 * NV) tile of accumulators (n valid columns). finish64 narrows
// four vectors at a time: one row of 4 panels, two rows of 2, four rows of 1 (3 panels: a row and
// a vector of zeros).
// The accumulators are requantized panel by panel, so that one panel's constants (9 vectors) are
// live at a time: all NV panels' would not fit in the registers, and were copied to the stack on
// every tile. Not inlined: in the tile, GCC then kept the k loop's accumulators on the stack.
template <class Rq, int MR, int NV>
__attribute__((noinline)) void store_tile(const __m512i* acc, const uint8_t* w, size_t w_stride, int8_t* c, size_t c_stride, size_t n,
                const QOut* out) {
  constexpr int G = NV >= 3 ? 1 : 4 / NV;  // rows per group of four vectors
  alignas(64) __m512i req[MR * NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    const Rq rq = Rq::load(w + j * w_stride, kNR, 0, *out);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) _mm512_store_si512(req + i * NV + j, rq(_mm512_load_si512(acc + i * NV + j)));
  }
  const Out16 o = load_out16(*out);
  const __mmask64 mask = n >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
  for (int i0 = 0; i0 < MR; i0 += G) {
    __m512i r[4];
    for (int q = 0; q < 4; ++q) {
      const int i = i0 + q / NV, j = q % NV;
      r[q] = q < G * NV && i < MR && j < NV ? _mm512_load_si512(req + i * NV + j) : _mm512_setzero_si512();
    }
    const __m512i v = finish64(r[0], r[1], r[2], r[3], o);
    if (NV >= 3) {
      if (NV == 4 && n >= 64)
        _mm512_storeu_si512(c + i0 * c_stride, v);
      else
        _mm512_mask_storeu_epi8(c + i0 * c_stride, mask, v);
    } else if (NV == 2) {
      for (int g = 0; g < G && i0 + g < MR; ++g) {
        const __m256i row = g == 0 ? _mm512_castsi512_si256(v) : _mm512_extracti64x4_epi64(v, 1);
        if (n >= 32)
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + (i0 + g) * c_stride), row);
        else
          _mm256_mask_storeu_epi8(c + (i0 + g) * c_stride, (__mmask32)mask, row);
      }
    } else {
      for (int g = 0; g < G && i0 + g < MR; ++g) {
        const __m128i row = g == 0 ? _mm512_castsi512_si128(v)
                            : g == 1 ? _mm512_extracti32x4_epi32(v, 1)
                            : g == 2 ? _mm512_extracti32x4_epi32(v, 2)
                                     : _mm512_extracti32x4_epi32(v, 3);
        if (n >= 16)
          _mm_storeu_si128(reinterpret_cast<__m128i*>(c + (i0 + g) * c_stride), row);
        else
          _mm_mask_storeu_epi8(c + (i0 + g) * c_stride, (__mmask16)mask, row);
      }
    }
  }
}

// XW: A flipped (x + 128, unsigned operand) against int8 weights; else the weights (w + 128) are
// the unsigned operand and A is signed.
template <class Rq, int MR, int NV, bool XW>
void tile(size_t k, const int8_t* a, size_t a_stride, const uint8_t* w, size_t w_stride,
          const int32_t* rowcorr, int8_t* c, size_t c_stride, size_t n, const QOut* out) {
  // The accumulators live in registers through the k loop; GCC keeps them there only when every
  // loop over them is fully unrolled and the requantization reads them back from memory.
  __m512i acc[MR][NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) {
    const __m512i bias = _mm512_loadu_si512(w + j * w_stride);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
      acc[i][j] = rowcorr != nullptr ? _mm512_add_epi32(bias, _mm512_set1_epi32(rowcorr[i])) : bias;
  }
  const int8_t* ar[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) ar[i] = a + i * a_stride;
  const uint8_t* wp = w + kHeader;
  const __m512i flip = _mm512_set1_epi32((int)0x80808080u);
  const size_t groups = (k + 3) / 4;
  for (size_t g = 0; g < groups; ++g, wp += 64) {
    __m512i b[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) b[j] = _mm512_loadu_si512(wp + j * w_stride);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      int32_t four;
      __builtin_memcpy(&four, ar[i] + 4 * g, 4);
      const __m512i x = XW ? _mm512_xor_si512(_mm512_set1_epi32(four), flip) : _mm512_set1_epi32(four);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j)
        acc[i][j] = XW ? _mm512_dpbusd_epi32(acc[i][j], x, b[j]) : _mm512_dpbusd_epi32(acc[i][j], b[j], x);
    }
  }
  alignas(64) __m512i spill[MR * NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) _mm512_store_si512(spill + i * NV + j, acc[i][j]);
  store_tile<Rq, MR, NV>(spill, w, w_stride, c, c_stride, n, out);
}

typedef void (*TileFn)(size_t, const int8_t*, size_t, const uint8_t*, size_t, const int32_t*, int8_t*,
                       size_t, size_t, const QOut*);

template <class Rq, bool XW>
struct Tiles {
  static constexpr TileFn fn[6][4] = {
      {tile<Rq, 1, 1, XW>, tile<Rq, 1, 2, XW>, tile<Rq, 1, 3, XW>, tile<Rq, 1, 4, XW>},
      {tile<Rq, 2, 1, XW>, tile<Rq, 2, 2, XW>, tile<Rq, 2, 3, XW>, tile<Rq, 2, 4, XW>},
      {tile<Rq, 3, 1, XW>, tile<Rq, 3, 2, XW>, tile<Rq, 3, 3, XW>, tile<Rq, 3, 4, XW>},
      {tile<Rq, 4, 1, XW>, tile<Rq, 4, 2, XW>, tile<Rq, 4, 3, XW>, tile<Rq, 4, 4, XW>},
      {tile<Rq, 5, 1, XW>, tile<Rq, 5, 2, XW>, tile<Rq, 5, 3, XW>, tile<Rq, 5, 4, XW>},
      {tile<Rq, 6, 1, XW>, tile<Rq, 6, 2, XW>, tile<Rq, 6, 3, XW>, tile<Rq, 6, 4, XW>},
  };
};

template <class Rq>
void gemm(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w, size_t w_stride,
          const int32_t* rowcorr, int8_t* c, size_t c_stride, const QOut* out) {
  const uint8_t* panels = static_cast<const uint8_t*>(w);
  const auto& tiles = rowcorr != nullptr ? Tiles<Rq, false>::fn : Tiles<Rq, true>::fn;
  for (size_t j0 = 0; j0 < n; j0 += 4 * kNR) {
    const size_t nb = n - j0 < 4 * kNR ? n - j0 : 4 * kNR;
    const size_t nv = (nb + kNR - 1) / kNR;
    const uint8_t* wj = panels + (j0 / kNR) * w_stride;
    for (size_t i0 = 0; i0 < m; i0 += 6) {
      const size_t mr = m - i0 < 6 ? m - i0 : 6;
      tiles[mr - 1][nv - 1](k, a + i0 * a_stride, a_stride, wj, w_stride,
                             rowcorr != nullptr ? rowcorr + i0 : nullptr, c + i0 * c_stride + j0, c_stride, nb, out);
    }
  }
}

}  // namespace

void qgemm_avx512vnni(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w,
                      size_t w_stride, const int32_t* rowcorr, int8_t* c, size_t c_stride,
                      const QOut* out) {
  gemm<FixedPoint16>(m, n, k, a, a_stride, w, w_stride, rowcorr, c, c_stride, out);
}

void qgemm_fp32_avx512vnni(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride, const void* w,
                           size_t w_stride, const int32_t* rowcorr, int8_t* c, size_t c_stride,
                           const QOut* out) {
  gemm<Fp32Requant16>(m, n, k, a, a_stride, w, w_stride, rowcorr, c, c_stride, out);
}

namespace {

// 64-byte partial sums of one row: Σ of each 4 bytes, over all of the row's 64-byte chunks.
inline __m512i row_partials(const int8_t* row, size_t k, __mmask64 tail) {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i sum = _mm512_setzero_si512();
  size_t p = 0;
  for (; p + 64 <= k; p += 64) sum = _mm512_dpbusd_epi32(sum, ones, _mm512_loadu_si512(row + p));
  if (p < k) sum = _mm512_dpbusd_epi32(sum, ones, _mm512_maskz_loadu_epi8(tail, row + p));
  return sum;
}

// Two rows' partials -> in each 128-bit lane [a, b, a, b] (halves of that lane's sums).
inline __m512i fold2(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
}

// Two fold2 results (rows a, b and c, d) -> in each 128-bit lane [a, b, c, d] (that lane's sums).
inline __m512i fold4(__m512i ab, __m512i cd) {
  return _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
}

}  // namespace

void qrowsum_avx512vnni(size_t m, size_t k, const int8_t* a, size_t a_stride, int32_t mult, int32_t* out) {
  const __mmask64 tail = k % 64 == 0 ? ~(__mmask64)0 : (((__mmask64)1 << (k % 64)) - 1);
  const __m512i multv = _mm512_set1_epi32(mult);
  size_t i = 0;
  // 16 rows at a time: their partials summed across lanes by a transpose tree, one vector out
  // (a horizontal sum per row costs ~8 operations, more than a small k's dpbusd).
  for (; i + 16 <= m; i += 16) {
    const int8_t* rows = a + i * a_stride;
    __m512i q[4];
    for (int g = 0; g < 4; ++g) {
      const int8_t* r = rows + 4 * g * a_stride;
      q[g] = fold4(fold2(row_partials(r, k, tail), row_partials(r + a_stride, k, tail)),
                   fold2(row_partials(r + 2 * a_stride, k, tail), row_partials(r + 3 * a_stride, k, tail)));
    }
    // q[g], lane L: rows 4g..4g+3 summed over lane L. Sum the lanes, rows 4g.. landing in lane g.
    const __m512i h01 = _mm512_add_epi32(_mm512_shuffle_i32x4(q[0], q[1], 0x44), _mm512_shuffle_i32x4(q[0], q[1], 0xEE));
    const __m512i h23 = _mm512_add_epi32(_mm512_shuffle_i32x4(q[2], q[3], 0x44), _mm512_shuffle_i32x4(q[2], q[3], 0xEE));
    const __m512i sums = _mm512_add_epi32(_mm512_shuffle_i32x4(h01, h23, 0x88), _mm512_shuffle_i32x4(h01, h23, 0xDD));
    _mm512_storeu_si512(out + i, _mm512_mullo_epi32(sums, multv));
  }
  for (; i < m; ++i)
    out[i] = (int32_t)((uint32_t)_mm512_reduce_add_epi32(row_partials(a + i * a_stride, k, tail)) * (uint32_t)mult);
}

}  // namespace mn
