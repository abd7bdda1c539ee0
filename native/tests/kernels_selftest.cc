// Standalone check of every microkernel table usable on this CPU against naive loops (no Node
// needed). Useful where the vitest suite cannot run the addon, e.g. an aarch64 cross build under
// qemu:  aarch64-linux-gnu-g++ -std=c++17 -O2 -static -pthread -DMOBILENET_HAVE_NEON_KERNELS \
//          native/tests/kernels_selftest.cc native/isa.cc native/ops/common.cc native/thread_pool.cc \
//          native/ops/*_scalar.cc native/ops/*_neon.cc -o selftest && qemu-aarch64-static ./selftest
// Also checks the thread pool: every item of a job handed out exactly once, and a pool whose thread
// start fails part-way (a test hook, and on Linux a real std::thread failure under a lowered
// RLIMIT_AS) unwinds: std::system_error thrown, no thread left behind, no hang.
// Exit status 0 when every check passes; the last line is "selftest: all N checks passed".
#include <atomic>
#include <cerrno>
#include <cfenv>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#if defined(__linux__)
#include <sys/resource.h>
#endif

#include "../isa.h"
#include "../ops/ops.h"
#include "../ops/qs8/ops_qs8.h"
#include "../ops/qs8/requant.h"
#include "../thread_pool.h"

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
int g_checks = 0;
void compare(const char* what, const Kernels* k, const std::vector<float>& got,
             const std::vector<float>& want) {
  ++g_checks;
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

// ---- int8 kernels, against TFLite's integer arithmetic written out (ops/qs8/requant.h), and the
// 'xnnpack' scheme's entries against XNNPACK's float formula written out here ----

int irand(int lo, int hi) {
  g_state = g_state * 1664525u + 1013904223u;
  return lo + (int)((g_state >> 8) % (unsigned)(hi - lo + 1));
}

void compare_bytes(const char* what, const QKernels* k, const std::vector<int8_t>& got,
                   const std::vector<int8_t>& want) {
  ++g_checks;
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] != want[i]) {
      std::printf("FAIL %s [int8 %s]: byte %zu is %d, expected %d\n", what, k->name, i, got[i], want[i]);
      ++g_failures;
      return;
    }
  }
}

// Multipliers and shifts of n channels: realistic ones for accumulators spreading about `spread`,
// and extremes (0, shifts from -31 to +6, a per-tensor case), so every rounding path is taken.
void random_requant(size_t n, double spread, bool perTensor, std::vector<int32_t>* mult,
                    std::vector<int32_t>* shift) {
  mult->resize(n);
  shift->resize(n);
  for (size_t c = 0; c < n; ++c) {
    if (perTensor && c > 0) {
      (*mult)[c] = (*mult)[0];
      (*shift)[c] = (*shift)[0];
      continue;
    }
    const int r = irand(0, 9);
    int e = 0;
    std::frexp(60.0 / spread, &e);
    (*mult)[c] = r == 0 ? 0 : irand(1 << 30, 2147483647);
    (*shift)[c] = r == 1 ? irand(-31, 6) : r == 2 ? irand(-31, -20) : e + irand(-2, 1);
    if ((*shift)[c] < -31) (*shift)[c] = -31;
    if ((*shift)[c] > 31) (*shift)[c] = 31;
  }
}

// Float32 scales of n channels (the 'xnnpack' scheme): realistic ones for accumulators spreading
// about `spread`, powers of two (products on halves: ties to even), XNNPACK's extremes 2^-32 and
// just below 256.
void random_scales(size_t n, double spread, std::vector<float>* scale) {
  scale->resize(n);
  for (size_t c = 0; c < n; ++c) {
    const int r = irand(0, 9);
    (*scale)[c] = r <= 2 ? std::ldexp(1.0f, -irand(1, 12))
                : r == 3 ? 0x1p-32f
                : r == 4 ? 255.9f
                         : (float)(60.0 / spread * (0.5 + irand(0, 1000) / 1000.0));
  }
}

// XNNPACK's requantization of one accumulator, written out: clamp(nearbyint(float32(acc) * scale) +
// zero) in the default rounding mode, in 64 bits (the product may exceed int32).
int8_t xnn_requant_reference(int32_t acc, float scale, const QOut& out) {
  const float product = (float)acc * scale;
  int64_t r = (int64_t)std::nearbyint((double)product);
  r = r < out.lo ? out.lo : r > out.hi ? out.hi : r;
  return (int8_t)(r + out.zero);
}

