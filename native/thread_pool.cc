#include "thread_pool.h"

#include <chrono>

#if defined(__linux__)
#include <sched.h>
#endif
#ifdef MOBILENET_POOL_STATS
#include <cstdio>
#include <cstdlib>
#endif

namespace mn {
namespace {
// Outside a run, an idle worker spins this long after its last job before it parks (a new job
// within that time needs no wake-up). Between two inferences of a back-to-back loop the gap (the
// result's trip through the JS thread and the next submit) is 70-260 µs on a 2-core VM; spinning
// across all of it would cost ~5 % of a core for little, since begin_run() wakes the workers at
// the start of the next run anyway. 100 µs is the most an idle model may burn after a run.
const int64_t kIdleSpinNs = 100 * 1000;
// The caller, once out of chunks, spins this long for the chunks other threads still hold before
// it parks: a chunk normally finishes within tens of µs; much longer means its thread was preempted.
const int64_t kCallerSpinNs = 200 * 1000;
// Every this many pause instructions (~25 ns each on x86-64) a spinning thread yields its core
// and, where it spins against a deadline, reads the clock.
const unsigned kYieldEvery = 64;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
// CPUs this process may run on (its affinity mask: a container's cpuset, taskset), else the
// machine's hardware threads; 0 if unknown.
size_t usable_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return (size_t)n;
  }
#endif
  return std::thread::hardware_concurrency();
}
inline uint64_t pack(size_t b, size_t e) { return (uint64_t)b << 32 | (uint64_t)e; }
inline size_t lo(uint64_t v) { return (size_t)(v & 0xFFFFFFFFu); }
inline size_t hi(uint64_t v) { return (size_t)(v >> 32); }

#ifdef MOBILENET_POOL_STATS
inline int16_t current_cpu() {
#if defined(__linux__)
  return (int16_t)sched_getcpu();
#else
  return -1;
#endif
}
#endif
}  // namespace

ThreadPool::ThreadPool(size_t threads, SpawnHook hook)
    : size_(threads == 0 ? 1 : threads), slots_(new Slot[threads == 0 ? 1 : threads]) {
  const size_t cpus = usable_cpus();
  spin_ = cpus == 0 || size_ <= cpus;
#ifdef MOBILENET_POOL_STATS
  parkedSince_.reset(new std::atomic<uint8_t>[size_]);
  for (size_t t = 0; t < size_; ++t) parkedSince_[t].store(0);
  jobStats_.resize(size_t(1) << 21);
  runStats_.reserve(size_t(1) << 16);
#endif
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

ThreadPool::~ThreadPool() {
  shutdown();
#ifdef MOBILENET_POOL_STATS
  stats_dump();
#endif
}

void ThreadPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_seq_cst);
    generation_.fetch_add(1, std::memory_order_seq_cst);
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
#ifdef MOBILENET_POOL_STATS
    if (tid != 0) {
      const uint32_t j = jobCount_.load(std::memory_order_relaxed) - 1;
      if (j < jobStats_.size()) {
        // (GCC/Clang atomics on plain fields: JobStat stays copyable; the debug build needs them.)
        JobStat& s = jobStats_[j];
        int64_t unclaimed = 0;
        if (__atomic_compare_exchange_n(&s.claim, &unclaimed, now_ns(), false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
          s.workerCpu = current_cpu();
          s.parked = parkedSince_[tid].exchange(0);
        }
        __atomic_fetch_add(&s.workerItems, (uint32_t)(e - b), __ATOMIC_RELAXED);
      }
    }
#endif
    fn(ctx, tid, b, e);
    // seq_cst: pairs with the caller's announcement in wait_done (see sleepers_ in the header).
    if (done_.fetch_add(e - b, std::memory_order_seq_cst) + (e - b) == total && tid != 0 &&
        callerParked_.load(std::memory_order_seq_cst)) {
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
#ifdef MOBILENET_POOL_STATS
  {
    const uint32_t j = jobCount_.load(std::memory_order_relaxed);
    if (j < jobStats_.size()) jobStats_[j] = JobStat{now_ns(), 0, (uint32_t)n, 0, current_cpu(), -1, 0};
    jobCount_.store(j + 1, std::memory_order_relaxed);  // published by the slot stores below
  }
#endif
  for (size_t t = 0; t < size_; ++t)
    slots_[t].range.store(pack(n * t / size_, n * (t + 1) / size_), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) != 0) {
    { std::lock_guard<std::mutex> lock(mu_); }
    start_cv_.notify_all();
  }
  work(0);
  if (done_.load(std::memory_order_acquire) != n) wait_done(n);
}

