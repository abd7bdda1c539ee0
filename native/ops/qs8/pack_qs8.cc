// Packing of int8 weights into the layouts the qs8 kernel tables want (kernels_qs8.h): GEMM panels
// and depthwise blocks, each with its requantization header and every zero-point term folded
// into the bias. Generic code; runs once per model, on the model's threads.
#include <cstring>

#include "ops_qs8.h"
#include "requant.h"

namespace mn {
namespace {

size_t gemm_elem_bytes(const QKernels& kt) { return kt.gemm_format == QGemmFormat::S16 ? 2 : 1; }
size_t dw_elem_bytes(const QKernels& kt) { return kt.dw_format == QDwFormat::I16 ? 2 : 4; }

// Position of channel j of a block in the lane-split int64 arrays.
size_t lane_slot(size_t j, size_t lanes) {
  if (lanes <= 1) return j;
  const size_t g = j / lanes, i = j % lanes;
  return g * lanes + (i % 2 == 0 ? i / 2 : lanes / 2 + i / 2);
}

// The header of `nr` channels starting at c0 (count of them real; the rest requantize to 0): the
// fixed-point fields, or for the 'xnnpack' scheme the float32 scales in mult's place (the rest 0).
void write_header(uint8_t* dst, size_t nr, size_t lanes, const int32_t* bias, const QConvSrc& src,
                  size_t c0, size_t count) {
  int32_t* b = reinterpret_cast<int32_t*>(dst);
  int32_t* mult = b + nr;
  int32_t* left = mult + nr;
  int32_t* right = left + nr;
  int64_t* nudge = reinterpret_cast<int64_t*>(right + nr);
  int64_t* neg = nudge + nr;
  int64_t* shr = neg + nr;
  if (src.scale != nullptr) {
    std::memset(dst, 0, nr * kQHeaderBytesPerChannel);
    float* scale = reinterpret_cast<float*>(mult);
    for (size_t j = 0; j < count; ++j) {
      b[j] = bias[j];
      scale[j] = src.scale[c0 + j];
    }
    return;
  }
  for (size_t j = 0; j < nr; ++j) {
    const bool real = j < count;
    const QRequant r = real ? make_requant(src.multiplier[c0 + j], src.shift[c0 + j]) : make_requant(0, 0);
    b[j] = real ? bias[j] : 0;
    mult[j] = r.mult;
    left[j] = r.left;
    right[j] = r.right;
    const size_t slot = lane_slot(j, lanes);
    nudge[slot] = r.nudge;
    neg[slot] = r.neg;
    shr[slot] = r.shr;
  }
}

inline int32_t wrap32(int64_t v) { return (int32_t)(uint32_t)(uint64_t)v; }

}  // namespace

size_t qgemm_panels(const QKernels& kt, size_t n) { return n / kt.gemm_nr + (n % kt.gemm_nr != 0); }

size_t qgemm_panel_bytes(const QKernels& kt, size_t k) {
  const size_t groups = k / kt.gemm_kgroup + (k % kt.gemm_kgroup != 0);
  return round64(checked_add(kt.gemm_nr * kQHeaderBytesPerChannel,
                             checked_mul({groups, kt.gemm_nr, kt.gemm_kgroup, gemm_elem_bytes(kt)})));
}

size_t qgemm_packed_bytes(const QKernels& kt, size_t n, size_t k) {
  return checked_mul(qgemm_panels(kt, n), qgemm_panel_bytes(kt, k));
}

bool qgemm_needs_rowcorr(const QKernels& kt, int32_t weightZero) {
  return kt.gemm_format != QGemmFormat::S16 && weightZero != 0;
}

int32_t qgemm_rowcorr_mult(const QKernels& kt, int32_t weightZero) {
  if (!qgemm_needs_rowcorr(kt, weightZero)) return 0;
  // S8Xor with a rowcorr multiplies x by w + 128.
  return kt.gemm_format == QGemmFormat::S8Xor ? -(128 + weightZero) : -weightZero;
}

void qpack_gemm_panels(const QKernels& kt, const QConvSrc& src, uint8_t* dst, size_t p0, size_t p1) {
  const size_t nr = kt.gemm_nr, kg = kt.gemm_kgroup, k = src.k;
  const size_t panelBytes = qgemm_panel_bytes(kt, k);
  const bool s16 = kt.gemm_format == QGemmFormat::S16;
  // S8Xor: the weights flipped to w + 128 when the part has a rowcorr, else x (kernels_qs8.h).
  const bool xorX = kt.gemm_format == QGemmFormat::S8Xor && !qgemm_needs_rowcorr(kt, src.weightZero);
  const uint8_t wFlip = kt.gemm_format == QGemmFormat::S8Xor && !xorX ? 0x80 : 0;
  const int64_t xzp = src.inputZero, wzp = src.weightZero;
  int32_t bias[64];  // nr <= 64
  for (size_t p = p0; p < p1; ++p) {
    uint8_t* panel = dst + p * panelBytes;
    const size_t c0 = p * nr;
    const size_t count = src.n - c0 < nr ? src.n - c0 : nr;
    for (size_t j = 0; j < count; ++j) {
      const size_t row = (c0 + j) * k;
      int64_t sum = 0;
      for (size_t q = 0; q < k; ++q) sum += src.w(row + q);
      // Σ(w - w_zp)(x - x_zp) = Σ w·x - w_zp·Σx - x_zp·Σw + k·w_zp·x_zp; the -w_zp·Σx term is the
      // S8 formats' rowcorr, S16 has it in its centered weights.
      int64_t b = (int64_t)src.b(c0 + j) - xzp * sum + (int64_t)k * wzp * xzp;
      if (xorX) b -= 128 * sum;  // the kernel feeds x + 128
      bias[j] = wrap32(b);
    }
    write_header(panel, nr, kt.lanes, bias, src, c0, count);
    uint8_t* wt = panel + nr * kQHeaderBytesPerChannel;
    std::memset(wt, 0, panelBytes - nr * kQHeaderBytesPerChannel);
    for (size_t j = 0; j < count; ++j) {
      const size_t row = (c0 + j) * k;
      // Input q of channel j goes to group q / kg, lane q % kg: walked group by group (no division).
      for (size_t g0 = 0, at = j * kg; g0 < k; g0 += kg, at += nr * kg) {
        const size_t lanes = k - g0 < kg ? k - g0 : kg;
        if (s16) {
          int16_t* dst = reinterpret_cast<int16_t*>(wt) + at;
          for (size_t r = 0; r < lanes; ++r) dst[r] = (int16_t)(src.w(row + g0 + r) - wzp);
        } else {
          uint8_t* dst = wt + at;  // padding stays 0: nothing for the bytes read past k
          for (size_t r = 0; r < lanes; ++r) dst[r] = (uint8_t)src.w(row + g0 + r) ^ wFlip;
        }
      }
    }
  }
}

namespace {

// The depthwise weights of channel c, tap t, as the packed format holds them: w - w_zp.
inline int32_t centered(const QConvSrc& src, size_t t, size_t c) {
  return src.w(t * src.n + c) - src.weightZero;
}

// Part `set` of v when v is split into `sets` int8 values summing to it (each part takes what it
// can, in order; |v| <= 255 needs at most three).
inline int8_t part(int32_t v, size_t set) {
  for (size_t i = 0; i < set; ++i) v -= v < -128 ? -128 : v > 127 ? 127 : v;
  return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
}

// Int8 parts channels [c0, c0 + count) of src need.
size_t block_sets(const QConvSrc& src, size_t c0, size_t count) {
  int32_t lo = 0, hi = 0;
  for (size_t t = 0; t < 9; ++t)
    for (size_t j = 0; j < count; ++j) {
      const int32_t v = centered(src, t, c0 + j);
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
    }
  return lo >= -128 && hi <= 127 ? 1 : lo >= -256 && hi <= 254 ? 2 : 3;
}

}  // namespace

size_t qdw_sets(const QKernels& kt, const QConvSrc& src) {
  if (kt.dw_format != QDwFormat::S8Taps4) return 1;
  size_t sets = 1;
  for (size_t c0 = 0; c0 < src.n; c0 += kt.dw_cb) {
    const size_t s = block_sets(src, c0, src.n - c0 < kt.dw_cb ? src.n - c0 : kt.dw_cb);
    sets = s > sets ? s : sets;
  }
  return sets;
}

size_t qdw_block_bytes(const QKernels& kt, size_t sets) {
  const size_t weights = kt.dw_format == QDwFormat::S8Taps4 ? 64 + sets * 3 * kt.dw_cb * 4
                                                             : 9 * kt.dw_cb * dw_elem_bytes(kt);
  return round64(kt.dw_cb * kQHeaderBytesPerChannel + weights);
}

size_t qdw_blocks(const QKernels& kt, size_t channels) {
  return channels / kt.dw_cb + (channels % kt.dw_cb != 0);
}

void qpack_dw_blocks(const QKernels& kt, const QConvSrc& src, size_t maxSets, uint8_t* dst, size_t b0, size_t b1) {
  const size_t cb = kt.dw_cb, C = src.n;
  const size_t blockBytes = qdw_block_bytes(kt, maxSets);
  const bool taps4 = kt.dw_format == QDwFormat::S8Taps4;
  int32_t bias[64];  // cb <= 64
  for (size_t blk = b0; blk < b1; ++blk) {
    uint8_t* out = dst + blk * blockBytes;
    const size_t c0 = blk * cb;
    const size_t count = C - c0 < cb ? C - c0 : cb;
    for (size_t j = 0; j < count; ++j) {
      int64_t sum = 0;
      for (size_t t = 0; t < 9; ++t) sum += centered(src, t, c0 + j);
      // Taps4 kernels multiply x + 128 (x ^ 0x80 as unsigned bytes).
      const int64_t xzp = (int64_t)src.inputZero + (taps4 ? 128 : 0);
      bias[j] = wrap32((int64_t)src.b(c0 + j) - xzp * sum);
    }
    write_header(out, cb, kt.lanes, bias, src, c0, count);
    uint8_t* wt = out + cb * kQHeaderBytesPerChannel;
    std::memset(wt, 0, blockBytes - cb * kQHeaderBytesPerChannel);
    const size_t sets = taps4 ? block_sets(src, c0, count) : 1;
    if (taps4) {
      reinterpret_cast<int32_t*>(wt)[0] = (int32_t)sets;
      wt += 64;
    }
    for (size_t t = 0; t < 9; ++t)
      for (size_t j = 0; j < count; ++j) {
        const int32_t v = centered(src, t, c0 + j);
        if (taps4) {
          // [set][kernel row][channel][4 taps: kx 0..2, then 0]
          for (size_t set = 0; set < sets; ++set)
            reinterpret_cast<int8_t*>(wt)[((set * 3 + t / 3) * cb + j) * 4 + t % 3] = part(v, set);
        } else if (kt.dw_format == QDwFormat::I16) {
          reinterpret_cast<int16_t*>(wt)[t * cb + j] = (int16_t)v;
        } else {
          reinterpret_cast<uint32_t*>(wt)[t * cb + j] = (uint16_t)(int16_t)v;
        }
      }
  }
}

size_t qdw_raw_bytes(size_t kernel, size_t channels) {
  return checked_add(round64(checked_mul({kernel, kernel, channels, 2})),
                     checked_mul(3, round64(checked_mul(channels, 4))));
}

void qpack_dw_raw(const QConvSrc& src, uint8_t* dst) {
  const size_t taps = src.k, C = src.n;
  int16_t* w = reinterpret_cast<int16_t*>(dst);
  for (size_t i = 0; i < taps * C; ++i) w[i] = (int16_t)(src.w(i) - src.weightZero);
  int32_t* bias = reinterpret_cast<int32_t*>(dst + round64(taps * C * 2));
  int32_t* mult = bias + round64(C * 4) / 4;
  int32_t* shift = mult + round64(C * 4) / 4;
  for (size_t c = 0; c < C; ++c) bias[c] = src.b(c);
  if (src.scale != nullptr) {
    std::memcpy(mult, src.scale, C * 4);
    std::memset(shift, 0, C * 4);
  } else {
    std::memcpy(mult, src.multiplier, C * 4);
    std::memcpy(shift, src.shift, C * 4);
  }
}

}  // namespace mn