QOut random_out() {
  const int zero = irand(-128, 127);
  const int lo = irand(0, 2) == 0 ? -128 : std::max(-128, zero);
  const int hi = irand(0, 2) == 0 ? 127 : std::min(127, std::max(lo, zero + irand(10, 120)));
  return QOut{zero, lo - zero, hi - zero};
}

void check_qgemm(const QKernels* k, size_t m, size_t n, size_t kk, int wzp, int xzp, bool fp32 = false) {
  std::vector<int8_t> w(n * kk), a(m * kk + 64);
  for (auto& v : w) v = (int8_t)irand(-128, 127);
  for (auto& v : a) v = (int8_t)irand(-128, 127);
  std::vector<int32_t> bias(n), mult, shift;
  const double spread = std::sqrt((double)kk) * 90 * 90;
  for (auto& b : bias) b = irand(0, 9) == 0 ? irand(-2147483647, 2147483647) : irand(-(int)spread, (int)spread);
  random_requant(n, spread, irand(0, 1) == 0, &mult, &shift);
  std::vector<float> scale;
  random_scales(n, spread, &scale);
  const QOut out = random_out();
  std::vector<int8_t> want(m * n), got(m * n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      uint32_t acc = (uint32_t)bias[j];
      for (size_t p = 0; p < kk; ++p) acc += (uint32_t)((w[j * kk + p] - wzp) * (a[i * kk + p] - xzp));
      want[i * n + j] = fp32 ? xnn_requant_reference((int32_t)acc, scale[j], out)
                             : clamp_out(mbqm((int32_t)acc, mult[j], shift[j]), out);
    }
  QConvSrc src;
  if (fp32) src.scale = scale.data();
  src.weights = reinterpret_cast<const uint8_t*>(w.data());
  src.bias = bias.data();
  src.multiplier = mult.data();
  src.shift = shift.data();
  src.weightZero = wzp;
  src.inputZero = xzp;
  src.n = n;
  src.k = kk;
  std::vector<uint8_t> packed(qgemm_packed_bytes(*k, n, kk) + 64);
  qpack_gemm_panels(*k, src, packed.data(), 0, qgemm_panels(*k, n));
  const bool hasRc = qgemm_needs_rowcorr(*k, wzp);
  std::vector<int32_t> rc(m);
  if (hasRc) k->rowsum(m, kk, a.data(), kk, qgemm_rowcorr_mult(*k, wzp), rc.data());
  // Every other 'xnnpack' case runs with the FPU rounding upward: the kernels must round to nearest
  // whatever the mode (the reference above was computed in the default one).
  const bool upward = fp32 && irand(0, 1) == 0;
  if (upward) std::fesetround(FE_UPWARD);
  (fp32 ? k->gemm_fp32 : k->gemm)(m, n, kk, a.data(), kk, packed.data(), qgemm_panel_bytes(*k, kk),
                                   hasRc ? rc.data() : nullptr, got.data(), n, &out);
  if (upward) std::fesetround(FE_TONEAREST);
  char what[128];
  std::snprintf(what, sizeof what, "qgemm%s m=%zu n=%zu k=%zu w_zp=%d x_zp=%d%s", fp32 ? "_fp32" : "", m, n, kk, wzp, xzp,
                upward ? " (FE_UPWARD)" : "");
  compare_bytes(what, k, got, want);
}

// The rowcorr sums of m rows of k bytes, rows `stride` bytes apart (im2col rows are padded).
void check_qrowsum(const QKernels* k, size_t m, size_t kk, size_t stride) {
  std::vector<int8_t> a(m * stride + 64);
  for (auto& v : a) v = (int8_t)irand(-128, 127);
  const int32_t mult = irand(-300, 300);
  std::vector<int32_t> want(m), got(m);
  for (size_t i = 0; i < m; ++i) {
    uint32_t sum = 0;
    for (size_t p = 0; p < kk; ++p) sum += (uint32_t)(int32_t)a[i * stride + p];
    want[i] = (int32_t)(sum * (uint32_t)mult);
  }
  k->rowsum(m, kk, a.data(), stride, mult, got.data());
  char what[96];
  std::snprintf(what, sizeof what, "qrowsum m=%zu k=%zu stride=%zu", m, kk, stride);
  std::vector<int8_t> wantBytes(m * 4), gotBytes(m * 4);
  std::memcpy(wantBytes.data(), want.data(), m * 4);
  std::memcpy(gotBytes.data(), got.data(), m * 4);
  compare_bytes(what, k, gotBytes, wantBytes);
}