void ThreadPool::wait_done(size_t n) {
  if (spin_) {
    int64_t deadline = 0;
    for (unsigned i = 1;; ++i) {
      if (done_.load(std::memory_order_acquire) == n) return;
      if (i % kYieldEvery != 0) {
        cpu_relax();
        continue;
      }
      // The thread holding the last chunk may be waiting for this core.
      std::this_thread::yield();
      const int64_t now = now_ns();
      if (deadline == 0)
        deadline = now + kCallerSpinNs;
      else if (now > deadline)
        break;
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  callerParked_.store(true, std::memory_order_seq_cst);
  done_cv_.wait(lock, [&] { return done_.load(std::memory_order_seq_cst) == n; });
  callerParked_.store(false, std::memory_order_relaxed);
}

void ThreadPool::begin_run() {
#ifdef MOBILENET_POOL_STATS
  if (runStats_.size() < runStats_.capacity())
    runStats_.push_back(RunStat{now_ns(), 0, jobCount_.load(std::memory_order_relaxed), 0});
#endif
  if (size_ == 1 || !spin_) return;  // nothing to keep hot: every wait parks anyway
  hot_.store(true, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) != 0) {
    { std::lock_guard<std::mutex> lock(mu_); }
    start_cv_.notify_all();
  }
}

void ThreadPool::end_run() {
  hot_.store(false, std::memory_order_relaxed);
#ifdef MOBILENET_POOL_STATS
  if (!runStats_.empty() && runStats_.back().end == 0) {
    runStats_.back().end = now_ns();
    runStats_.back().endJob = jobCount_.load(std::memory_order_relaxed);
  }
#endif
}

bool ThreadPool::wait_for_job(size_t tid, uint64_t* seen) {
  for (;;) {
    if (spin_) {
      // Spin while a run is in progress; otherwise for at most kIdleSpinNs (from the moment
      // this thread sees no run), then park.
      int64_t idleSince = 0;
      for (unsigned i = 1;; ++i) {
        const uint64_t g = generation_.load(std::memory_order_acquire);
        if (g != *seen) {
          *seen = g;
          return !stop_.load(std::memory_order_acquire);
        }
        if (i % kYieldEvery != 0) {
          cpu_relax();
          continue;
        }
        std::this_thread::yield();
        if (hot_.load(std::memory_order_relaxed)) {
          idleSince = 0;
          continue;
        }
        const int64_t now = now_ns();
        if (idleSince == 0)
          idleSince = now;
        else if (now - idleSince > kIdleSpinNs)
          break;
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    // A run that starts wakes us too (only to spin: if spin_ is false, begin_run never sets hot_).
    start_cv_.wait(lock, [&] {
      return generation_.load(std::memory_order_seq_cst) != *seen ||
             hot_.load(std::memory_order_seq_cst);
    });
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
#ifdef MOBILENET_POOL_STATS
    parkedSince_[tid].store(1);
#else
    (void)tid;
#endif
    const uint64_t g = generation_.load(std::memory_order_acquire);
    if (g != *seen) {
      *seen = g;
      return !stop_.load(std::memory_order_acquire);
    }
  }
}

void ThreadPool::worker(size_t tid) {
  uint64_t seen = 0;
  for (;;) {
    if (!wait_for_job(tid, &seen)) return;
    work(tid);
  }
}

#ifdef MOBILENET_POOL_STATS
void ThreadPool::stats_dump() {
  const char* path = std::getenv("MOBILENET_POOL_STATS_FILE");
  if (path == nullptr || size_ == 1 || runStats_.empty()) return;
  FILE* f = std::fopen(path, "a");
  if (f == nullptr) return;
  std::fprintf(f, "POOL %zu\n", size_);
  for (const RunStat& r : runStats_)
    std::fprintf(f, "R %lld %lld %u %u\n", (long long)r.begin, (long long)r.end, r.firstJob, r.endJob);
  const uint32_t jobs = jobCount_.load();
  for (uint32_t i = 0; i < jobs && i < jobStats_.size(); ++i) {
    const JobStat& j = jobStats_[i];
    std::fprintf(f, "J %lld %lld %u %u %d %d %d\n", (long long)j.publish, (long long)j.claim, j.n,
                 j.workerItems, j.callerCpu, j.workerCpu, j.parked);
  }
  std::fclose(f);
}
#endif

}  // namespace mn
