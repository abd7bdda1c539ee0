// AVX-512 3x3 depthwise row kernel, 16 channels per zmm (a channel block; its 9 taps + bias in
// registers while in use). Adjacent outputs go in groups of up to 8 that share their input
// loads: 8 outputs at stride 1 read 10 input columns x 3 rows = 30 vectors for 72 FMAs (one
// output at a time loads 9 per 9 FMAs and is bound by loads). Border outputs (an input column
// outside the row) go one at a time with per-column validity. Two sweep orders:
//  - long rows: each group of outputs runs over all channel blocks, i.e. reads contiguous
//    memory. Sweeping one channel block along a long row instead strides by the pixel size,
//    which for power-of-two channel counts maps the row onto a few L1 sets (1.5-2x slower);
//  - short rows (< 16 outputs): each channel block sweeps the whole row, loading its taps once
//    (per group they would be reloaded for as few as 1-2 outputs).
// Channel tails by load/store masks; padding rows are a caller-supplied zero row.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <stddef.h>

#include "../kernels.h"

namespace mn {
namespace {

const size_t CB = kAvx512CB;
const size_t kShortRow = 16;

struct Row {
  const float* r[3];  // the three input rows, at channel 0
  size_t in_w, stride, pad_left, C;
  float* out;
  __m512 vmin, vmax;
};

// One channel block: taps k[ky * 3 + kx], bias, lanes in use.
struct Block {
  size_t c0;
  __mmask16 mask;
  __m512 bias, k[9];
};

#define MN_INLINE inline __attribute__((always_inline))

MN_INLINE Block load_block(const float* w, size_t c0, size_t C) {
  Block b;
  const size_t cr = C - c0 < CB ? C - c0 : CB;
  b.c0 = c0;
  b.mask = cr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cr) - 1u);
  b.bias = _mm512_load_ps(w);
  for (int i = 0; i < 9; ++i) b.k[i] = _mm512_load_ps(w + CB * (1 + i));
  return b;
}

// Outputs x .. x+NX-1 of block b, all of whose input columns are inside the row.
template <int S, int NX>
MN_INLINE void group(const Row& row, const Block& b, size_t x) {
  const size_t C = row.C;
  const size_t off = (x * S - row.pad_left) * C + b.c0;
  const float* p0 = row.r[0] + off;
  const float* p1 = row.r[1] + off;
  const float* p2 = row.r[2] + off;
  __m512 acc[NX];
#pragma GCC unroll 8
  for (int j = 0; j < NX; ++j) acc[j] = b.bias;
#pragma GCC unroll 24
  for (int c = 0; c < (NX - 1) * S + 3; ++c) {
    __m512 v0 = _mm512_maskz_loadu_ps(b.mask, p0);
    __m512 v1 = _mm512_maskz_loadu_ps(b.mask, p1);
    __m512 v2 = _mm512_maskz_loadu_ps(b.mask, p2);
    // Two compiler barriers: one keeps the three loaded vectors (left alone, GCC reorders the
    // FMAs output by output and loads every vector once per use, 72 loads instead of 30); one
    // walks the columns by pointer increments (else it precomputes an address per column and,
    // short of registers, reloads them from the stack: a scalar load per vector load).
    __asm__("" : "+v"(v0), "+v"(v1), "+v"(v2));
    p0 += C;
    p1 += C;
    p2 += C;
    __asm__("" : "+r"(p0), "+r"(p1), "+r"(p2));
#pragma GCC unroll 8
    for (int j = 0; j < NX; ++j) {
      const int kx = c - j * S;
      if (kx >= 0 && kx < 3) {
        acc[j] = _mm512_fmadd_ps(v0, b.k[kx], acc[j]);
        acc[j] = _mm512_fmadd_ps(v1, b.k[3 + kx], acc[j]);
        acc[j] = _mm512_fmadd_ps(v2, b.k[6 + kx], acc[j]);
      }
    }
  }
  float* o = row.out + x * C + b.c0;
#pragma GCC unroll 8
  for (int j = 0; j < NX; ++j)
    _mm512_mask_storeu_ps(o + (size_t)j * C, b.mask,
                          _mm512_min_ps(_mm512_max_ps(acc[j], row.vmin), row.vmax));
}

