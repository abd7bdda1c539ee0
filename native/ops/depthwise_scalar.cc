// Portable 3x3 depthwise row kernel (no ISA flags): blocks of 8 channels, borders by per-column
// validity checks (rows of padding are a zero row supplied by the caller).
#include <stddef.h>

#include "../kernels.h"

namespace mn {

void dw3x3_scalar(const float* const* rows, size_t in_w, size_t stride, size_t pad_left,
                  size_t out_w, size_t channels, const float* w, float* out, float minv,
                  float maxv) {
  const size_t CB = kScalarCB;
  const size_t C = channels;
  for (size_t c0 = 0; c0 < C; c0 += CB, w += CB * 10) {
    const size_t cr = C - c0 < CB ? C - c0 : CB;
    const float* r0 = rows[0] + c0;
    const float* r1 = rows[1] + c0;
    const float* r2 = rows[2] + c0;
    for (size_t x = 0; x < out_w; ++x) {
      float acc[CB];
      for (size_t j = 0; j < CB; ++j) acc[j] = w[j];
      const ptrdiff_t ix0 = (ptrdiff_t)(x * stride) - (ptrdiff_t)pad_left;
      for (ptrdiff_t kx = 0; kx < 3; ++kx) {
        const ptrdiff_t ix = ix0 + kx;
        if (ix < 0 || ix >= (ptrdiff_t)in_w) continue;
        const size_t off = (size_t)ix * C;
        const float* w0 = w + CB * (1 + kx);
        const float* w1 = w + CB * (4 + kx);
        const float* w2 = w + CB * (7 + kx);
        for (size_t j = 0; j < cr; ++j)
          acc[j] += r0[off + j] * w0[j] + r1[off + j] * w1[j] + r2[off + j] * w2[j];
      }
      float* o = out + x * C + c0;
      for (size_t j = 0; j < cr; ++j) {
        float v = acc[j];
        v = v < minv ? minv : v;
        v = v > maxv ? maxv : v;
        o[j] = v;
      }
    }
  }
}

}  // namespace mn
