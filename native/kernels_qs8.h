// int8 (qs8) microkernel interface, apart from the fp32 one in kernels.h: kernels named op x ISA
// (ops/qs8/<op>_qs8_<isa>.cc) that know nothing about plans or threads. Every kernel is bit-exact
// with the integer reference (src/engine/int8/ops.ts): int32 accumulation (wrapping), then one of
// the plan's two requantization schemes (QPlan.rounding), each a separate entry of the table chosen
// once per step: TFLite's MultiplyByQuantizedMultiplier with double rounding, or XNNPACK's float32
// scale rounded to nearest-even (the *_fp32 entries); then the output zero point and the clamps.
//
// IMPORTANT: included by files compiled with ISA flags. Plain declarations only (see kernels.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace mn {

// The output stage shared by all channels of a step: out = clamp(r, lo, hi) + zero, where r is the
// requantized accumulator and lo / hi are the activation bounds minus the zero point (clamping
// before adding the zero point cannot overflow, and gives the reference's mathematical result).
struct QOut {
  int32_t zero;
  int32_t lo;
  int32_t hi;
};

// Per-channel requantization of a packed block of `nr` channels (a GEMM panel or a depthwise
// block) starts with this header, arrays of nr values each, in this order:
//   int32 bias[nr]    the bias with every zero-point term folded in (see the formats below)
//   int32 mult[nr]    Q0.31 multiplier M, 0 <= M < 2^31
//   int32 left[nr]    left shift (TFLite shift > 0), else 0
//   int32 right[nr]   right shift (TFLite shift < 0), else 0
//   int64 nudge[nr]   2^30, plus 2^(30+right) when right > 0
//   int64 neg[nr]     0x80000000 when right > 0, else 0
//   int64 shr[nr]     31 + right
// The int64 arrays are "lane-split" for SIMD code working on `lanes` channels at a time: within
// each group of `lanes` channels the even channels come first, then the odd ones (lanes <= 1: in
// channel order). With a = acc << left (wrapping), TFLite's
//   RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(a, M), right)
// equals, for M >= 0, the single 64-bit expression
//   (a * M + nudge - (a < 0 ? neg : 0)) >> shr          (arithmetic shift)
// (SRDHM rounds a*M / 2^31 half up: (a*M + 2^30) >> 31 for either sign; the rounding of the right
// shift, half away from zero, folds in as 2^(right-1) - [h < 0] times 2^31, and h < 0 can be read
// off a < 0 because |a| * M >= 2^30 whenever a != 0 and M != 0).
// The 'xnnpack' scheme (the *_fp32 kernels) uses the same header size and reads only two arrays:
//   int32 bias[nr]    as above
//   float scale[nr]   in mult's place: out = rint(float32(float32(acc) * scale)), halves to even
// (the rest is zero). A product beyond the int32 range is clamped to the upper bound in float
// before converting (conversions of larger values give INT32_MIN); rounding commutes with the
// clamp as the bounds are integers.
enum : size_t { kQHeaderBytesPerChannel = 4 * 4 + 3 * 8 };

// How a kernel table wants its GEMM weights. k is padded with zero weights to a multiple of the
// group; a panel is [header][ceil(k / group) groups of nr channels x group weights].
//   S8Xor:   VNNI vpdpbusd (unsigned x signed bytes), one of two ways, told apart by the rowcorr:
//            - w_zp = 0 (no rowcorr): int8 w; the kernel feeds x + 128 (x ^ 0x80) as the unsigned
//              operand. bias = b - (128 + x_zp) * Σw.
//            - w_zp != 0 (a rowcorr, always passed, even when its multiplier is 0): w + 128
//              (w ^ 0x80) as the unsigned operand and x signed, so that A goes in as a plain
//              4-byte broadcast, with no flip per row and group; Σ(w + 128)·x = Σw·x + 128·Σx.
//              bias = b - x_zp * Σw + k * w_zp * x_zp; rowcorr[i] = -(128 + w_zp) * Σ_p x[i][p].
//   S8:      int8 w, signed x (NEON sdot). bias = b - x_zp * Σw + k * w_zp * x_zp;
//            rowcorr[i] = -w_zp * Σ_p x[i][p] when w_zp != 0.
//   S16:     int16 w - w_zp (always fits), signed x. bias = b - x_zp * Σ(w - w_zp); no rowcorr.
enum class QGemmFormat : uint8_t { S8Xor, S8, S16 };