// A 3x3 depthwise over an h x w x c image with SAME padding, rows built as the table wants.
// mixedBlocks (with w_zp -128): each 16-channel block needs another count of int8 weight parts
// (w' <= 127, <= 254, then 255), blocks in turn.
void check_qdw(const QKernels* k, size_t h, size_t w, size_t c, size_t stride, int wzp, int xzp,
               bool mixedBlocks = false, bool fp32 = false) {
  QStepDesc s;
  s.inH = h;
  s.inW = w;
  s.outH = (h + stride - 1) / stride;
  s.outW = (w + stride - 1) / stride;
  s.stride = stride;
  s.padTop = ((s.outH - 1) * stride + 3 > h ? (s.outH - 1) * stride + 3 - h : 0) / 2;
  s.padLeft = ((s.outW - 1) * stride + 3 > w ? (s.outW - 1) * stride + 3 - w : 0) / 2;
  s.inC = s.expandC = s.outC = c;
  std::vector<int8_t> wt(9 * c), in(h * w * c + 64);
  for (size_t i = 0; i < wt.size(); ++i) {
    const size_t kind = (i % c) / 16 % 3;
    wt[i] = (int8_t)(!mixedBlocks ? irand(-128, 127) : kind == 0 ? irand(-128, -1) : kind == 1 ? irand(-128, 126) : 127);
  }
  for (auto& v : in) v = (int8_t)irand(-128, 127);
  std::vector<int32_t> bias(c), mult, shift;
  for (auto& b : bias) b = irand(-300000, 300000);
  random_requant(c, 3 * 90 * 90, false, &mult, &shift);
  std::vector<float> scale;
  random_scales(c, 3 * 90 * 90, &scale);
  const QOut out = random_out();
  std::vector<int8_t> want(s.outH * s.outW * c), got(want.size());
  for (size_t oy = 0; oy < s.outH; ++oy)
    for (size_t ox = 0; ox < s.outW; ++ox)
      for (size_t ch = 0; ch < c; ++ch) {
        uint32_t acc = (uint32_t)bias[ch];
        for (size_t ky = 0; ky < 3; ++ky)
          for (size_t kx = 0; kx < 3; ++kx) {
            const ptrdiff_t iy = (ptrdiff_t)(oy * stride + ky) - (ptrdiff_t)s.padTop;
            const ptrdiff_t ix = (ptrdiff_t)(ox * stride + kx) - (ptrdiff_t)s.padLeft;
            if (iy < 0 || ix < 0 || iy >= (ptrdiff_t)h || ix >= (ptrdiff_t)w) continue;
            const int x = in[((size_t)iy * w + (size_t)ix) * c + ch];
            acc += (uint32_t)((wt[(ky * 3 + kx) * c + ch] - wzp) * (x - xzp));
          }
        want[(oy * s.outW + ox) * c + ch] = fp32 ? xnn_requant_reference((int32_t)acc, scale[ch], out)
                                                  : clamp_out(mbqm((int32_t)acc, mult[ch], shift[ch]), out);
      }
  QConvSrc src;
  if (fp32) src.scale = scale.data();
  src.weights = reinterpret_cast<const uint8_t*>(wt.data());
  src.bias = bias.data();
  src.multiplier = mult.data();
  src.shift = shift.data();
  src.weightZero = wzp;
  src.inputZero = xzp;
  src.n = c;
  src.k = 9;
  const size_t sets = qdw_sets(*k, src);
  s.dw.wStride = qdw_block_bytes(*k, sets);
  std::vector<uint8_t> packed(qdw_blocks(*k, c) * s.dw.wStride + 64);
  qpack_dw_blocks(*k, src, sets, packed.data(), 0, qdw_blocks(*k, c));
  s.dw.w = packed.data();
  s.dw.pad = (int8_t)xzp;
  s.dw.out = out;
  const size_t built = (qdw_built_bytes(*k, s) + 63) / 64 * 64;
  std::vector<int8_t> rows((h + 1) * built + 64);  // every input row, then the pad row
  for (size_t y = 0; y < h; ++y) qdw_build(*k, s, in.data() + y * w * c, rows.data() + y * built);
  qdw_build(*k, s, nullptr, rows.data() + h * built);
  const bool upward = fp32 && irand(0, 1) == 0;  // as in check_qgemm
  if (upward) std::fesetround(FE_UPWARD);
  for (size_t oy = 0; oy < s.outH; ++oy) {
    const int8_t* r[3];
    for (size_t ky = 0; ky < 3; ++ky) {
      const ptrdiff_t iy = (ptrdiff_t)(oy * stride + ky) - (ptrdiff_t)s.padTop;
      r[ky] = rows.data() + (iy < 0 || iy >= (ptrdiff_t)h ? h : (size_t)iy) * built;
    }
    (fp32 ? k->dw3x3_fp32 : k->dw3x3)(r, stride, s.outW, c, packed.data(), s.dw.wStride, got.data() + oy * s.outW * c,
                                      &out);
  }
  if (upward) std::fesetround(FE_TONEAREST);
  char what[128];
  std::snprintf(what, sizeof what, "qdw3x3%s %zux%zux%zu s%zu w_zp=%d x_zp=%d (%zu weight sets)%s", fp32 ? "_fp32" : "",
                h, w, c, stride, wzp, xzp, sets, upward ? " (FE_UPWARD)" : "");
  compare_bytes(what, k, got, want);
}

