// What the addon's per-model executor runs: a compiled plan of either dtype (model.h: fp32 Model,
// quant_model.h: int8 QuantModel). One run at a time; inputs and outputs are raw element bytes.
#pragma once

#include <cstddef>

namespace mn {

class Runner {
 public:
  virtual ~Runner() = default;
  // Runs steps [0, steps) (1 <= steps <= stepCount()) and copies the last one's output.
  // input: inputBytes() bytes; output: stepOutputBytes(steps - 1) bytes. stepMillis, when given,
  // receives the wall time of each step run (`steps` values). Not reentrant.
  virtual void run(const void* input, void* output, double* stepMillis, size_t steps) = 0;
  virtual size_t stepCount() const = 0;
  virtual size_t stepOutputBytes(size_t step) const = 0;
  virtual size_t inputBytes() const = 0;
  virtual size_t outputBytes() const = 0;
  virtual size_t arenaBytes() const = 0;
  virtual size_t scratchBytes() const = 0;
  virtual size_t threads() const = 0;
  virtual const char* isa() const = 0;
};

}  // namespace mn
