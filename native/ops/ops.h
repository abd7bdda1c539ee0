// Operators: plan one step's work across threads and call the per-ISA microkernels.
// Generic code (compiled without ISA flags).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <vector>

#include "../kernels.h"
#include "../thread_pool.h"

namespace mn {

// Sizes derived from a plan go through these: an overflow throws SizeOverflow (the plan reader turns
// it into an error naming the step) instead of wrapping around to a small, wrong size.
struct SizeOverflow : std::length_error {
  SizeOverflow() : std::length_error("size overflow") {}
};
inline size_t checked_mul(size_t a, size_t b) {
  if (a != 0 && b > SIZE_MAX / a) throw SizeOverflow();
  return a * b;
}
inline size_t checked_mul(std::initializer_list<size_t> xs) {
  size_t r = 1;
  for (size_t x : xs) r = checked_mul(r, x);
  return r;
}
inline size_t checked_add(size_t a, size_t b) {
  if (b > SIZE_MAX - a) throw SizeOverflow();
  return a + b;
}

// 64-byte aligned float buffer.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t n) { reset(n); }
  ~AlignedBuffer() { release(); }
  AlignedBuffer(AlignedBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  void reset(size_t n);  // zero-filled; throws std::bad_alloc (also for an n no allocator can give)
  void release();
  float* data() { return p_; }
  const float* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  float* p_ = nullptr;
  size_t n_ = 0;
};

enum class OpType { Conv2d, Depthwise, Pointwise, Bottleneck, AvgPool, Fc, Softmax };

struct Act {
  float min;
  float max;
};
Act act_from_code(int code);

// One resolved step. Field use per op:
//  conv2d:     inH inW outH outW stride padTop padLeft kernel inC outC act0 w0 (gemm panels, K=k*k*inC)
//  depthwise:  inH inW outH outW stride padTop padLeft kernel inC(=channels) act0
//              w0 (kernel==3: dw blocks; else raw [k,k,C]) bias (raw, kernel!=3 only)
//  pointwise:  inH=h inW=w inC outC act0 w0 (gemm panels)
//  bottleneck: inH inW outH outW stride padTop padLeft inC expandC outC residual hasExpand
//              act0/w0 expand (gemm), act1/w1 depthwise (dw blocks), act2/w2 project (gemm)
//  avgpool:    inH=h inW=w inC(=channels)
//  fc:         inC outC w0 (gemm panels)
//  softmax:    inC(=n)
struct StepDesc {
  OpType op = OpType::Softmax;
  size_t input = 0, output = 0;
  size_t inH = 1, inW = 1, outH = 1, outW = 1, stride = 1, padTop = 0, padLeft = 0, kernel = 1;
  size_t inC = 0, expandC = 0, outC = 0;
  bool residual = false, hasExpand = false;
  size_t bandRows = 1, ringRows = 3;  // bottleneck: output rows per band, expanded rows in the ring
  bool wide = false;  // bottleneck: small image, several threads: whole-image phases (see bottleneck.cc)
  Act act0{}, act1{}, act2{};
  AlignedBuffer w0, w1, w2, bias;
  std::vector<size_t> koff;  // conv2d: input offset of each of the k*k*inC taps (indirect GEMM)
};

// Weight packing (copies). packed_*_floats: the size of the packed buffer (checked arithmetic).
size_t packed_gemm_floats(size_t n, size_t k, size_t nr);
size_t packed_dw3x3_floats(size_t channels, size_t cb);
// src [n][k] row-major + bias [n] -> panels of nr: [nr bias][k][nr], zero padded.
void pack_gemm(const float* src, const float* bias, size_t n, size_t k, size_t nr,
               AlignedBuffer* out);
// src [3][3][C] + bias [C] -> blocks of cb channels: [cb bias][9][cb], zero padded.
void pack_dw3x3(const float* src, const float* bias, size_t channels, size_t cb,
                AlignedBuffer* out);

struct ExecContext {
  const Kernels* k;
  ThreadPool* pool;
  float* const* scratch;  // one buffer per thread
  const float* zero;      // read-only zeros, >= max row size of any depthwise input
  float* shared;          // one buffer all threads share, >= max shared_floats of any step
};

// Per-thread scratch floats each op needs (0 if none). These three use checked arithmetic.
size_t scratch_floats(const StepDesc& s);
// Floats of the buffer shared by all threads a step needs (0 if none).
size_t shared_floats(const StepDesc& s);
// Floats of zeros a step needs to read (a padding row).
size_t zero_floats(const StepDesc& s);

// Prepares the tap offsets of a conv2d step (needs shapes). Throws SizeOverflow.
void plan_conv2d(StepDesc* s);

// Chooses bandRows / ringRows / wide of a bottleneck step (needs shapes and hasExpand) for a pool
// of `threads` threads. Throws SizeOverflow.
void plan_bottleneck(StepDesc* s, size_t threads);

void run_conv2d(const ExecContext& ctx, const StepDesc& s, float* arena);
void run_depthwise(const ExecContext& ctx, const StepDesc& s, float* arena);
void run_pointwise(const ExecContext& ctx, const StepDesc& s, float* arena);
void run_bottleneck(const ExecContext& ctx, const StepDesc& s, float* arena);
void run_avgpool(const ExecContext& ctx, const StepDesc& s, float* arena);
void run_fc(const ExecContext& ctx, const StepDesc& s, float* arena);
void run_softmax(const ExecContext& ctx, const StepDesc& s, float* arena);

// Dynamic split of [0, n) over the pool: f(tid, begin, end) on chunks of about `grain` items; a
// thread may get several chunks (consecutive ones of its own share are adjacent, in order), so f
// must not assume one call per thread. With one thread: a single f(0, 0, n).
template <class F>
void parallel_for(ThreadPool& pool, size_t n, size_t grain, F&& f) {
  if (n == 0) return;
  pool.parallel(n, grain, f);
}

// A grain giving each of the pool's threads about `per_thread` chunks of n, at least `min_grain`.
inline size_t grain_for(const ThreadPool& pool, size_t n, size_t per_thread, size_t min_grain = 1) {
  const size_t parts = pool.size() * per_thread;
  const size_t g = (n + parts - 1) / parts;
  return g < min_grain ? min_grain : g;
}

}  // namespace mn