void check_qadd(const QKernels* k, size_t n) {
  std::vector<int8_t> a(n), b(n), want(n), got(n);
  for (auto& v : a) v = (int8_t)irand(-128, 127);
  for (auto& v : b) v = (int8_t)irand(-128, 127);
  QAddParams p;
  p.offset1 = irand(-127, 128);
  p.offset2 = irand(-127, 128);
  p.shift_in = 20;
  p.in1 = make_requant(irand(1 << 30, 2147483647), irand(-8, -1));
  p.in2 = make_requant(irand(1 << 30, 2147483647), irand(-8, -1));
  p.sum = make_requant(irand(1 << 30, 2147483647), irand(-28, -18));
  p.out = random_out();
  for (size_t i = 0; i < n; ++i) want[i] = add_one(a[i], b[i], p);
  k->add(n, a.data(), b.data(), got.data(), &p);
  char what[64];
  std::snprintf(what, sizeof what, "qadd n=%zu", n);
  compare_bytes(what, k, got, want);
}

// The 'xnnpack' GEMM under FE_UPWARD on accumulators and scales chosen so that the rounding mode
// changes the answer (the product lands next to a half): the kernels must still round to nearest.
// Zero weights: each channel's accumulator is its bias.
void check_qgemm_fp32_rounding_mode(const QKernels* k) {
  const size_t n = 24, kk = 4, m = 3;
  std::vector<int32_t> bias(n);
  std::vector<float> scale(n);
  std::vector<int8_t> want(m * n), got(m * n), w(n * kk, 0), a(m * kk + 64, 0);
  const QOut out{0, -128, 127};
  for (size_t c = 0; c < n; ++c) {
    for (;;) {
      // acc * scale near target (a half), of target's sign
      const float target = (float)irand(-100, 100) + 0.5f;
      const int32_t acc = irand(3, 4000) * (target < 0 ? -1 : 1);
      const float sc = (float)((double)target / acc);
      // volatile: each product computed in its mode (the compiler assumes one mode and would move them)
      volatile float vacc = (float)acc, vscale = sc;
      volatile float nearest = vacc * vscale;
      std::fesetround(FE_UPWARD);
      volatile float upward = vacc * vscale;
      std::fesetround(FE_TONEAREST);
      if (std::nearbyint(nearest) == std::nearbyint(upward)) continue;
      bias[c] = acc;
      scale[c] = sc;
      break;
    }
    for (size_t i = 0; i < m; ++i) want[i * n + c] = xnn_requant_reference(bias[c], scale[c], out);
  }
  QConvSrc src;
  src.weights = reinterpret_cast<const uint8_t*>(w.data());
  src.bias = bias.data();
  src.scale = scale.data();
  src.n = n;
  src.k = kk;
  std::vector<uint8_t> packed(qgemm_packed_bytes(*k, n, kk) + 64);
  qpack_gemm_panels(*k, src, packed.data(), 0, qgemm_panels(*k, n));
  std::fesetround(FE_UPWARD);
  k->gemm_fp32(m, n, kk, a.data(), kk, packed.data(), qgemm_panel_bytes(*k, kk), nullptr, got.data(), n, &out);
  std::fesetround(FE_TONEAREST);
  compare_bytes("qgemm_fp32 under FE_UPWARD, products next to halves", k, got, want);
}

