// NEON 3x3 depthwise row kernel (aarch64 only): 4 channels per q register, taps + bias in
// registers while the row is swept; the channel tail (< 4) runs a scalar loop.
// NOTE: not exercised by CI on x86 hosts; mirrors the scalar kernel.
#if defined(__aarch64__)
#include <arm_neon.h>
#include <stddef.h>

#include "../kernels.h"

namespace mn {

void dw3x3_neon(const float* const* rows, size_t in_w, size_t stride, size_t pad_left,
                size_t out_w, size_t channels, const float* w, float* out, float minv,
                float maxv) {
  const size_t CB = kNeonCB;
  const size_t C = channels;
  const float32x4_t vmin = vdupq_n_f32(minv);
  const float32x4_t vmax = vdupq_n_f32(maxv);
  const ptrdiff_t iw = (ptrdiff_t)in_w;
  for (size_t c0 = 0; c0 < C; c0 += CB, w += CB * 10) {
    const size_t cr = C - c0 < CB ? C - c0 : CB;
    const float* r[3] = {rows[0] + c0, rows[1] + c0, rows[2] + c0};
    float* o = out + c0;
    if (cr == CB) {
      const float32x4_t vb = vld1q_f32(w);
      float32x4_t kw[9];
      for (int t = 0; t < 9; ++t) kw[t] = vld1q_f32(w + CB * (1 + t));
      for (size_t x = 0; x < out_w; ++x, o += C) {
        const ptrdiff_t ix0 = (ptrdiff_t)(x * stride) - (ptrdiff_t)pad_left;
        float32x4_t acc = vb;
        for (int kx = 0; kx < 3; ++kx) {
          const ptrdiff_t ix = ix0 + kx;
          if (ix < 0 || ix >= iw) continue;
          const size_t off = (size_t)ix * C;
          acc = vfmaq_f32(acc, vld1q_f32(r[0] + off), kw[kx]);
          acc = vfmaq_f32(acc, vld1q_f32(r[1] + off), kw[3 + kx]);
          acc = vfmaq_f32(acc, vld1q_f32(r[2] + off), kw[6 + kx]);
        }
        vst1q_f32(o, vminq_f32(vmaxq_f32(acc, vmin), vmax));
      }
    } else {
      for (size_t x = 0; x < out_w; ++x, o += C) {
        const ptrdiff_t ix0 = (ptrdiff_t)(x * stride) - (ptrdiff_t)pad_left;
        for (size_t j = 0; j < cr; ++j) {
          float acc = w[j];
          for (int kx = 0; kx < 3; ++kx) {
            const ptrdiff_t ix = ix0 + kx;
            if (ix < 0 || ix >= iw) continue;
            const size_t off = (size_t)ix * C + j;
            for (int ky = 0; ky < 3; ++ky) acc += r[ky][off] * w[CB * (1 + ky * 3 + kx) + j];
          }
          acc = acc < minv ? minv : acc;
          acc = acc > maxv ? maxv : acc;
          o[j] = acc;
        }
      }
    }
  }
}

}  // namespace mn
#endif
