// Standalone check of every microkernel table usable on this CPU against naive loops (no Node
// needed). Useful where the vitest suite cannot run the addon, e.g. an aarch64 cross build under
// qemu:  aarch64-linux-gnu-g++ -std=c++17 -O2 -static -DMOBILENET_HAVE_NEON_KERNELS \
//          native/tests/kernels_selftest.cc native/isa.cc native/ops/common.cc \
//          native/ops/*_scalar.cc native/ops/*_neon.cc -o selftest && qemu-aarch64-static ./selftest
// Exit status 0 when every kernel matches.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <vector>

#include "../isa.h"
#include "../ops/ops.h"

using namespace mn;

namespace {

unsigned g_state = 12345;
float frand() {
  g_state = g_state * 1664525u + 1013904223u;
  return (float)((g_state >> 8) & 0xFFFFFF) / (float)0x800000 - 1.0f;
}
std::vector<float> rnd(size_t n, float scale = 1.0f) {
  std::vector<float> v(n);
  for (float& x : v) x = frand() * scale;
  return v;
}
int g_failures = 0;
void compare(const char* what, const Kernels* k, const std::vector<float>& got,
             const std::vector<float>& want) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = std::fabs((double)got[i] - want[i]) / std::fmax(1.0, std::fabs(want[i]));
    if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
  }
  if (worst > 1e-4) {
    std::printf("FAIL %s [%s]: max rel error %g\n", what, k->name, worst);
    ++g_failures;
  }
}

void check_gemm(const Kernels* k, size_t m, size_t n, size_t kk, int act, bool residual) {
  const std::vector<float> a = rnd(m * kk), w = rnd(n * kk, 1.0f / std::sqrt((float)kk) * 4),
                           b = rnd(n), res = rnd(m * n);
  const Act ac = act_from_code(act);
  std::vector<float> want(m * n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      double s = b[j];
      for (size_t p = 0; p < kk; ++p) s += (double)a[i * kk + p] * w[j * kk + p];
      s = s < ac.min ? ac.min : s;
      s = s > ac.max ? ac.max : s;
      want[i * n + j] = (float)(s + (residual ? res[i * n + j] : 0.0));
    }
  AlignedBuffer packed;
  pack_gemm(w.data(), b.data(), n, kk, k->gemm_nr, &packed);
  std::vector<float> got(m * n);
  k->gemm(m, n, kk, a.data(), kk, packed.data(), got.data(), n, residual ? res.data() : nullptr, n,
          ac.min, ac.max);
  char what[128];
  std::snprintf(what, sizeof what, "gemm m=%zu n=%zu k=%zu act=%d res=%d", m, n, kk, act, residual);
  compare(what, k, got, want);
}

// Indirect GEMM: row i of A at base + i*step, element p at koff[p] (a strided gather, here with
// gaps so that reading the wrong offset shows).
void check_igemm(const Kernels* k, size_t m, size_t n, size_t kk, size_t step, int act) {
  std::vector<size_t> koff(kk);
  size_t last = 0;
  for (size_t p = 0; p < kk; ++p) {
    koff[p] = p * 3 + (p % 2) * 7;
    last = koff[p] > last ? koff[p] : last;
  }
  const size_t span = (m - 1) * step + last + 1;
  const std::vector<float> a = rnd(span), w = rnd(n * kk, 1.0f / std::sqrt((float)kk) * 4),
                           b = rnd(n);
  const Act ac = act_from_code(act);
  std::vector<float> want(m * n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      double s = b[j];
      for (size_t p = 0; p < kk; ++p) s += (double)a[i * step + koff[p]] * w[j * kk + p];
      s = s < ac.min ? ac.min : s;
      s = s > ac.max ? ac.max : s;
      want[i * n + j] = (float)s;
    }
  AlignedBuffer packed;
  pack_gemm(w.data(), b.data(), n, kk, k->gemm_nr, &packed);
  std::vector<float> got(m * n);
  k->igemm(m, n, kk, a.data(), step, koff.data(), packed.data(), got.data(), n, ac.min, ac.max);
  char what[128];
  std::snprintf(what, sizeof what, "igemm m=%zu n=%zu k=%zu step=%zu act=%d", m, n, kk, step, act);
  compare(what, k, got, want);
}