// Depthwise weights (w' = w - w_zp per tap; int16 always holds it) and the rows the 3x3 kernel
// reads. Before the kernel runs, each input row is "built" into the layout its table wants, padded
// with the input zero point, so that the kernel needs no bounds and x_zp can sit in the bias:
//   I16, I16Z32 (Padded rows): the input row with pixels of the pad value around it; output pixel
//     x reads built pixels x * stride + {0, 1, 2}. Weights: 9 taps x cb int16 (I16), or one int32
//     per weight whose low half is the int16 value and high half 0 (I16Z32: multiplied against
//     sign-extended int32 inputs by vpmaddwd / vpdpwssd). bias = b - x_zp * Σ_t w'_t.
//   S8Taps4 (Taps4 rows, built by the table's dw_build): per output pixel x and channel c the
//     4 bytes (x(p, c) ^ 0x80 for p = x*stride - pad_left + {0, 1, 2}, then 0): one vpdpbusd per
//     kernel row multiplies them by 4 int8 weights (w'(ky, 0..2), 0). Channels are padded to a
//     multiple of 16; a pixel's 4 * that many bytes hold channels 16v..16v+15 in 64-byte vector v.
//     A block of 16 channels: [header][int32 sets, padded to 64 bytes][sets x 3 kernel rows x 64
//     bytes]: `sets` (1-3) int8 parts of w' summing to it, as many as this block's w' need (one
//     when they fit int8; the uint8 files' w' can need two, rarely three). Blocks are as far apart
//     as the step's largest needs. bias = b - (128 + x_zp) * Σ_t w'_t.
enum class QDwFormat : uint8_t { I16, I16Z32, S8Taps4 };

// C[m x n] = out(requant(bias + rowcorr[i] + Σ_p w[j][p] * x[i][p])), int8.
// A rows are a_stride bytes apart; the kernel may read up to 3 bytes past a row's k values (their
// weights are zero) and so past the end of the last row. `w` points at the panel of output channel
// 0 of this call; panels are w_stride bytes apart. rowcorr: m values, or nullptr (= zeros).
typedef void (*QGemmFn)(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride,
                        const void* w, size_t w_stride, const int32_t* rowcorr, int8_t* c,
                        size_t c_stride, const QOut* out);

// out[i] = mult * Σ_{p < k} a[i * a_stride + p] (wrapping int32): the rowcorr of the S8 formats.
typedef void (*QRowSumFn)(size_t m, size_t k, const int8_t* a, size_t a_stride, int32_t mult,
                          int32_t* out);

// One output row of a 3x3 depthwise convolution over `channels` channels (NHWC) from three built
// rows (see QDwFormat; stride matters for Padded rows only). Packed in blocks of `cb` channels,
// w_stride bytes apart: [header][weights]. The kernel may read past the last channel of a pixel
// (weights there are zero).
typedef void (*QDw3x3Fn)(const int8_t* const* rows, size_t stride, size_t out_w, size_t channels,
                         const void* w, size_t w_stride, int8_t* out, const QOut* q);

// Builds the Taps4 row of input row `in` (in_w pixels x channels; nullptr: a row of pad values
// above or below the image) for out_w output pixels.
typedef void (*QDwBuildFn)(const int8_t* in, size_t in_w, size_t stride, size_t pad_left,
                           size_t out_w, size_t channels, int8_t pad, int8_t* out);

// One scalar requantization, in the header's form (see above).
struct QRequant {
  int32_t mult, left, right;
  int64_t nudge, neg, shr;
};

// TFLite's 8-bit ADD (reference add.h): each input (q + offset) << shift_in is requantized, the
// two summed (wrapping), the sum requantized, clamped to [lo, hi] and the zero point added.
struct QAddParams {
  int32_t offset1, offset2, shift_in;
  QRequant in1, in2, sum;
  QOut out;
};

// XNNPACK's 8-bit ADD (the 'xnnpack' scheme, the add_xnn entries): clamp(((bias + a * mult_a +
// b * mult_b) >> shift) + zero) on the storage values (mult < 2^21, |terms| < 2^30: no overflow).
struct QAddXnnParams {
  int32_t mult_a, mult_b, bias, shift;
  QOut out;
};

// out[i] = ADD(a[i], b[i]) for i < n; out may be a or b.
typedef void (*QAddFn)(size_t n, const int8_t* a, const int8_t* b, int8_t* out,
                       const QAddParams* p);
typedef void (*QAddXnnFn)(size_t n, const int8_t* a, const int8_t* b, int8_t* out,
                          const QAddXnnParams* p);

struct QKernels {
  const char* name;
  size_t gemm_mr;       // rows per microkernel tile (operators split work in whole tiles)
  size_t gemm_nr;       // output channels per packed panel
  size_t gemm_kgroup;   // k values per packed group
  QGemmFormat gemm_format;
  size_t lanes;         // the lane split of the header's int64 arrays
  size_t dw_cb;         // channels per packed depthwise block
  QDwFormat dw_format;
  QGemmFn gemm;
  QRowSumFn rowsum;     // nullptr when gemm_format is S16
  QDw3x3Fn dw3x3;
  QDwBuildFn dw_build;  // S8Taps4 only (Padded rows are built by generic code)
  QAddFn add;
  // The 'xnnpack' scheme's entries: the same formats and packing, XNNPACK's requantization.
  QGemmFn gemm_fp32;
  QDw3x3Fn dw3x3_fp32;
  QAddXnnFn add_xnn;
};

