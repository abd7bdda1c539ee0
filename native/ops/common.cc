#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "ops.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

namespace mn {

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& o) noexcept {
  if (this != &o) {
    release();
    p_ = o.p_;
    n_ = o.n_;
    base_ = o.base_;
    mapped_ = o.mapped_;
    o.p_ = nullptr;
    o.n_ = 0;
    o.base_ = nullptr;
    o.mapped_ = 0;
  }
  return *this;
}

namespace {

const size_t kHugePage = size_t(2) << 20;

// Bytes of a buffer of n floats: +16 floats of slack, rounded up to 64 bytes.
size_t buffer_bytes(size_t n) {
  if (n > (SIZE_MAX - 128) / sizeof(float) - 16 || n > SIZE_MAX / 8) throw std::bad_alloc();
  return ((n + 16) * sizeof(float) + 63) / 64 * 64;
}

void* aligned_alloc64(size_t bytes) {
  void* p = nullptr;
#if defined(_MSC_VER)
  p = _aligned_malloc(bytes, 64);
#else
  if (posix_memalign(&p, 64, bytes) != 0) p = nullptr;
#endif
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

#if defined(__linux__)
// `bytes` (a multiple of kHugePage) of zeroed anonymous memory at a 2 MiB boundary, marked for
// transparent huge pages (a hint: without THP it is ordinary memory). nullptr if it cannot be mapped.
void* map_huge(size_t bytes) {
  if (bytes > SIZE_MAX - kHugePage) return nullptr;
  const size_t len = bytes + kHugePage;
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(m);
  const uintptr_t aligned = (start + kHugePage - 1) & ~uintptr_t(kHugePage - 1);
  // Give back the unaligned head and the tail.
  if (aligned > start) munmap(m, aligned - start);
  const size_t tail = (start + len) - (aligned + bytes);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + bytes), tail);
  void* p = reinterpret_cast<void*>(aligned);
#if defined(MADV_HUGEPAGE)
  madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}
#endif

}  // namespace

size_t AlignedBuffer::stride_floats(size_t n) { return buffer_bytes(n) / sizeof(float); }

void AlignedBuffer::allocate(size_t n, bool zero, bool huge) {
  release();
  if (n == 0) return;
  const size_t bytes = buffer_bytes(n);
#if defined(__linux__)
  if (huge && bytes >= kHugePage) {
    const size_t mapped = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = map_huge(mapped);
    if (p == nullptr) throw std::bad_alloc();
    base_ = p;
    mapped_ = mapped;
    p_ = static_cast<float*>(p);
    n_ = n;
    return;  // zero already
  }
#endif
  void* p = aligned_alloc64(bytes);
  if (zero)
    std::memset(p, 0, bytes);
  else
    std::memset(static_cast<char*>(p) + n * sizeof(float), 0, bytes - n * sizeof(float));
  base_ = p;
  mapped_ = 0;
  p_ = static_cast<float*>(p);
  n_ = n;
}

void AlignedBuffer::reset(size_t n) { allocate(n, true, false); }

void AlignedBuffer::reset_uninitialized(size_t n) { allocate(n, false, false); }

void AlignedBuffer::reset_huge(size_t n) { allocate(n, true, true); }

void AlignedBuffer::view(float* p, size_t n) {
  release();
  p_ = p;
  n_ = n;
}

void AlignedBuffer::release() {
  if (base_ != nullptr) {
#if defined(__linux__)
    if (mapped_ != 0) {
      munmap(base_, mapped_);
    } else
#endif
    {
#if defined(_MSC_VER)
      _aligned_free(base_);
#else
      free(base_);
#endif
    }
  }
  p_ = nullptr;
  n_ = 0;
  base_ = nullptr;
  mapped_ = 0;
}

Act act_from_code(int code) {
  const float inf = std::numeric_limits<float>::infinity();
  switch (code) {
    case 1:
      return {0.0f, inf};
    case 2:
      return {0.0f, 6.0f};
    default:
      return {-inf, inf};
  }
}

size_t packed_gemm_floats(size_t n, size_t k, size_t nr) {
  return checked_mul({n / nr + (n % nr != 0), nr, checked_add(k, 1)});
}

size_t packed_dw3x3_floats(size_t channels, size_t cb) {
  return checked_mul({channels / cb + (channels % cb != 0), cb, 10});
}

// --- weight decoding -------------------------------------------------------------------------

size_t weight_type_size(WeightType t) {
  switch (t) {
    case WeightType::U8:
    case WeightType::I8:
      return 1;
    case WeightType::F16:
    case WeightType::I16:
      return 2;
    case WeightType::F32:
    case WeightType::I32:
      return 4;
    case WeightType::I64:
      return 8;
  }
  return 4;
}

