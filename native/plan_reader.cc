// Generic code (no ISA flags).
#include "plan_reader.h"

#include <cmath>
#include <cstdio>

namespace mn {

std::string mib(size_t bytes) {
  const size_t GiB = size_t(1) << 30;
  char buf[64];
  if (bytes >= GiB && bytes % GiB == 0)
    std::snprintf(buf, sizeof buf, "%zu GiB", bytes / GiB);
  else if (bytes >= GiB)
    std::snprintf(buf, sizeof buf, "%.2f GiB", (double)bytes / (double)GiB);
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
  return buf;
}

void out_of_memory(Napi::Env env, const std::string& what, size_t bytes) {
  throw Napi::Error::New(env, "mobilenet native: out of memory while allocating " + what + " (" +
                                  mib(bytes) + ")");
}

void PlanReader::fail(const std::string& msg) const {
  throw Napi::Error::New(env_, "mobilenet native: invalid plan: " + where_ + ": " + msg);
}

size_t PlanReader::uint(const Napi::Object& o, const char* key, size_t minValue) const {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) fail(std::string("'") + key + "' must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= (double)minValue && d <= kMaxDim) || std::floor(d) != d)
    fail(std::string("'") + key + "' must be an integer >= " + std::to_string(minValue) + " (got " +
         v.ToString().Utf8Value() + ")");
  return (size_t)d;
}

int64_t PlanReader::integer(const Napi::Object& o, const char* key, int64_t lo, int64_t hi) const {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) fail(std::string("'") + key + "' must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= (double)lo && d <= (double)hi) || std::floor(d) != d)
    fail(std::string("'") + key + "' must be an integer in [" + std::to_string(lo) + ", " +
         std::to_string(hi) + "] (got " + v.ToString().Utf8Value() + ")");
  return (int64_t)d;
}

std::string PlanReader::string(const Napi::Object& o, const char* key) const {
  const Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

Napi::Object PlanReader::object(const Napi::Object& o, const char* key) const {
  const Napi::Value v = o.Get(key);
  if (!v.IsObject()) fail(std::string("'") + key + "' must be an object");
  return v.As<Napi::Object>();
}

Napi::Object PlanReader::optional_object(const Napi::Object& o, const char* key, bool* present) const {
  const Napi::Value v = o.Get(key);
  *present = !(v.IsNull() || v.IsUndefined());
  if (!*present) return Napi::Object();
  if (!v.IsObject()) fail(std::string("'") + key + "' must be an object or null");
  return v.As<Napi::Object>();
}

const int8_t* PlanReader::int8_array(const Napi::Object& o, const char* key, size_t length) const {
  const Napi::Value v = o.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int8_array)
    fail(std::string("'") + key + "' must be an Int8Array");
  Napi::Int8Array a = v.As<Napi::Int8Array>();
  if (a.ElementLength() != length)
    fail(std::string("'") + key + "' has " + std::to_string(a.ElementLength()) + " values, expected " +
         std::to_string(length));
  return a.Data();
}

const int32_t* PlanReader::int32_array(const Napi::Object& o, const char* key, size_t length) const {
  const Napi::Value v = o.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    fail(std::string("'") + key + "' must be an Int32Array");
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  if (a.ElementLength() < length)
    fail(std::string("'") + key + "' has " + std::to_string(a.ElementLength()) + " values, expected " +
         std::to_string(length));
  return a.Data();
}

const float* PlanReader::float32_array(const Napi::Object& o, const char* key, size_t length, float lo,
                                       float hi) const {
  const Napi::Value v = o.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    fail(std::string("'") + key + "' must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (a.ElementLength() < length)
    fail(std::string("'") + key + "' has " + std::to_string(a.ElementLength()) + " values, expected " +
         std::to_string(length));
  const float* data = a.Data();
  for (size_t i = 0; i < length; ++i)
    if (!(data[i] >= lo && data[i] < hi)) {
      char msg[128];
      std::snprintf(msg, sizeof msg, "' value %zu is %g (must be in [%g, %g))", i, (double)data[i], (double)lo, (double)hi);
      fail(std::string("'") + key + msg);
    }
  return data;
}

float PlanReader::float32(const Napi::Object& o, const char* key, double lo, double hi) const {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) fail(std::string("'") + key + "' must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || (double)(float)d != d) {
    char msg[128];
    std::snprintf(msg, sizeof msg, "' must be a float32 value in [%g, %g] (got %g)", lo, hi, d);
    fail(std::string("'") + key + msg);
  }
  return (float)d;
}

size_t PlanReader::mul(std::initializer_list<size_t> xs) const {
  size_t r = 1;
  for (size_t x : xs) {
    if (x != 0 && r > kMaxElems / x) fail("tensor too large");
    r *= x;
  }
  return r;
}

void check_range(const PlanReader& r, size_t offset, size_t size, size_t arena, const char* what,
                 const char* arenaKey) {
  if (offset > arena || size > arena - offset)
    r.fail(std::string(what) + " [" + std::to_string(offset) + ", " + std::to_string(offset + size) +
           ") exceeds " + arenaKey + " " + std::to_string(arena));
}

}  // namespace mn
