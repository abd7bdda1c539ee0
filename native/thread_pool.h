// Persistent fork-join pool: size()-1 worker threads plus the calling thread (tid 0).
// size() == 1 spawns nothing and run() just calls the function inline.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace mn {

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return size_; }

  // Calls fn(ctx, tid) once for every tid in [0, size()) and returns when all are done.
  // Not reentrant: one run() at a time (the Model serialises inferences).
  void run(void (*fn)(void*, size_t), void* ctx);

  template <class F>
  void run(F& f) {
    run([](void* c, size_t tid) { (*static_cast<F*>(c))(tid); }, &f);
  }

 private:
  void worker(size_t tid);

  size_t size_;
  int spin_ = 0;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> pending_{0};
  bool stop_ = false;
  void (*fn_)(void*, size_t) = nullptr;
  void* ctx_ = nullptr;
};

}  // namespace mn