namespace {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
const bool kBigEndian = true;
#else
const bool kBigEndian = false;
#endif

// Little-endian loads at any alignment.
template <class U>
inline U load_le(const uint8_t* p) {
  U v = 0;
  if (kBigEndian) {
    for (size_t b = 0; b < sizeof(U); ++b) v = U(v | (U(p[b]) << (8 * b)));
  } else {
    std::memcpy(&v, p, sizeof v);
  }
  return v;
}

// IEEE half -> float (exact; like halfToFloat in src/tflite/dequantize.ts).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    const float f = float(mantissa) * 5.9604644775390625e-8f;  // mantissa * 2^-24, exact
    return sign ? -f : f;
  }
  const uint32_t bits = exponent == 31 ? (sign | 0x7f800000u | (mantissa << 13))
                                       : (sign | ((exponent + 112) << 23) | (mantissa << 13));
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Narrow integers with an integral zero point of magnitude <= 2^23: q - zero is exact in float,
// and a float product of two exact operands rounds like the reader's double product rounded to
// float (the double product of a 24-bit scale and a <= 25-bit integer is exact). Otherwise the
// product is formed in double, as the reader does.
inline bool small_zero(double z) {
  return z == std::floor(z) && z >= -8388608.0 && z <= 8388608.0;
}

template <class Q, class Load>
void decode_int_run(const uint8_t* p, size_t n, float scale, double zero, float* dst, Load load) {
  if (sizeof(Q) <= 2 && small_zero(zero)) {
    const int32_t z = int32_t(zero);
    for (size_t j = 0; j < n; ++j) dst[j] = scale * float(int32_t(load(p + j * sizeof(Q))) - z);
  } else {
    const double s = scale;
    for (size_t j = 0; j < n; ++j) dst[j] = float(s * (double(load(p + j * sizeof(Q))) - zero));
  }
}

void decode_run(WeightType type, const uint8_t* p, size_t n, float scale, double zero, float* dst) {
  switch (type) {
    case WeightType::U8:
      decode_int_run<uint8_t>(p, n, scale, zero, dst, [](const uint8_t* q) { return *q; });
      break;
    case WeightType::I8:
      decode_int_run<int8_t>(p, n, scale, zero, dst, [](const uint8_t* q) { return int8_t(*q); });
      break;
    case WeightType::I16:
      decode_int_run<int16_t>(p, n, scale, zero, dst,
                              [](const uint8_t* q) { return int16_t(load_le<uint16_t>(q)); });
      break;
    case WeightType::I32:
      decode_int_run<int32_t>(p, n, scale, zero, dst,
                              [](const uint8_t* q) { return int32_t(load_le<uint32_t>(q)); });
      break;
    case WeightType::I64:
      decode_int_run<int64_t>(p, n, scale, zero, dst,
                              [](const uint8_t* q) { return int64_t(load_le<uint64_t>(q)); });
      break;
    default:
      break;
  }
}

}  // namespace

void decode_weights(const WeightSrc& s, size_t begin, size_t n, float* dst) {
  if (n == 0) return;
  const size_t size = weight_type_size(s.type);
  const uint8_t* p = s.data + begin * size;
  switch (s.type) {
    case WeightType::F32:
      if (!kBigEndian) {
        std::memcpy(dst, p, n * sizeof(float));
      } else {
        for (size_t j = 0; j < n; ++j) {
          const uint32_t bits = load_le<uint32_t>(p + 4 * j);
          std::memcpy(dst + j, &bits, sizeof(float));
        }
      }
      return;
    case WeightType::F16:
      for (size_t j = 0; j < n; ++j) dst[j] = half_to_float(load_le<uint16_t>(p + 2 * j));
      return;
    default:
      break;
  }
  // Quantized: one run per stretch of elements that share a channel.
  const size_t end = begin + n;
  for (size_t i = begin; i < end;) {
    const size_t run = i / s.inner;
    const size_t c = s.channels == 1 ? 0 : run % s.channels;
    const size_t runEnd = (run + 1) * s.inner;
    const size_t stop = runEnd < end ? runEnd : end;
    decode_run(s.type, s.data + i * size, stop - i, s.scale[c], s.zero[c], dst + (i - begin));
    i = stop;
  }
}

// --- packing -----------------------------------------------------------------------------------

namespace {

// out[i * nr + j] = tmp[j * ld + i] for i < kc and j < rows; 0 for rows <= j < nr.
void transpose_rows(const float* tmp, size_t ld, size_t rows, size_t kc, size_t nr, float* out) {
  size_t i = 0;
#if defined(__SSE2__)
  // 4x4 blocks (SSE is part of every x86-64, so this generic code needs no ISA flag).
  if (rows == nr && nr % 4 == 0) {
    for (; i + 4 <= kc; i += 4) {
      for (size_t j = 0; j < nr; j += 4) {
        __m128 r0 = _mm_loadu_ps(tmp + (j + 0) * ld + i);
        __m128 r1 = _mm_loadu_ps(tmp + (j + 1) * ld + i);
        __m128 r2 = _mm_loadu_ps(tmp + (j + 2) * ld + i);
        __m128 r3 = _mm_loadu_ps(tmp + (j + 3) * ld + i);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(out + (i + 0) * nr + j, r0);
        _mm_storeu_ps(out + (i + 1) * nr + j, r1);
        _mm_storeu_ps(out + (i + 2) * nr + j, r2);
        _mm_storeu_ps(out + (i + 3) * nr + j, r3);
      }
    }
  }
#endif
  for (; i < kc; ++i) {
    float* col = out + i * nr;
    for (size_t j = 0; j < rows; ++j) col[j] = tmp[j * ld + i];
    for (size_t j = rows; j < nr; ++j) col[j] = 0.0f;
  }
}

}  // namespace

