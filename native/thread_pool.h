// Persistent pool: size()-1 worker threads plus the calling thread (tid 0).
// size() == 1 spawns nothing and every job runs inline on the caller.
//
// Jobs are ranges of n items handed out dynamically, so that a thread that is late (preempted by
// another process, still waking up) does not hold the others back: every thread starts on its own
// contiguous share (owner claims `grain` items at a time from the front, so consecutive chunks of
// one thread are adjacent and operators can carry state such as a ring of expanded rows across
// them), and a thread whose share is exhausted steals chunks from the back of another thread's
// remaining share. The caller works too and only waits for chunks other threads have actually claimed.
//
// Waiting policy. A futex wake-up costs 50-100 µs on a VM, about a whole small layer, so idle
// workers spin before they park; how long depends on whether a run is in progress:
//   - inside a run (between begin_run() and end_run(): Model::run, 25-60 jobs back to back) workers
//     wait for the next job spinning, never parked, and begin_run() wakes parked workers at once,
//     so their wake-up overlaps the serial start of the run instead of delaying its first job;
//   - outside a run they spin at most kIdleSpinNs (thread_pool.cc) after their last job, then park:
//     an idle model costs no CPU.
// Spinning yields the core every few microseconds (a thread of ours or of another process that
// shares it gets it back at once), and is off entirely when the pool has more threads than the
// process may use CPUs (affinity mask): then every wait parks.
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

  // A run: a burst of jobs from one thread (see the waiting policy above). begin_run() wakes the
  // parked workers; until end_run() they spin between jobs. Calls must pair up, never nest; use Run.
  void begin_run();
  void end_run();

  class Run {
   public:
    explicit Run(ThreadPool& pool) : pool_(pool) { pool_.begin_run(); }
    ~Run() { pool_.end_run(); }
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;

   private:
    ThreadPool& pool_;
  };

#ifdef MOBILENET_POOL_STATS
  // Debug build only (-DMOBILENET_POOL_STATS; see native/README.md): per run and per job timings,
  // appended to $MOBILENET_POOL_STATS_FILE when the pool is destroyed.
  struct JobStat {
    int64_t publish, claim;        // steady_clock ns; claim: a worker's first claim (0: none)
    uint32_t n, workerItems;       // items, of which workers ran
    int16_t callerCpu, workerCpu;  // sched_getcpu() at publish / at the first worker claim
    uint8_t parked;                // that worker had parked since its previous job
  };
  struct RunStat {
    int64_t begin, end;
    uint32_t firstJob, endJob;
  };
#endif

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> range{0};  // begin << 32 | end; empty when begin >= end
  };

  void worker(size_t tid);
  bool wait_for_job(size_t tid, uint64_t* seen);  // false: stop
  void wait_done(size_t n);           // caller: until every claimed chunk is done
  void shutdown();                    // stops and joins every started worker
  void work(size_t tid);              // claims and runs chunks until no thread has items left
  bool claim_front(size_t tid, size_t* b, size_t* e);
  bool steal(size_t tid, size_t* b, size_t* e);

  size_t size_;
  bool spin_ = true;  // false: more threads than usable CPUs, every wait parks
  std::unique_ptr<Slot[]> slots_;
  std::vector<std::thread> workers_;

  // Current job. Read by workers only after a successful claim (which orders them after the
  // caller's writes, and the job cannot end while a claimed chunk is unfinished).
  std::atomic<RangeFn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<size_t> grain_{1};
  std::atomic<size_t> total_{0};
  alignas(64) std::atomic<size_t> done_{0};

  // Wake-ups. A thread about to park announces it (sleepers_, callerParked_) under mu_ before it
  // checks its condition; the other side changes the condition, then reads the announcement
  // (sequentially consistent on both sides: one of the two sees the other) and only then takes
  // mu_ and notifies, so a job published to spinning workers costs no lock and no system call.
  alignas(64) std::atomic<uint64_t> generation_{0};
  std::atomic<bool> hot_{false};  // inside begin_run() .. end_run()
  std::atomic<bool> stop_{false};
  alignas(64) std::atomic<size_t> sleepers_{0};
  std::atomic<bool> callerParked_{false};
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;

#ifdef MOBILENET_POOL_STATS
  void stats_dump();
  std::vector<JobStat> jobStats_;
  std::vector<RunStat> runStats_;
  std::atomic<uint32_t> jobCount_{0};
  std::unique_ptr<std::atomic<uint8_t>[]> parkedSince_;  // per thread
#endif
};

}  // namespace mn
