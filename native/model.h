// A compiled plan: repacked weights, the activation arena, per-thread scratch and the thread pool,
// all allocated once at construction. run() executes the plan, or its first steps (an embedding is
// the output of the global pool, before the classifier); one run at a time (the arena and scratch
// are shared state): the addon runs them all on the model's executor thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <napi.h>

#include "isa.h"
#include "ops/ops.h"
#include "runner.h"
#include "thread_pool.h"


namespace mn {

class Model : public Runner {
 public:
  // Parses and validates `plan` (throws Napi::Error naming the step on any inconsistency, on sizes
  // that overflow or exceed the limits — 1 GiB of activations, 1 GiB of packed weights — and on a
  // failed allocation: "out of memory while allocating ..."), repacks every weight for `kernels`,
  // allocates arena + scratch, starts threads-1 workers (Napi::Error if they cannot be started;
  // none is left running then).
  Model(Napi::Env env, const Napi::Object& plan, const Kernels* kernels, size_t threads);

  // input: inputSize() floats; output: the last step run's floats (Runner::run).
  void run(const void* input, void* output, double* stepMillis, size_t steps) override;

  size_t stepCount() const override { return steps_.size(); }
  size_t stepOutputBytes(size_t step) const override { return stepOutputSizes_[step] * sizeof(float); }
  size_t inputSize() const { return inputH_ * inputW_ * inputC_; }
  size_t outputSize() const { return outputSize_; }
  size_t inputBytes() const override { return inputSize() * sizeof(float); }
  size_t outputBytes() const override { return outputSize_ * sizeof(float); }
  size_t arenaBytes() const override { return arena_.size() * sizeof(float); }
  size_t scratchBytes() const override { return scratchBytes_; }
  size_t threads() const override { return pool_->size(); }
  const char* isa() const override { return kernels_->name; }

 private:
  const Kernels* kernels_;
  size_t inputH_ = 0, inputW_ = 0, inputC_ = 0, input_ = 0, output_ = 0, outputSize_ = 0;
  AlignedBuffer weights_;  // every step's packed weights (the steps' w0/w1/w2/bias view it)
  std::vector<StepDesc> steps_;
  std::vector<size_t> stepOutputSizes_;  // floats each step writes (at steps_[i].output)
  AlignedBuffer arena_;
  AlignedBuffer zero_;
  AlignedBuffer scratch_;  // per-thread scratch; also the shared buffer of wide bottleneck steps
  std::vector<float*> scratchPtrs_;
  size_t scratchBytes_ = 0;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace mn