// XNNPACK's ADD against its arithmetic written out in 64 bits: multipliers up to 2^21, the shift
// from 13 to 31 with the rounding half in the bias.
void check_qadd_xnn(const QKernels* k, size_t n) {
  std::vector<int8_t> a(n), b(n), want(n), got(n);
  for (auto& v : a) v = (int8_t)irand(-128, 127);
  for (auto& v : b) v = (int8_t)irand(-128, 127);
  QAddXnnParams p;
  p.shift = irand(13, 31);
  p.mult_a = irand(1 << 20, 1 << 21);
  p.mult_b = irand(0, 1 << 21);
  const int za = irand(-128, 127), zb = irand(-128, 127);
  p.bias = (int32_t)(((int64_t)1 << (p.shift - 1)) - (int64_t)p.mult_a * za - (int64_t)p.mult_b * zb);
  p.out = random_out();
  for (size_t i = 0; i < n; ++i) {
    int64_t r = ((int64_t)p.bias + (int64_t)a[i] * p.mult_a + (int64_t)b[i] * p.mult_b) >> p.shift;
    r = r < p.out.lo ? p.out.lo : r > p.out.hi ? p.out.hi : r;
    want[i] = (int8_t)(r + p.out.zero);
  }
  k->add_xnn(n, a.data(), b.data(), got.data(), &p);
  char what[64];
  std::snprintf(what, sizeof what, "qadd_xnn n=%zu", n);
  compare_bytes(what, k, got, want);
}

// alias_pad: a buffer moved by less than kAliasPadFloats so that its pixels' address bits 11..0
// sit half the largest power of two dividing the pixel stride (and 4096) away from those of the
// source's pixels (no move when that power is below 128 bytes).
void check_alias_pad() {
  static float base[4 * 4096];
  for (size_t channels : {1, 17, 24, 32, 64, 96, 128, 144, 256, 384, 512, 576, 960, 1024, 2048}) {
    size_t g = 4096;
    while (g > 1 && channels * sizeof(float) % g != 0) g /= 2;
    for (size_t d = 0; d < 8192; d += 4) {
      ++g_checks;
      const float* from = base;
      const float* p = base + d / sizeof(float);
      const size_t pad = alias_pad(p, from, channels);
      const size_t dist = (d + pad * sizeof(float)) % g;
      const bool ok = pad < kAliasPadFloats && (g < 128 ? pad == 0 : dist == g / 2);
      if (!ok) {
        std::printf("FAIL alias_pad channels=%zu offset=%zu: pad %zu floats, distance %zu of %zu\n",
                    channels, d, pad, dist, g);
        ++g_failures;
      }
    }
  }
}

// ---- thread pool ----

// Prints "FAIL thread pool ...: <message>" and counts a failure.
void fail(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::printf("FAIL ");
  std::vprintf(fmt, args);
  std::printf("\n");
  va_end(args);
  ++g_failures;
}

// Threads of this process (Linux: /proc/self/status), or -1 where that is unknown.
long live_threads() {
#if defined(__linux__)
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long n = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, "Threads:", 8) == 0) n = std::strtol(line + 8, nullptr, 10);
  std::fclose(f);
  return n;
#else
  return -1;
#endif
}

// Every item of [0, n) processed exactly once, by a valid tid, for several jobs in a row.
void check_pool_jobs(size_t threads) {
  ThreadPool pool(threads);
  for (size_t n : {1, 2, 7, 64, 1000, 4099})
    for (size_t grain : {1, 3, 16, 5000}) {
      ++g_checks;
      std::unique_ptr<std::atomic<int>[]> hits(new std::atomic<int>[n]);
      for (size_t i = 0; i < n; ++i) hits[i].store(0);
      std::atomic<bool> badTid{false};
      auto f = [&](size_t tid, size_t b, size_t e) {
        if (tid >= pool.size()) badTid.store(true);
        for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
      };
      pool.parallel(n, grain, f);
      size_t wrong = 0;
      for (size_t i = 0; i < n; ++i) wrong += hits[i].load() != 1;
      if (wrong != 0 || badTid.load())
        fail("thread pool: %zu threads, n=%zu, grain %zu: %zu items not processed exactly once%s",
             threads, n, grain, wrong, badTid.load() ? ", bad tid" : "");
    }
}