void pack_gemm_panels(const WeightSrc& w, const WeightSrc& bias, size_t n, size_t k, size_t nr,
                      float* dst, size_t p0, size_t p1, float* tmp) {
  for (size_t p = p0; p < p1; ++p) {
    float* panel = dst + p * nr * (k + 1);
    const size_t o0 = p * nr;
    const size_t rows = n - o0 < nr ? n - o0 : nr;
    decode_weights(bias, o0, rows, panel);
    for (size_t j = rows; j < nr; ++j) panel[j] = 0.0f;
    // Row blocks of kPackKc columns: decoded row by row into tmp, written column by column, so
    // that the panel is written once, front to back.
    for (size_t i0 = 0; i0 < k; i0 += kPackKc) {
      const size_t kc = k - i0 < kPackKc ? k - i0 : kPackKc;
      for (size_t j = 0; j < rows; ++j) decode_weights(w, (o0 + j) * k + i0, kc, tmp + j * kPackKc);
      transpose_rows(tmp, kPackKc, rows, kc, nr, panel + nr * (1 + i0));
    }
  }
}

void pack_dw3x3_blocks(const WeightSrc& w, const WeightSrc& bias, size_t channels, size_t cb,
                       float* dst, size_t b0, size_t b1) {
  for (size_t b = b0; b < b1; ++b) {
    float* blk = dst + b * cb * 10;
    const size_t c0 = b * cb;
    const size_t count = channels - c0 < cb ? channels - c0 : cb;
    for (size_t t = 0; t < 10; ++t) {
      float* row = blk + t * cb;
      if (t == 0)
        decode_weights(bias, c0, count, row);
      else
        decode_weights(w, (t - 1) * channels + c0, count, row);
      for (size_t j = count; j < cb; ++j) row[j] = 0.0f;
    }
  }
}

void pack_gemm(const float* src, const float* bias, size_t n, size_t k, size_t nr,
               AlignedBuffer* out) {
  out->reset_uninitialized(packed_gemm_floats(n, k, nr));
  std::vector<float> tmp(pack_tmp_floats(nr));
  pack_gemm_panels(WeightSrc::floats(src, n * k), WeightSrc::floats(bias, n), n, k, nr,
                   out->data(), 0, (n + nr - 1) / nr, tmp.data());
}

void pack_dw3x3(const float* src, const float* bias, size_t channels, size_t cb,
                AlignedBuffer* out) {
  out->reset_uninitialized(packed_dw3x3_floats(channels, cb));
  pack_dw3x3_blocks(WeightSrc::floats(src, 9 * channels), WeightSrc::floats(bias, channels),
                    channels, cb, out->data(), 0, (channels + cb - 1) / cb);
}

size_t alias_pad(const float* p, const float* from, size_t channels) {
  // Store and load addresses differ by (p - from) + k * g modulo 4096 for integers k, with g the
  // largest power of two dividing both the pixel stride and 4096: half of g away from a multiple
  // of g keeps them at least g/2 bytes apart (with g < 128 a collision is rare: left alone).
  const size_t stride = channels * sizeof(float);
  size_t g = 4096;
  while (g > 1 && stride % g != 0) g /= 2;
  if (g < 128) return 0;
  const size_t d = (size_t)((uintptr_t)p - (uintptr_t)from) % g;
  return (g / 2 + g - d) % g / sizeof(float);
}

size_t scratch_floats(const StepDesc& s) {
  switch (s.op) {
    case OpType::Conv2d:
      return checked_mul({s.outW, s.kernel, s.kernel, s.inC});
    case OpType::Bottleneck:
      if (s.wide) return 0;
      return checked_add(s.hasExpand ? checked_mul({s.ringRows, s.inW, s.expandC}) : 0,
                         checked_add(checked_mul({s.bandRows, s.outW, s.expandC}), kAliasPadFloats));
    default:
      return 0;
  }
}

size_t shared_floats(const StepDesc& s) {
  if (s.op != OpType::Bottleneck || !s.wide) return 0;
  return checked_add(s.hasExpand ? checked_mul({s.inH, s.inW, s.expandC}) : 0,
                     checked_add(checked_mul({s.outH, s.outW, s.expandC}), kAliasPadFloats));
}

size_t zero_floats(const StepDesc& s) {
  switch (s.op) {
    case OpType::Depthwise:
      return checked_mul(s.inW, s.inC);
    case OpType::Bottleneck:
      return checked_mul(s.inW, s.expandC);
    default:
      return 0;
  }
}

}  // namespace mn
