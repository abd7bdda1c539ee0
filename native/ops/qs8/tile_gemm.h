// The GEMM of the int8 kernel files built from row tiles (AVX2, NEON, NEON dot product): for each panel
// of NR output channels, rows 4 at a time, the tile for the rows left at the end. Each file supplies its
// tiles (`Tiles::fn[mr - 1]` computes mr rows of one panel, requantized by its policy). Private to the
// *_qs8_<isa>.cc files: internal linkage, as in the requant_<isa>.h headers.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../../kernels_qs8.h"

namespace mn {
namespace {

typedef void (*QTileFn)(size_t k, const int8_t* a, size_t a_stride, const uint8_t* w, const int32_t* rowcorr,
                        int8_t* c, size_t c_stride, size_t n, const QOut* out);

// Out of line: inlined into its callers, GCC keeps the tiles' accumulators on the stack.
template <size_t NR, class Tiles>
__attribute__((noinline)) void tile_gemm(size_t m, size_t n, size_t k, const int8_t* a, size_t a_stride,
                                         const void* w, size_t w_stride, const int32_t* rowcorr, int8_t* c,
                                         size_t c_stride, const QOut* out) {
  const uint8_t* panels = static_cast<const uint8_t*>(w);
  for (size_t j0 = 0; j0 < n; j0 += NR) {
    const uint8_t* wj = panels + (j0 / NR) * w_stride;
    for (size_t i0 = 0; i0 < m; i0 += 4) {
      const size_t mr = m - i0 < 4 ? m - i0 : 4;
      Tiles::fn[mr - 1](k, a + i0 * a_stride, a_stride, wj, rowcorr != nullptr ? rowcorr + i0 : nullptr,
                        c + i0 * c_stride + j0, c_stride, n - j0, out);
    }
  }
}

}  // namespace
}  // namespace mn