// Output x of block b, whose input columns may fall outside [0, in_w).
MN_INLINE void border(const Row& row, const Block& b, size_t x) {
  const size_t C = row.C;
  const ptrdiff_t ix = (ptrdiff_t)(x * row.stride) - (ptrdiff_t)row.pad_left;
  __m512 acc = b.bias;
  for (ptrdiff_t kx = 0; kx < 3; ++kx) {
    if (ix + kx < 0 || ix + kx >= (ptrdiff_t)row.in_w) continue;
    const size_t off = (size_t)(ix + kx) * C + b.c0;
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(b.mask, row.r[0] + off), b.k[kx], acc);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(b.mask, row.r[1] + off), b.k[3 + kx], acc);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(b.mask, row.r[2] + off), b.k[6 + kx], acc);
  }
  _mm512_mask_storeu_ps(row.out + x * C + b.c0, b.mask,
                        _mm512_min_ps(_mm512_max_ps(acc, row.vmin), row.vmax));
}

// Long rows: interior groups [x, x+NX) over all blocks.
template <int S, int NX>
void group_all_blocks(const Row& row, const float* w, size_t x) {
  for (size_t c0 = 0; c0 < row.C; c0 += CB, w += CB * 10) group<S, NX>(row, load_block(w, c0, row.C), x);
}

void border_all_blocks(const Row& row, const float* w, size_t x) {
  for (size_t c0 = 0; c0 < row.C; c0 += CB, w += CB * 10) border(row, load_block(w, c0, row.C), x);
}

template <int S>
void long_row(const Row& row, const float* w, size_t xa, size_t xb, size_t out_w) {
  for (size_t x = 0; x < xa; ++x) border_all_blocks(row, w, x);
  size_t x = xa;
  for (; x + 8 <= xb; x += 8) group_all_blocks<S, 8>(row, w, x);
  if (x + 4 <= xb) {
    group_all_blocks<S, 4>(row, w, x);
    x += 4;
  }
  if (x + 2 <= xb) {
    group_all_blocks<S, 2>(row, w, x);
    x += 2;
  }
  if (x < xb) group_all_blocks<S, 1>(row, w, x);
  for (x = xb; x < out_w; ++x) border_all_blocks(row, w, x);
}

// Short rows: each block sweeps the row.
template <int S>
void short_row(const Row& row, const float* w, size_t xa, size_t xb, size_t out_w) {
  for (size_t c0 = 0; c0 < row.C; c0 += CB, w += CB * 10) {
    const Block b = load_block(w, c0, row.C);
    for (size_t x = 0; x < xa; ++x) border(row, b, x);
    size_t x = xa;
    for (; x + 8 <= xb; x += 8) group<S, 8>(row, b, x);
    if (x + 4 <= xb) {
      group<S, 4>(row, b, x);
      x += 4;
    }
    if (x + 2 <= xb) {
      group<S, 2>(row, b, x);
      x += 2;
    }
    if (x < xb) group<S, 1>(row, b, x);
    for (x = xb; x < out_w; ++x) border(row, b, x);
  }
}

// Any stride: every output through the border path.
void generic_row(const Row& row, const float* w, size_t out_w) {
  for (size_t c0 = 0; c0 < row.C; c0 += CB, w += CB * 10) {
    const Block b = load_block(w, c0, row.C);
    for (size_t x = 0; x < out_w; ++x) border(row, b, x);
  }
}

}  // namespace

void dw3x3_avx512(const float* const* rows, size_t in_w, size_t stride, size_t pad_left,
                  size_t out_w, size_t channels, const float* w, float* out, float minv,
                  float maxv) {
  const Row row = {{rows[0], rows[1], rows[2]}, in_w, stride, pad_left, channels, out,
                   _mm512_set1_ps(minv), _mm512_set1_ps(maxv)};
  // Interior outputs [xa, xb): x * stride >= pad_left and x * stride - pad_left + 2 < in_w.
  size_t xa = (pad_left + stride - 1) / stride;
  xa = xa < out_w ? xa : out_w;
  size_t xb = in_w + pad_left >= 3 ? (in_w + pad_left - 3) / stride + 1 : 0;
  xb = xb > out_w ? out_w : xb < xa ? xa : xb;
  const bool isShort = out_w < kShortRow;
  if (stride == 1)
    isShort ? short_row<1>(row, w, xa, xb, out_w) : long_row<1>(row, w, xa, xb, out_w);
  else if (stride == 2)
    isShort ? short_row<2>(row, w, xa, xb, out_w) : long_row<2>(row, w, xa, xb, out_w);
  else
    generic_row(row, w, out_w);
}

}  // namespace mn
#endif
