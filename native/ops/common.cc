#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "ops.h"

namespace mn {

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& o) noexcept {
  if (this != &o) {
    release();
    p_ = o.p_;
    n_ = o.n_;
    o.p_ = nullptr;
    o.n_ = 0;
  }
  return *this;
}

void AlignedBuffer::reset(size_t n) {
  release();
  if (n == 0) return;
  if (n > (SIZE_MAX - 128) / sizeof(float) - 16) throw std::bad_alloc();
  // +16 floats of slack so that no kernel can ever step past the end of a buffer.
  const size_t bytes = ((n + 16) * sizeof(float) + 63) / 64 * 64;
  void* p = nullptr;
#if defined(_MSC_VER)
  p = _aligned_malloc(bytes, 64);
#else
  if (posix_memalign(&p, 64, bytes) != 0) p = nullptr;
#endif
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  p_ = static_cast<float*>(p);
  n_ = n;
}

void AlignedBuffer::release() {
  if (p_ != nullptr) {
#if defined(_MSC_VER)
    _aligned_free(p_);
#else
    free(p_);
#endif
  }
  p_ = nullptr;
  n_ = 0;
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

void pack_gemm(const float* src, const float* bias, size_t n, size_t k, size_t nr,
               AlignedBuffer* out) {
  const size_t panels = (n + nr - 1) / nr;
  out->reset(packed_gemm_floats(n, k, nr));
  float* dst = out->data();
  for (size_t p = 0; p < panels; ++p) {
    float* panel = dst + p * nr * (k + 1);
    for (size_t j = 0; j < nr; ++j) {
      const size_t o = p * nr + j;
      if (o >= n) break;
      panel[j] = bias[o];
      for (size_t i = 0; i < k; ++i) panel[nr * (1 + i) + j] = src[o * k + i];
    }
  }
}

void pack_dw3x3(const float* src, const float* bias, size_t channels, size_t cb,
                AlignedBuffer* out) {
  const size_t blocks = (channels + cb - 1) / cb;
  out->reset(packed_dw3x3_floats(channels, cb));
  float* dst = out->data();
  for (size_t b = 0; b < blocks; ++b) {
    float* blk = dst + b * cb * 10;
    for (size_t j = 0; j < cb; ++j) {
      const size_t c = b * cb + j;
      if (c >= channels) break;
      blk[j] = bias[c];
      for (size_t t = 0; t < 9; ++t) blk[cb * (1 + t) + j] = src[t * channels + c];
    }
  }
}

size_t scratch_floats(const StepDesc& s) {
  switch (s.op) {
    case OpType::Conv2d:
      return checked_mul({s.outW, s.kernel, s.kernel, s.inC});
    case OpType::Bottleneck:
      if (s.wide) return 0;
      return checked_add(s.hasExpand ? checked_mul({s.ringRows, s.inW, s.expandC}) : 0,
                         checked_mul({s.bandRows, s.outW, s.expandC}));
    default:
      return 0;
  }
}

size_t shared_floats(const StepDesc& s) {
  if (s.op != OpType::Bottleneck || !s.wide) return 0;
  return checked_add(s.hasExpand ? checked_mul({s.inH, s.inW, s.expandC}) : 0,
                     checked_mul({s.outH, s.outW, s.expandC}));
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