void check_dw(const Kernels* k, size_t h, size_t w, size_t c, size_t stride, int act) {
  const size_t oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride;
  const size_t pt = ((oh - 1) * stride + 3 > h ? (oh - 1) * stride + 3 - h : 0) / 2;
  const size_t pl = ((ow - 1) * stride + 3 > w ? (ow - 1) * stride + 3 - w : 0) / 2;
  const std::vector<float> in = rnd(h * w * c), wt = rnd(9 * c, 2.0f), b = rnd(c);
  const Act ac = act_from_code(act);
  std::vector<float> want(oh * ow * c), got(oh * ow * c), zero(w * c, 0.0f);
  for (size_t oy = 0; oy < oh; ++oy)
    for (size_t ox = 0; ox < ow; ++ox)
      for (size_t ch = 0; ch < c; ++ch) {
        double s = b[ch];
        for (size_t ky = 0; ky < 3; ++ky)
          for (size_t kx = 0; kx < 3; ++kx) {
            const ptrdiff_t iy = (ptrdiff_t)(oy * stride + ky) - (ptrdiff_t)pt;
            const ptrdiff_t ix = (ptrdiff_t)(ox * stride + kx) - (ptrdiff_t)pl;
            if (iy < 0 || ix < 0 || iy >= (ptrdiff_t)h || ix >= (ptrdiff_t)w) continue;
            s += (double)in[((size_t)iy * w + (size_t)ix) * c + ch] * wt[(ky * 3 + kx) * c + ch];
          }
        s = s < ac.min ? ac.min : s;
        s = s > ac.max ? ac.max : s;
        want[(oy * ow + ox) * c + ch] = (float)s;
      }
  AlignedBuffer packed;
  pack_dw3x3(wt.data(), b.data(), c, k->dw_cb, &packed);
  for (size_t oy = 0; oy < oh; ++oy) {
    const float* rows[3];
    for (size_t ky = 0; ky < 3; ++ky) {
      const ptrdiff_t iy = (ptrdiff_t)(oy * stride + ky) - (ptrdiff_t)pt;
      rows[ky] = (iy < 0 || iy >= (ptrdiff_t)h) ? zero.data() : in.data() + (size_t)iy * w * c;
    }
    k->dw3x3(rows, w, stride, pl, ow, c, packed.data(), got.data() + oy * ow * c, ac.min, ac.max);
  }
  char what[128];
  std::snprintf(what, sizeof what, "dw3x3 %zux%zux%zu s%zu act=%d", h, w, c, stride, act);
  compare(what, k, got, want);
}

}  // namespace

int main() {
  const size_t channels[] = {1, 3, 4, 5, 8, 16, 17, 24, 33, 47, 96, 144};
  for (const Kernels* k : supported_kernels()) {
    int count = 0;
    for (size_t n : channels)
      for (size_t kk : {1, 3, 16, 27, 33}) {
        for (size_t m : {1, 2, 5, 7, 13, 30}) {
          check_gemm(k, m, n, kk, count % 3, count % 2 == 0);
          ++count;
        }
      }
    for (size_t n : channels)
      for (size_t kk : {1, 9, 27, 45})
        for (size_t m : {1, 6, 7, 13, 111}) {
          check_igemm(k, m, n, kk, 2 + count % 7, count % 3);
          ++count;
        }
    for (size_t c : channels)
      for (size_t hw : {1, 2, 3, 7, 8})
        for (size_t stride : {1, 2}) {
          check_dw(k, hw, hw + 2, c, stride, count % 3);
          ++count;
        }
    std::printf("%s: %d kernel checks\n", k->name, count);
  }
  if (g_failures) std::printf("%d FAILURES\n", g_failures);
  return g_failures ? 1 : 0;
}
