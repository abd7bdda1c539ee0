// Microkernel interface shared by every ISA variant (XNNPACK-style: kernels are named op x ISA and
// know nothing about plans or threads; the operator code in ops/ plans the work and calls them).
//
// IMPORTANT: this header is included by files compiled with ISA flags (-mavx2, -mavx512f ...).
// It must stay plain C-like declarations: no inline functions, no templates, no std:: headers,
// otherwise an ISA-flavoured copy of an inline function could be picked by the linker for generic
// code that runs before dispatch.
#pragma once

#include <stddef.h>

namespace mn {

// C[m x n] = clamp(bias + A[m x k] * W, minv, maxv) (+ res[m x n] when res != nullptr).
// A rows are a_stride floats apart, C rows c_stride, res rows res_stride.
// W is packed in panels of `nr` output channels: panel p = [nr bias][k rows of nr weights],
// zero padded past n. The caller may pass a pointer to any panel (and n counted from there).
typedef void (*GemmFn)(size_t m, size_t n, size_t k, const float* a, size_t a_stride, const float* w,
                       float* c, size_t c_stride, const float* res, size_t res_stride, float minv,
                       float maxv);

// Indirect GEMM (a convolution reading its input in place, no im2col): like GemmFn without
// residual, but row i of A starts at a + i*a_step and its element p is at that row's [koff[p]].
typedef void (*IgemmFn)(size_t m, size_t n, size_t k, const float* a, size_t a_step,
                        const size_t* koff, const float* w, float* c, size_t c_stride, float minv,
                        float maxv);

// One output row of a 3x3 depthwise convolution with `channels` channels (NHWC, pixel stride =
// channels for input and output). rows[0..2] are the three input rows (a row of zeros for padding
// rows, at least in_w*channels floats long). Output pixel x reads input columns
// x*stride - pad_left + {0,1,2}; columns outside [0, in_w) are zero.
// W is packed in blocks of `cb` channels: block = [cb bias][9 taps (ky*3+kx) of cb weights].
typedef void (*Dw3x3Fn)(const float* const* rows, size_t in_w, size_t stride, size_t pad_left,
                        size_t out_w, size_t channels, const float* w, float* out, float minv,
                        float maxv);

struct Kernels {
  const char* name;
  size_t gemm_mr;  // rows (pixels) per GEMM microkernel tile
  size_t gemm_nr;  // output channels per packed GEMM panel
  size_t dw_cb;    // channels per packed depthwise block
  GemmFn gemm;
  IgemmFn igemm;
  Dw3x3Fn dw3x3;
};

// Per-ISA entry points (defined in ops/*_<isa>.cc).
void gemm_scalar(size_t, size_t, size_t, const float*, size_t, const float*, float*, size_t,
                 const float*, size_t, float, float);
void igemm_scalar(size_t, size_t, size_t, const float*, size_t, const size_t*, const float*, float*,
                 size_t, float, float);
void dw3x3_scalar(const float* const*, size_t, size_t, size_t, size_t, size_t, const float*, float*,
                  float, float);
void gemm_avx2(size_t, size_t, size_t, const float*, size_t, const float*, float*, size_t,
               const float*, size_t, float, float);
void igemm_avx2(size_t, size_t, size_t, const float*, size_t, const size_t*, const float*, float*,
               size_t, float, float);
void dw3x3_avx2(const float* const*, size_t, size_t, size_t, size_t, size_t, const float*, float*,
                float, float);
void gemm_avx512(size_t, size_t, size_t, const float*, size_t, const float*, float*, size_t,
                 const float*, size_t, float, float);
void igemm_avx512(size_t, size_t, size_t, const float*, size_t, const size_t*, const float*, float*,
                 size_t, float, float);
void dw3x3_avx512(const float* const*, size_t, size_t, size_t, size_t, size_t, const float*, float*,
                  float, float);
void gemm_neon(size_t, size_t, size_t, const float*, size_t, const float*, float*, size_t,
               const float*, size_t, float, float);
void igemm_neon(size_t, size_t, size_t, const float*, size_t, const size_t*, const float*, float*,
               size_t, float, float);
void dw3x3_neon(const float* const*, size_t, size_t, size_t, size_t, size_t, const float*, float*,
                float, float);

// Tile constants, also used by the packing code (generic).
enum : size_t {
  kScalarMR = 4, kScalarNR = 8, kScalarCB = 8,
  kAvx2MR = 6, kAvx2NR = 16, kAvx2CB = 8,
  kAvx512MR = 7, kAvx512NR = 32, kAvx512CB = 16,
  kNeonMR = 6, kNeonNR = 8, kNeonCB = 4,
};

}  // namespace mn
