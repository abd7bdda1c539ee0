// A compiled integer plan (src/engine/int8/plan.ts QPlan): packed int8 weights, the byte arena,
// per-thread scratch and the thread pool, all allocated once at construction. run() executes the
// whole plan bit-exactly as the TypeScript integer reference (src/engine/int8/ops.ts) would.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include <napi.h>

#include "isa.h"
#include "ops/qs8/ops_qs8.h"
#include "runner.h"
#include "thread_pool.h"

namespace mn {

class QuantModel : public Runner {
 public:
  // Parses and validates `plan` (throws Napi::Error naming the step on any inconsistency, on
  // values outside what the kernels take — zero points in [-128, 127], multipliers in [0, 2^31),
  // shifts in [-31, 31] — on sizes that overflow or exceed the limits, and on a failed allocation),
  // packs every weight for `kernels`, allocates arena + scratch, starts threads-1 workers.
  QuantModel(Napi::Env env, const Napi::Object& plan, const QKernels* kernels, size_t threads);

  // input: inputBytes() int8 values; output: the last step run's bytes (Runner::run).
  void run(const void* input, void* output, double* stepMillis, size_t steps) override;

  size_t stepCount() const override { return steps_.size(); }
  size_t stepOutputBytes(size_t step) const override { return stepOutputBytes_[step]; }
  size_t inputBytes() const override { return inputH_ * inputW_ * inputC_; }
  size_t outputBytes() const override { return outputSize_; }
  size_t arenaBytes() const override { return arenaBytes_; }
  size_t scratchBytes() const override { return scratchBytes_; }
  size_t threads() const override { return pool_->size(); }
  const char* isa() const override { return kernels_->name; }

 private:
  const QKernels* kernels_;
  size_t inputH_ = 0, inputW_ = 0, inputC_ = 0, input_ = 0, output_ = 0, outputSize_ = 0;
  size_t arenaBytes_ = 0, scratchBytes_ = 0;
  AlignedBuffer packed_;  // every step's packed weights and pad rows (the steps point into it)
  std::vector<QStepDesc> steps_;
  std::vector<size_t> stepOutputBytes_;  // bytes each step writes (at steps_[i].output)
  AlignedBuffer arena_;
  AlignedBuffer scratch_;  // per-thread scratch, one 64-byte aligned stride each
  std::vector<uint8_t*> scratchPtrs_;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace mn
