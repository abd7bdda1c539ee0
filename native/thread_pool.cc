#include "thread_pool.h"

namespace mn {
namespace {
// Spin a little before blocking: an inference is ~20-60 back-to-back jobs, a futex wake-up per
// step would dominate small layers. Spinning yields the core now and then, and is off entirely
// when the pool has more threads than the machine has hardware threads (oversubscribed).
const int kSpinIterations = 4000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
inline void backoff(int i) {
  if ((i & 63) == 63)
    std::this_thread::yield();
  else
    cpu_relax();
}
inline uint64_t pack(size_t b, size_t e) { return (uint64_t)b << 32 | (uint64_t)e; }
inline size_t lo(uint64_t v) { return (size_t)(v & 0xFFFFFFFFu); }
inline size_t hi(uint64_t v) { return (size_t)(v >> 32); }
}  // namespace

ThreadPool::ThreadPool(size_t threads, SpawnHook hook)
    : size_(threads == 0 ? 1 : threads), slots_(new Slot[threads == 0 ? 1 : threads]) {
  const unsigned hw = std::thread::hardware_concurrency();
  spin_ = (hw == 0 || size_ <= hw) ? kSpinIterations : 0;
  workers_.reserve(size_ - 1);
  try {
    for (size_t t = 1; t < size_; ++t) {
      if (hook != nullptr) hook(t);
      workers_.emplace_back(&ThreadPool::worker, this, t);
    }
  } catch (...) {
    // The destructor will not run: without this, the joinable threads in workers_ would
    // std::terminate, and the started workers would still wait on the condition variable.
    shutdown();
    throw;
  }
}

ThreadPool::~ThreadPool() { shutdown(); }

void ThreadPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

bool ThreadPool::claim_front(size_t tid, size_t* b, size_t* e) {
  std::atomic<uint64_t>& slot = slots_[tid].range;
  uint64_t v = slot.load(std::memory_order_acquire);
  for (;;) {
    const size_t vb = hi(v), ve = lo(v);
    if (vb >= ve) return false;
    const size_t g = grain_.load(std::memory_order_relaxed);
    const size_t nb = ve - vb > g ? vb + g : ve;
    if (slot.compare_exchange_weak(v, pack(nb, ve), std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
      *b = vb;
      *e = nb;
      return true;
    }
  }
}

bool ThreadPool::steal(size_t tid, size_t* b, size_t* e) {
  for (size_t i = 1; i < size_; ++i) {
    std::atomic<uint64_t>& slot = slots_[(tid + i) % size_].range;
    uint64_t v = slot.load(std::memory_order_acquire);
    for (;;) {
      const size_t vb = hi(v), ve = lo(v);
      if (vb >= ve) break;
      const size_t rem = ve - vb, g = grain_.load(std::memory_order_relaxed);
      const size_t take = rem <= g ? rem : g;  // one chunk from the back
      if (slot.compare_exchange_weak(v, pack(vb, ve - take), std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
        *b = ve - take;
        *e = ve;
        return true;
      }
    }
  }
  return false;
}

void ThreadPool::work(size_t tid) {
  for (;;) {
    size_t b, e;
    // A stolen chunk is run right away, never parked in our slot: only the caller writes slots
    // outside claims, so a thread still finishing an old job can never clobber a new job's share.
    if (!claim_front(tid, &b, &e) && !steal(tid, &b, &e)) return;
    // The claim synchronises with the caller's publication of this job, and the job cannot end
    // before this chunk is counted done: fn_/ctx_ are this job's.
    const RangeFn fn = fn_.load(std::memory_order_relaxed);
    void* const ctx = ctx_.load(std::memory_order_relaxed);
    const size_t total = total_.load(std::memory_order_relaxed);
    fn(ctx, tid, b, e);
    if (done_.fetch_add(e - b, std::memory_order_acq_rel) + (e - b) == total && tid != 0) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel(size_t n, size_t grain, RangeFn fn, void* ctx) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  if (size_ == 1 || n <= grain || n > 0xFFFFFFFFu) {
    fn(ctx, 0, 0, n);
    return;
  }
  // The previous job is complete: no thread holds a claim, nobody touches these until published.
  fn_.store(fn, std::memory_order_relaxed);
  ctx_.store(ctx, std::memory_order_relaxed);
  grain_.store(grain, std::memory_order_relaxed);
  total_.store(n, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  for (size_t t = 0; t < size_; ++t)
    slots_[t].range.store(pack(n * t / size_, n * (t + 1) / size_), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  work(0);
  for (int i = 0; i < spin_; ++i) {
    if (done_.load(std::memory_order_acquire) == n) return;
    backoff(i);
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return done_.load(std::memory_order_acquire) == n; });
}

void ThreadPool::worker(size_t tid) {
  uint64_t seen = 0;
  for (;;) {
    bool ready = false;
    for (int i = 0; i < spin_; ++i) {
      if (generation_.load(std::memory_order_acquire) != seen) {
        ready = true;
        break;
      }
      backoff(i);
    }
    if (!ready) {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] {
        return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
      });
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    work(tid);
  }
}

}  // namespace mn
