// Persistent pool: size()-1 worker threads plus the calling thread (tid 0).
// size() == 1 spawns nothing and every job runs inline on the caller.
//
// Jobs are ranges of n items handed out dynamically, so that a thread that is late (preempted by
// another process, still waking up) does not hold the others back: every thread starts on its own
// contiguous share (owner claims `grain` items at a time from the front, so consecutive chunks of
// one thread are adjacent and operators can carry state such as a ring of expanded rows across
// them), and a thread whose share is exhausted steals chunks from the back of another thread's
// remaining share. The caller works too and only waits for chunks other threads have actually claimed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace mn {

class ThreadPool {
 public:
  // fn(ctx, tid, begin, end): process items [begin, end) on thread tid (tid < size()).
  typedef void (*RangeFn)(void* ctx, size_t tid, size_t begin, size_t end);

  // Called before each worker thread is started (tid 1 .. threads-1); may throw. Tests use it to
  // make a thread start fail at a chosen tid; production passes nullptr.
  typedef void (*SpawnHook)(size_t tid);

  // Starts threads-1 workers. If a thread cannot be started (std::system_error from std::thread,
  // e.g. a process thread limit, or whatever `hook` throws), the workers already started are
  // stopped and joined, and the exception propagates: a failed construction leaves no thread behind.
  explicit ThreadPool(size_t threads, SpawnHook hook = nullptr);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return size_; }

  // Calls fn on disjoint chunks covering [0, n) (chunks of about `grain` items, possibly fewer or
  // more) and returns when all are done. A thread may get several chunks; with size() == 1 (or
  // n <= grain) it is a single fn(ctx, 0, 0, n) on the caller. Not reentrant: one job at a time
  // (the Model serialises inferences).
  void parallel(size_t n, size_t grain, RangeFn fn, void* ctx);

  template <class F>
  void parallel(size_t n, size_t grain, F& f) {
    parallel(
        n, grain,
        [](void* c, size_t tid, size_t b, size_t e) { (*static_cast<F*>(c))(tid, b, e); }, &f);
  }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> range{0};  // begin << 32 | end; empty when begin >= end
  };

  void worker(size_t tid);
  void shutdown();        // stops and joins every started worker
  void work(size_t tid);  // claims and runs chunks until no thread has items left
  bool claim_front(size_t tid, size_t* b, size_t* e);
  bool steal(size_t tid, size_t* b, size_t* e);

  size_t size_;
  int spin_ = 0;
  std::unique_ptr<Slot[]> slots_;
  std::vector<std::thread> workers_;

  // Current job. Read by workers only after a successful claim (which orders them after the
  // caller's writes, and the job cannot end while a claimed chunk is unfinished).
  std::atomic<RangeFn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<size_t> grain_{1};
  std::atomic<size_t> total_{0};
  alignas(64) std::atomic<size_t> done_{0};

  alignas(64) std::atomic<uint64_t> generation_{0};
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::atomic<bool> stop_{false};
};

}  // namespace mn