size_t g_fail_at = 0;
void refuse_thread(size_t tid) {
  if (tid == g_fail_at)
    throw std::system_error(EAGAIN, std::generic_category(), "test hook: thread start refused");
}

size_t g_last_tid = 0;
void record_tid(size_t tid) { g_last_tid = tid; }

// Constructs a pool whose thread start fails part-way: the constructor must throw
// std::system_error promptly and leave no thread behind. Returns whether it threw.
bool expect_unwind(const char* what, size_t threads, ThreadPool::SpawnHook hook) {
  ++g_checks;
  const long before = live_threads();
  const auto start = std::chrono::steady_clock::now();
  bool threw = false;
  try {
    ThreadPool pool(threads, hook);
  } catch (const std::system_error&) {
    threw = true;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  const long after = live_threads();
  if (took.count() > 10)
    fail("%s: %zu threads: construction and unwinding took %.0f s", what, threads, took.count());
  if (before >= 0 && after != before)
    fail("%s: threads left behind: %ld before, %ld after", what, before, after);
  return threw;
}

// Returns what the real (RLIMIT_AS) failure showed, or why it was not tried.
std::string check_pool_unwind() {
  for (size_t failAt : {1, 2, 5, 15}) {
    g_fail_at = failAt;
    if (!expect_unwind("thread pool (hook)", 16, refuse_thread))
      fail("thread pool (hook): no std::system_error when thread %zu of 15 fails", failAt);
  }
#if defined(__linux__)
  // A real failure: lower the soft address-space limit to just above what the process maps now,
  // so that std::thread cannot map the stacks of 256 threads (8 MiB each by default).
  struct rlimit saved;
  if (getrlimit(RLIMIT_AS, &saved) != 0) return "getrlimit failed: not checked";
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return "no /proc/self/status: not checked";
  char line[256];
  unsigned long vmKb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, "VmSize:", 7) == 0) vmKb = std::strtoul(line + 7, nullptr, 10);
  std::fclose(f);
  if (vmKb == 0) return "no VmSize: not checked";
  struct rlimit low = saved;
  low.rlim_cur = (rlim_t)(vmKb + 48 * 1024) * 1024;
  if (saved.rlim_cur != RLIM_INFINITY && saved.rlim_cur < low.rlim_cur)
    return "RLIMIT_AS already low: not checked";
  if (setrlimit(RLIMIT_AS, &low) != 0) return "setrlimit failed: not checked";
  g_last_tid = 0;
  const bool threw = expect_unwind("thread pool (RLIMIT_AS)", 256, record_tid);
  setrlimit(RLIMIT_AS, &saved);
  // (An emulator such as qemu-user may not apply the limit: then there is nothing to check.)
  if (!threw) return "RLIMIT_AS did not stop std::thread here: not checked";
  char buf[128];
  std::snprintf(buf, sizeof buf, "std::thread failed after %zu of 255 workers under RLIMIT_AS",
                g_last_tid == 0 ? 0 : g_last_tid - 1);
  return buf;
#else
  return "RLIMIT_AS: not on this OS";
#endif
}

}  // namespace

