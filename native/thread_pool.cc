#include "thread_pool.h"

namespace mn {
namespace {
// Spin a little before blocking: an inference is ~60 back-to-back fork-joins, a futex wake-up per
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
}  // namespace

ThreadPool::ThreadPool(size_t threads) : size_(threads == 0 ? 1 : threads) {
  const unsigned hw = std::thread::hardware_concurrency();
  spin_ = (hw == 0 || size_ <= hw) ? kSpinIterations : 0;
  workers_.reserve(size_ - 1);
  for (size_t t = 1; t < size_; ++t) workers_.emplace_back(&ThreadPool::worker, this, t);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::run(void (*fn)(void*, size_t), void* ctx) {
  if (size_ == 1) {
    fn(ctx, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = fn;
    ctx_ = ctx;
    pending_.store(size_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  fn(ctx, 0);
  for (int i = 0; i < spin_; ++i) {
    if (pending_.load(std::memory_order_acquire) == 0) return;
    backoff(i);
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
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
    void (*fn)(void*, size_t);
    void* ctx;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!ready)
        start_cv_.wait(lock, [&] {
          return stop_ || generation_.load(std::memory_order_acquire) != seen;
        });
      if (stop_) return;
      seen = generation_.load(std::memory_order_acquire);
      fn = fn_;
      ctx = ctx_;
    }
    fn(ctx, tid);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace mn
