// Reading a plan object handed over from JavaScript: typed, range-checked fields whose errors name
// the step ("mobilenet native: invalid plan: step 3 (bottleneck project): ..."), and the limits on
// what a plan may make the addon allocate. Shared by the fp32 Model and the int8 QuantModel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include <napi.h>

namespace mn {

// Every size in a plan must be below this, and so must every product we form from them.
const double kMaxDim = 2147483647.0;
const size_t kMaxElems = size_t(1) << 34;

// What a plan may ask the addon to allocate (a plan is data: an absurd one must be an error, not
// terabytes of allocation). MobileNet v2 1.0 224 needs 2.8 MiB of activations, 14 MiB of weights
// in fp32.
const size_t kMaxActivationBytes = size_t(1) << 30;  // arena + per-thread scratch + zero row
const size_t kMaxWeightBytes = size_t(1) << 30;      // packed weights of all steps

// "762.9 MiB", "1 GiB", "9.25 GiB".
std::string mib(size_t bytes);

[[noreturn]] void out_of_memory(Napi::Env env, const std::string& what, size_t bytes);

class PlanReader {
 public:
  PlanReader(Napi::Env env, std::string where) : env_(env), where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& msg) const;

  // An integer in [minValue, kMaxDim].
  size_t uint(const Napi::Object& o, const char* key, size_t minValue = 0) const;
  // An integer in [lo, hi].
  int64_t integer(const Napi::Object& o, const char* key, int64_t lo, int64_t hi) const;
  std::string string(const Napi::Object& o, const char* key) const;
  Napi::Object object(const Napi::Object& o, const char* key) const;
  // The object at `key`, or nothing (*present = false) for null / undefined.
  Napi::Object optional_object(const Napi::Object& o, const char* key, bool* present) const;
  // Typed arrays read in place (valid while the plan object is). int8: exactly `length` values;
  // int32: at least `length`.
  const int8_t* int8_array(const Napi::Object& o, const char* key, size_t length) const;
  const int32_t* int32_array(const Napi::Object& o, const char* key, size_t length) const;
  // float32: at least `length` values, each finite and in [lo, hi).
  const float* float32_array(const Napi::Object& o, const char* key, size_t length, float lo, float hi) const;
  // A number that is a float32 value (Math.fround of itself), finite and in [lo, hi].
  float float32(const Napi::Object& o, const char* key, double lo, double hi) const;

  // Product of sizes, failing with "tensor too large" above kMaxElems.
  size_t mul(std::initializer_list<size_t> xs) const;

  Napi::Env env() const { return env_; }
  const std::string& where() const { return where_; }

 private:
  Napi::Env env_;
  std::string where_;
};

// Fails unless [offset, offset + size) lies within an arena of `arena` units.
void check_range(const PlanReader& r, size_t offset, size_t size, size_t arena, const char* what,
                 const char* arenaKey);

}  // namespace mn