int main() {
  // The thread pool first: its checks count the process's threads, and under qemu-user the guest's
  // rounding-mode changes (the 'xnnpack' checks below) make qemu start and stop a helper thread.
  const int beforePool = g_checks;
  for (size_t threads : {1, 2, 3, 8}) check_pool_jobs(threads);
  const std::string unwind = check_pool_unwind();
  std::printf("thread pool: %d checks (%s)\n", g_checks - beforePool, unwind.c_str());
  std::vector<const Kernels*> kernels;
  try {
    kernels = supported_kernels();
  } catch (const std::exception& e) {
    std::printf("%s\n", e.what());
    return 2;
  }
  const size_t channels[] = {1, 3, 4, 5, 8, 16, 17, 24, 33, 47, 56, 96, 144};
  for (const Kernels* k : kernels) {
    int count = 0;
    for (size_t n : channels)
      for (size_t kk : {1, 3, 16, 27, 33}) {
        for (size_t m : {1, 2, 5, 7, 13, 30}) {
          check_gemm(k, m, n, kk, count % 3, count % 2 == 0);
          ++count;
        }
      }
    // One row (the fc's GEMV) over many panels, the last one partial.
    for (size_t n : {200, 300, 417, 1001}) {
      check_gemm(k, 1, n, 37, count % 3, count % 2 == 0);
      ++count;
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
    // Rows long enough for every group size of the blocked kernels (8, 4, 2, 1 outputs) and for
    // their long-row order (>= 16 outputs), odd and even widths (padding 0 or 1 on the left).
    for (size_t c : {3, 16, 32, 47})
      for (size_t w : {15, 16, 17, 30, 31, 37, 38, 45})
        for (size_t stride : {1, 2}) {
          check_dw(k, 3, w, c, stride, count % 3);
          ++count;
        }
    std::printf("%s: %d kernel checks\n", k->name, count);
  }
  std::vector<const QKernels*> qkernels = supported_qkernels();
  for (const QKernels* k : qkernels) {
    const int before = g_checks;
    const int zeros[] = {0, -128, 127, 5, -77};
    int z = 0;
    for (size_t n : {1, 3, 8, 16, 17, 24, 33, 64, 65, 96, 130})
      for (size_t kk : {1, 3, 4, 16, 27, 33, 160})
        for (size_t m : {1, 2, 5, 7, 13, 37}) {
          check_qgemm(k, m, n, kk, zeros[z % 5], irand(-128, 127));
          ++z;
        }
    if (k->rowsum != nullptr)
      for (size_t m : {1, 15, 16, 37, 64})
        for (size_t kk : {1, 16, 28, 63, 64, 65, 200}) check_qrowsum(k, m, kk, kk + (m % 3) * 5);
    for (size_t c : {1, 3, 8, 15, 16, 17, 24, 33, 64, 65, 96, 144})
      for (size_t hw : {1, 2, 3, 7, 8})
        for (size_t stride : {1, 2, 3}) {
          // w_zp -128 with w 127 needs three int8 parts of w' = 255 (S8Taps4). Strides 1 and 2
          // build rows reusing taps across output pixels (VNNI), others tap by tap.
          check_qdw(k, hw, hw + 2, c, stride, zeros[z % 5], z % 3 == 0 ? -128 : irand(-128, 127));
          ++z;
        }
    for (size_t c : {48, 50, 96})
      for (size_t stride : {1, 2}) check_qdw(k, 5, 9, c, stride, -128, irand(-128, 127), true);
    for (size_t n : {1, 7, 8, 15, 16, 17, 64, 100}) check_qadd(k, n);
    std::printf("int8 %s: %d kernel checks\n", k->name, g_checks - before);
    // The 'xnnpack' scheme's entries on the same formats.
    const int beforeXnn = g_checks;
    for (size_t n : {1, 3, 8, 16, 17, 33, 64, 65, 130})
      for (size_t kk : {1, 4, 27, 160})
        for (size_t m : {1, 5, 7, 37}) {
          check_qgemm(k, m, n, kk, zeros[z % 5], irand(-128, 127), true);
          ++z;
        }
    for (size_t c : {1, 8, 15, 16, 17, 33, 65, 144})
      for (size_t hw : {1, 3, 8})
        for (size_t stride : {1, 2}) {
          check_qdw(k, hw, hw + 2, c, stride, zeros[z % 5], irand(-128, 127), false, true);
          ++z;
        }
    for (size_t c : {48, 96}) check_qdw(k, 5, 9, c, 1, -128, irand(-128, 127), true, true);
    for (size_t n : {1, 7, 8, 15, 16, 17, 64, 100}) check_qadd_xnn(k, n);
    check_qgemm_fp32_rounding_mode(k);
    std::printf("int8 %s, xnnpack rounding: %d kernel checks\n", k->name, g_checks - beforeXnn);
  }
  const int beforePad = g_checks;
  check_alias_pad();
  std::printf("alias_pad: %d checks\n", g_checks - beforePad);
  if (g_failures) {
    std::printf("selftest: %d of %d checks FAILED\n", g_failures, g_checks);
    return 1;
  }
  std::printf("selftest: all %d checks passed\n", g_checks);
  return 0;
}