void qgemm_scalar(size_t, size_t, size_t, const int8_t*, size_t, const void*, size_t,
                  const int32_t*, int8_t*, size_t, const QOut*);
void qdw3x3_scalar(const int8_t* const*, size_t, size_t, size_t, const void*, size_t, int8_t*,
                   const QOut*);
void qadd_scalar(size_t, const int8_t*, const int8_t*, int8_t*, const QAddParams*);
void qgemm_fp32_scalar(size_t, size_t, size_t, const int8_t*, size_t, const void*, size_t,
                       const int32_t*, int8_t*, size_t, const QOut*);
void qdw3x3_fp32_scalar(const int8_t* const*, size_t, size_t, size_t, const void*, size_t, int8_t*,
                        const QOut*);
void qadd_xnn_scalar(size_t, const int8_t*, const int8_t*, int8_t*, const QAddXnnParams*);

void qgemm_avx2(size_t, size_t, size_t, const int8_t*, size_t, const void*, size_t,
                const int32_t*, int8_t*, size_t, const QOut*);
void qdw3x3_avx2(const int8_t* const*, size_t, size_t, size_t, const void*, size_t, int8_t*,
                 const QOut*);
void qadd_avx2(size_t, const int8_t*, const int8_t*, int8_t*, const QAddParams*);
void qgemm_fp32_avx2(size_t, size_t, size_t, const int8_t*, size_t, const void*, size_t,
                     const int32_t*, int8_t*, size_t, const QOut*);
void qdw3x3_fp32_avx2(const int8_t* const*, size_t, size_t, size_t, const void*, size_t, int8_t*,
                      const QOut*);
void qadd_xnn_avx2(size_t, const int8_t*, const int8_t*, int8_t*, const QAddXnnParams*);

void qgemm_avx512vnni(size_t, size_t, size_t, const int8_t*, size_t, const void*, size_t,
                      const int32_t*, int8_t*, size_t, const QOut*);
void qrowsum_avx512vnni(size_t, size_t, const int8_t*, size_t, int32_t, int32_t*);
void qdw3x3_avx512vnni(const int8_t* const*, size_t, size_t, size_t, const void*, size_t, int8_t*,
                       const QOut*);
void qdw_build_avx512vnni(const int8_t*, size_t, size_t, size_t, size_t, size_t, int8_t, int8_t*);
void qadd_avx512vnni(size_t, const int8_t*, const int8_t*, int8_t*, const QAddParams*);
void qgemm_fp32_avx512vnni(size_t, size_t, size_t, const int8_t*, size_t, const void*, size_t,
                           const int32_t*, int8_t*, size_t, const QOut*);
void qdw3x3_fp32_avx512vnni(const int8_t* const*, size_t, size_t, size_t, const void*, size_t, int8_t*,
                            const QOut*);
void qadd_xnn_avx512vnni(size_t, const int8_t*, const int8_t*, int8_t*, const QAddXnnParams*);

void qgemm_neon(size_t, size_t, size_t, const int8_t*, size_t, const void*, size_t,
                const int32_t*, int8_t*, size_t, const QOut*);
void qdw3x3_neon(const int8_t* const*, size_t, size_t, size_t, const void*, size_t, int8_t*,
                 const QOut*);
void qadd_neon(size_t, const int8_t*, const int8_t*, int8_t*, const QAddParams*);
void qgemm_fp32_neon(size_t, size_t, size_t, const int8_t*, size_t, const void*, size_t,
                     const int32_t*, int8_t*, size_t, const QOut*);
void qdw3x3_fp32_neon(const int8_t* const*, size_t, size_t, size_t, const void*, size_t, int8_t*,
                      const QOut*);
void qadd_xnn_neon(size_t, const int8_t*, const int8_t*, int8_t*, const QAddXnnParams*);

void qgemm_neondot(size_t, size_t, size_t, const int8_t*, size_t, const void*, size_t,
                   const int32_t*, int8_t*, size_t, const QOut*);
void qrowsum_neondot(size_t, size_t, const int8_t*, size_t, int32_t, int32_t*);
void qgemm_fp32_neondot(size_t, size_t, size_t, const int8_t*, size_t, const void*, size_t,
                        const int32_t*, int8_t*, size_t, const QOut*);

}  // namespace mn
