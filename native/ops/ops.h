// Operators: plan one step's work across threads and call the per-ISA microkernels.
// Generic code (compiled without ISA flags).
#pragma once

#include <algorithm>
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

// 64-byte aligned float buffer, with 16 floats of zeroed slack after its n floats (so that no
// kernel can ever step past the end). reset_huge maps buffers of 2 MiB or more on Linux
// (anonymous memory aligned to 2 MiB, madvise'd for transparent huge pages where the system allows
// them): such memory comes zeroed from the kernel and faults in 2 MiB at a time instead of 4 KiB,
// which for the megabytes of packed weights of a model is much of the cost of creating it. A
// buffer can also be a view of part of another one (view(); not owned, never freed).
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t n) { reset(n); }
  ~AlignedBuffer() { release(); }
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : p_(o.p_), n_(o.n_), base_(o.base_), mapped_(o.mapped_) {
    o.p_ = nullptr;
    o.n_ = 0;
    o.base_ = nullptr;
    o.mapped_ = 0;
  }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  void reset(size_t n);  // zero-filled; throws std::bad_alloc (also for an n no allocator can give)
  // Like reset, but the n floats are not cleared: for buffers the caller fills completely, which
  // then are written once instead of twice.
  void reset_uninitialized(size_t n);
  // Zero-filled like reset, in transparent huge pages where possible (see above); the pages are
  // only faulted in when first written (reset writes every one).
  void reset_huge(size_t n);
  // Views n floats at p (64-byte aligned, with the 16 floats of slack after them zero) of a
  // buffer that outlives this one.
  void view(float* p, size_t n);
  void release();
  float* data() { return p_; }
  const float* data() const { return p_; }
  size_t size() const { return n_; }
  // Floats one buffer of n floats takes: n + the slack, rounded up to 64 bytes (views packed
  // back to back at this stride keep each one's alignment and slack).
  static size_t stride_floats(size_t n);

 private:
  void allocate(size_t n, bool zero, bool huge);
  float* p_ = nullptr;
  size_t n_ = 0;
  void* base_ = nullptr;  // owned memory: from posix_memalign (mapped_ == 0) or mmap (mapped_ bytes)
  size_t mapped_ = 0;
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

// Where the values of a weight tensor come from: floats (a plan's Float32Array, a float32 model's
// bytes) or a model file's own encoding, decoded while packing, so that the file's bytes are read
// once and written once, straight into the packed layout:
//   F16:                 IEEE half;
//   U8 I8 I16 I32 I64:   quantized, value i = scale[c] * (q[i] - zero[c]), c = (i / inner) % channels
//                        (one scale, or one per channel of the quantized axis).
// Elements are little-endian at any alignment. Decoding gives exactly the floats of the TypeScript
// reader (src/tflite/dequantize.ts: the product in double, rounded once to float), so both backends
// run on bit-identical weights.
enum class WeightType : uint8_t { F32, F16, U8, I8, I16, I32, I64 };
size_t weight_type_size(WeightType t);

struct WeightSrc {
  WeightType type = WeightType::F32;
  const uint8_t* data = nullptr;  // count elements
  size_t count = 0;
  const float* scale = nullptr;   // integer types: `channels` values, finite and > 0
  const double* zero = nullptr;   // integer types: `channels` values, finite
  size_t channels = 1;
  size_t inner = 1;               // >= 1

  static WeightSrc floats(const float* p, size_t n) {
    WeightSrc s;
    s.data = reinterpret_cast<const uint8_t*>(p);
    s.count = n;
    return s;
  }
};

// dst[j] = value of element begin + j for j < n (begin + n <= s.count).
void decode_weights(const WeightSrc& s, size_t begin, size_t n, float* dst);

// Weight packing. packed_*_floats: the size of the packed buffer (checked arithmetic).
size_t packed_gemm_floats(size_t n, size_t k, size_t nr);
size_t packed_dw3x3_floats(size_t channels, size_t cb);
// GEMM panels: src [n][k] row-major + bias [n] -> panels of nr: [nr bias][k][nr], zero padded.
// pack_gemm_panels writes every float of panels [p0, p1) of dst (packed_gemm_floats(n, k, nr)
// floats), decoding through tmp (pack_tmp_floats(nr) floats per thread: panels are written in order,
// row blocks decoded into tmp and transposed from there, all in cache).
const size_t kPackKc = 128;
inline size_t pack_tmp_floats(size_t nr) { return nr * kPackKc; }
void pack_gemm_panels(const WeightSrc& w, const WeightSrc& bias, size_t n, size_t k, size_t nr,
                      float* dst, size_t p0, size_t p1, float* tmp);
// Depthwise 3x3 blocks: src [3][3][C] + bias [C] -> blocks of cb channels: [cb bias][9][cb], zero
// padded. pack_dw3x3_blocks writes every float of blocks [b0, b1) of dst.
void pack_dw3x3_blocks(const WeightSrc& w, const WeightSrc& bias, size_t channels, size_t cb,
                       float* dst, size_t b0, size_t b1);
// Whole-buffer forms of the above (allocate `out`, one thread).
void pack_gemm(const float* src, const float* bias, size_t n, size_t k, size_t nr,
               AlignedBuffer* out);
void pack_dw3x3(const float* src, const float* bias, size_t channels, size_t cb,
                AlignedBuffer* out);

struct ExecContext {
  const Kernels* k;
  ThreadPool* pool;
  float* const* scratch;  // one buffer per thread
  const float* zero;      // read-only zeros, >= max row size of any depthwise input
  float* shared;          // one buffer all threads share, >= max shared_floats of any step
};

// Floats to skip at p, at most kAliasPadFloats, so that a kernel storing pixels (`channels`
// floats apart) from p on never stores at an address whose bits 11..0 match those of its loads of
// pixels (as far apart) from `from` on. x86 cores take such a load for a reload of the stored data
// and hold it back ("4K aliasing"): the depthwise kernel on power-of-two channel counts, whose
// tensors sit at 4 KiB multiples, ran at a third of its speed.
const size_t kAliasPadFloats = 1024;
size_t alias_pad(const float* p, const float* from, size_t channels);

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

// The height of the equal bands, at most `most` rows each, that split rows [y0, y1) of a fused
// bottleneck (14 rows with most = 9: 7 + 7, not 9 + 5).
inline size_t equal_band_rows(size_t y0, size_t y1, size_t most) {
  const size_t bands = (y1 - y0 + most - 1) / most;
  return (y1 - y0 + bands - 1) / bands;
}

// Jobs of `units(j)` work units each (a GEMM's panels, a depthwise's blocks), all jobs' units one
// range shared dynamically by the pool's threads, so a late thread costs only its current chunk:
// f(tid, j, u0, u1) for units [u0, u1) of job j, each part of a chunk in job order.
template <class Units, class F>
void parallel_job_units(ThreadPool& pool, size_t jobs, Units&& units, F&& f) {
  std::vector<size_t> first(jobs + 1, 0);
  for (size_t j = 0; j < jobs; ++j) first[j + 1] = first[j] + units(j);
  const size_t total = first.back();
  if (total == 0) return;
  parallel_for(pool, total, grain_for(pool, total, 8), [&](size_t tid, size_t begin, size_t end) {
    size_t j = size_t(std::upper_bound(first.begin(), first.end(), begin) - first.begin()) - 1;
    while (begin < end) {
      const size_t u0 = begin - first[j];
      const size_t u1 = (end < first[j + 1] ? end : first[j + 1]) - first[j];
      f(tid, j, u0, u1);
      begin = first[j] + u1;
      ++j;
    }
  });
}

}  // namespace mn
