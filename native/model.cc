// Plan parsing + validation, weight packing and the executor. Generic code (no ISA flags).
#include "model.h"

#include "plan_reader.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>

#include <napi.h>

namespace mn {
namespace {

// The fused activation code of a step: 0 none, 1 ReLU, 2 ReLU6.
int read_act(const PlanReader& r, const Napi::Object& o, const char* key = "act") {
  const size_t a = r.uint(o, key);
  if (a > 2) r.fail(std::string("'") + key + "' must be 0, 1 or 2");
  return (int)a;
}

// The values of a weight tensor of `expected` elements: a Float32Array, or an encoded tensor
// { type, data: Uint8Array, scale: Float32Array, zeroPoint: Float64Array, inner } (see WeightSrc;
// src/engine/native.ts hands over a model file's weights this way). Points into the JS arrays,
// no copy: valid during construction only (the packing reads them before it returns).
WeightSrc read_weights(const PlanReader& r, const Napi::Object& o, const char* key, size_t expected) {
  const Napi::Value v = o.Get(key);
  const std::string name = std::string("'") + key + "'";
  if (v.IsTypedArray()) {
    if (v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      r.fail(name + " must be a Float32Array or an encoded tensor");
    Napi::Float32Array a = v.As<Napi::Float32Array>();
    if (a.ElementLength() != expected)
      r.fail(name + " has " + std::to_string(a.ElementLength()) + " floats, expected " +
             std::to_string(expected));
    return WeightSrc::floats(a.Data(), expected);
  }
  if (!v.IsObject()) r.fail(name + " must be a Float32Array or an encoded tensor");
  const Napi::Object e = v.As<Napi::Object>();
  const std::string type = r.string(e, "type");
  WeightSrc src;
  static const struct { const char* name; WeightType type; } kTypes[] = {
      {"f32", WeightType::F32}, {"f16", WeightType::F16}, {"u8", WeightType::U8},
      {"i8", WeightType::I8},   {"i16", WeightType::I16}, {"i32", WeightType::I32},
      {"i64", WeightType::I64}};
  bool known = false;
  for (const auto& t : kTypes) {
    if (type == t.name) {
      src.type = t.type;
      known = true;
    }
  }
  if (!known) r.fail(name + ": unknown encoding type '" + type + "'");
  const Napi::Value dataV = e.Get("data");
  if (!dataV.IsTypedArray() || dataV.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    r.fail(name + ".data must be a Uint8Array");
  Napi::Uint8Array data = dataV.As<Napi::Uint8Array>();
  const size_t size = weight_type_size(src.type);
  if (data.ElementLength() / size != expected || data.ElementLength() % size != 0)
    r.fail(name + " has " + std::to_string(data.ElementLength()) + " bytes of " + type +
           ", expected " + std::to_string(expected) + " values");
  src.data = data.Data();
  src.count = expected;
  if (src.type == WeightType::F32 || src.type == WeightType::F16) return src;
  const Napi::Value scaleV = e.Get("scale");
  const Napi::Value zeroV = e.Get("zeroPoint");
  if (!scaleV.IsTypedArray() || scaleV.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    r.fail(name + ".scale must be a Float32Array");
  if (!zeroV.IsTypedArray() || zeroV.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    r.fail(name + ".zeroPoint must be a Float64Array");
  Napi::Float32Array scale = scaleV.As<Napi::Float32Array>();
  Napi::Float64Array zero = zeroV.As<Napi::Float64Array>();
  src.channels = scale.ElementLength();
  if (src.channels == 0 || zero.ElementLength() != src.channels)
    r.fail(name + ": " + std::to_string(src.channels) + " scales and " +
           std::to_string(zero.ElementLength()) + " zero points");
  src.inner = r.uint(e, "inner", 1);
  if (expected % r.mul({src.channels, src.inner}) != 0)
    r.fail(name + ": " + std::to_string(src.channels) + " channels of " + std::to_string(src.inner) +
           " do not divide " + std::to_string(expected) + " values");
  src.scale = scale.Data();
  src.zero = zero.Data();
  for (size_t c = 0; c < src.channels; ++c) {
    if (!(std::isfinite(src.scale[c]) && src.scale[c] > 0.0f))
      r.fail(name + ": scale " + std::to_string(c) + " is not a positive number");
    if (!std::isfinite(src.zero[c])) r.fail(name + ": zero point " + std::to_string(c) + " is not finite");
  }
  return src;
}

void read_spatial(const PlanReader& r, const Napi::Object& o, StepDesc* s) {
  s->inH = r.uint(o, "inH", 1);
  s->inW = r.uint(o, "inW", 1);
  s->outH = r.uint(o, "outH", 1);
  s->outW = r.uint(o, "outW", 1);
  s->stride = r.uint(o, "stride", 1);
  s->padTop = r.uint(o, "padTop");
  s->padLeft = r.uint(o, "padLeft");
}

void check_pad(const PlanReader& r, const StepDesc& s, size_t k) {
  if (s.padTop >= k || s.padLeft >= k) r.fail("padTop/padLeft must be smaller than the kernel");
  if (s.stride > 64) r.fail("stride too large");
}

// One weight tensor to pack (with its bias) into a buffer already allocated. Units of work:
// GEMM panels, depthwise channel blocks, or the whole tensor (raw depthwise weights, kernel != 3).
struct PackJob {
  enum Kind : uint8_t { Gemm, Dw3x3, Raw };
  Kind kind = Raw;
  WeightSrc w, b;
  size_t n = 0, k = 0;  // gemm: n rows of k; dw3x3: n channels
  AlignedBuffer* out = nullptr;  // becomes a view of `floats` floats of the model's weight block
  size_t floats = 0;
  AlignedBuffer* outBias = nullptr;  // raw only: the bias, `biasFloats` floats
  size_t biasFloats = 0;
  float* dst = nullptr;
  float* dstBias = nullptr;
  size_t units = 0;
};

// Floats of the one block holding every packed weight buffer (each at AlignedBuffer's stride).
size_t weight_block_floats(const std::vector<PackJob>& jobs) {
  size_t total = 0;
  for (const PackJob& job : jobs) {
    total = checked_add(total, AlignedBuffer::stride_floats(job.floats));
    if (job.outBias != nullptr) total = checked_add(total, AlignedBuffer::stride_floats(job.biasFloats));
  }
  return total;
}

// Points every job's buffers into `block` (weight_block_floats(jobs) floats, zeroed).
void place_weights(std::vector<PackJob>& jobs, float* block) {
  for (PackJob& job : jobs) {
    job.out->view(block, job.floats);
    job.dst = block;
    block += AlignedBuffer::stride_floats(job.floats);
    if (job.outBias != nullptr) {
      job.outBias->view(block, job.biasFloats);
      job.dstBias = block;
      block += AlignedBuffer::stride_floats(job.biasFloats);
    }
  }
}

// Packs every job, decoding each weight straight from its source into its packed layout (one
// read of the source, one write of the packed floats). The units of all jobs form one range that
// the pool's threads share dynamically, so a thread that is late (another process on its core)
// costs only its current chunk.
void pack_weights(ThreadPool& pool, const std::vector<PackJob>& jobs, size_t nr, size_t cb,
                  float* tmp) {
  const size_t tmpFloats = pack_tmp_floats(nr);
  parallel_job_units(pool, jobs.size(), [&](size_t j) { return jobs[j].units; },
                     [&](size_t tid, size_t j, size_t u0, size_t u1) {
                       const PackJob& job = jobs[j];
                       switch (job.kind) {
                         case PackJob::Gemm:
                           pack_gemm_panels(job.w, job.b, job.n, job.k, nr, job.dst, u0, u1, tmp + tid * tmpFloats);
                           break;
                         case PackJob::Dw3x3:
                           pack_dw3x3_blocks(job.w, job.b, job.n, cb, job.dst, u0, u1);
                           break;
                         case PackJob::Raw:
                           decode_weights(job.w, 0, job.w.count, job.dst);
                           decode_weights(job.b, 0, job.b.count, job.dstBias);
                           break;
                       }
                     });
}

}  // namespace

Model::Model(Napi::Env env, const Napi::Object& plan, const Kernels* kernels, size_t threads)
    : kernels_(kernels) {
  PlanReader top(env, "plan");
  inputH_ = top.uint(plan, "inputH", 1);
  inputW_ = top.uint(plan, "inputW", 1);
  inputC_ = top.uint(plan, "inputC", 1);
  input_ = top.uint(plan, "input");
  output_ = top.uint(plan, "output");
  outputSize_ = top.uint(plan, "outputSize", 1);
  const size_t arenaSize = top.uint(plan, "arenaSize", 1);
  if (arenaSize > kMaxActivationBytes / sizeof(float))
    top.fail("arenaSize " + std::to_string(arenaSize) + " floats (" +
             mib(arenaSize * sizeof(float)) + ") exceeds the " + mib(kMaxActivationBytes) +
             " limit on activation memory (arena + scratch)");
  check_range(top, input_, top.mul({inputH_, inputW_, inputC_}), arenaSize, "input", "arenaSize");
  check_range(top, output_, outputSize_, arenaSize, "output", "arenaSize");

  const Napi::Value stepsV = plan.Get("steps");
  if (!stepsV.IsArray()) top.fail("'steps' must be an array");
  const Napi::Array steps = stepsV.As<Napi::Array>();
  const uint32_t n = steps.Length();
  if (n == 0) top.fail("'steps' is empty");
  steps_.resize(n);
  stepOutputSizes_.resize(n);

  const size_t nr = kernels->gemm_nr, cb = kernels->dw_cb;
  size_t maxScratch = 0, maxZero = 0, maxShared = 0;
  // Packed weights so far, checked against kMaxWeightBytes before each packing allocates.
  size_t weightFloats = 0;
  auto addWeights = [&](const PlanReader& rr, size_t floats) {
    weightFloats = checked_add(weightFloats, floats);
    if (weightFloats > kMaxWeightBytes / sizeof(float))
      rr.fail("the packed weights need more than the " + mib(kMaxWeightBytes) +
              " limit on weights");
  };
  // What to pack, collected while reading the plan; then one block is allocated for all packed
  // weights and they are packed into it on the model's threads (see pack_weights).
  std::vector<PackJob> jobs;
  jobs.reserve(3 * size_t(n));
  auto gemm = [&](const PlanReader& rr, const WeightSrc& w, const WeightSrc& b, size_t rows,
                  size_t k, AlignedBuffer* out) {
    const size_t floats = packed_gemm_floats(rows, k, nr);
    addWeights(rr, floats);
    PackJob job;
    job.kind = PackJob::Gemm;
    job.w = w;
    job.b = b;
    job.n = rows;
    job.k = k;
    job.out = out;
    job.floats = floats;
    job.units = rows / nr + (rows % nr != 0);
    jobs.push_back(job);
  };
  auto dw3x3 = [&](const PlanReader& rr, const WeightSrc& w, const WeightSrc& b, size_t channels,
                   AlignedBuffer* out) {
    const size_t floats = packed_dw3x3_floats(channels, cb);
    addWeights(rr, floats);
    PackJob job;
    job.kind = PackJob::Dw3x3;
    job.w = w;
    job.b = b;
    job.n = channels;
    job.out = out;
    job.floats = floats;
    job.units = channels / cb + (channels % cb != 0);
    jobs.push_back(job);
  };
  for (uint32_t i = 0; i < n; ++i) {
    const Napi::Value sv = steps.Get(i);
    PlanReader r0(env, "step " + std::to_string(i));
    if (!sv.IsObject()) r0.fail("not an object");
    const Napi::Object o = sv.As<Napi::Object>();
    const Napi::Value opV = o.Get("op");
    const std::string op = opV.IsString() ? opV.As<Napi::String>().Utf8Value() : std::string();
    PlanReader r(env, "step " + std::to_string(i) + " (" + (op.empty() ? "?" : op) + ")");
    StepDesc& s = steps_[i];
    try {
      s.act0 = s.act1 = s.act2 = act_from_code(0);
      s.input = r.uint(o, "input");
      s.output = r.uint(o, "output");
      size_t inSize = 0, outSize = 0;

      if (op == "conv2d") {
        s.op = OpType::Conv2d;
        read_spatial(r, o, &s);
        s.kernel = r.uint(o, "kernel", 1);
        check_pad(r, s, s.kernel);
        s.inC = r.uint(o, "inC", 1);
        s.outC = r.uint(o, "outC", 1);
        s.act0 = act_from_code(read_act(r, o));
        const size_t K = r.mul({s.kernel, s.kernel, s.inC});
        const WeightSrc w = read_weights(r, o, "weights", r.mul({s.outC, K}));
        const WeightSrc b = read_weights(r, o, "bias", s.outC);
        gemm(r, w, b, s.outC, K, &s.w0);
        plan_conv2d(&s);
        inSize = r.mul({s.inH, s.inW, s.inC});
        outSize = r.mul({s.outH, s.outW, s.outC});
      } else if (op == "depthwise") {
        s.op = OpType::Depthwise;
        read_spatial(r, o, &s);
        s.kernel = r.uint(o, "kernel", 1);
        check_pad(r, s, s.kernel);
        s.inC = s.outC = r.uint(o, "channels", 1);
        s.act0 = act_from_code(read_act(r, o));
        const WeightSrc w = read_weights(r, o, "weights", r.mul({s.kernel, s.kernel, s.inC}));
        const WeightSrc b = read_weights(r, o, "bias", s.inC);
        if (s.kernel == 3) {
          dw3x3(r, w, b, s.inC, &s.w0);
        } else {
          addWeights(r, checked_add(checked_mul({s.kernel, s.kernel, s.inC}), s.inC));
          PackJob job;
          job.kind = PackJob::Raw;
          job.w = w;
          job.b = b;
          job.out = &s.w0;
          job.floats = w.count;
          job.outBias = &s.bias;
          job.biasFloats = b.count;
          job.units = 1;
          jobs.push_back(job);
        }
        inSize = r.mul({s.inH, s.inW, s.inC});
        outSize = r.mul({s.outH, s.outW, s.inC});
      } else if (op == "pointwise") {
        s.op = OpType::Pointwise;
        s.inH = s.outH = r.uint(o, "h", 1);
        s.inW = s.outW = r.uint(o, "w", 1);
        s.inC = r.uint(o, "inC", 1);
        s.outC = r.uint(o, "outC", 1);
        s.act0 = act_from_code(read_act(r, o));
        const WeightSrc w = read_weights(r, o, "weights", r.mul({s.outC, s.inC}));
        const WeightSrc b = read_weights(r, o, "bias", s.outC);
        gemm(r, w, b, s.outC, s.inC, &s.w0);
        inSize = r.mul({s.inH, s.inW, s.inC});
        outSize = r.mul({s.inH, s.inW, s.outC});
      } else if (op == "bottleneck") {
        s.op = OpType::Bottleneck;
        read_spatial(r, o, &s);
        s.kernel = 3;
        check_pad(r, s, 3);
        s.inC = r.uint(o, "inC", 1);
        s.expandC = r.uint(o, "expandC", 1);
        s.outC = r.uint(o, "outC", 1);
        s.residual = o.Get("residual").ToBoolean().Value();
        const Napi::Value ev = o.Get("expand");
        s.hasExpand = !(ev.IsNull() || ev.IsUndefined());
        if (s.hasExpand) {
          if (!ev.IsObject()) r.fail("'expand' must be an object or null");
          const Napi::Object e = ev.As<Napi::Object>();
          PlanReader re(env, "step " + std::to_string(i) + " (bottleneck expand)");
          s.act0 = act_from_code(read_act(re, e));
          const WeightSrc w = read_weights(re, e, "weights", re.mul({s.expandC, s.inC}));
          const WeightSrc b = read_weights(re, e, "bias", s.expandC);
          gemm(re, w, b, s.expandC, s.inC, &s.w0);
        } else if (s.expandC != s.inC) {
          r.fail("expand is null but expandC != inC");
        }
        {
          PlanReader rd(env, "step " + std::to_string(i) + " (bottleneck depthwise)");
          const Napi::Object d = r.object(o, "depthwise");
          s.act1 = act_from_code(read_act(rd, d));
          const WeightSrc w = read_weights(rd, d, "weights", rd.mul({9, s.expandC}));
          const WeightSrc b = read_weights(rd, d, "bias", s.expandC);
          dw3x3(rd, w, b, s.expandC, &s.w1);
        }
        {
          PlanReader rp(env, "step " + std::to_string(i) + " (bottleneck project)");
          const Napi::Object p = r.object(o, "project");
          s.act2 = act_from_code(read_act(rp, p));
          const WeightSrc w = read_weights(rp, p, "weights", rp.mul({s.outC, s.expandC}));
          const WeightSrc b = read_weights(rp, p, "bias", s.outC);
          gemm(rp, w, b, s.outC, s.expandC, &s.w2);
        }
        if (s.residual &&
            (s.stride != 1 || s.inC != s.outC || s.inH != s.outH || s.inW != s.outW))
          r.fail("residual needs stride 1 and identical input/output shapes");
        inSize = r.mul({s.inH, s.inW, s.inC});
        outSize = r.mul({s.outH, s.outW, s.outC});
        r.mul({s.inW, s.expandC, s.outH, 3});  // bounds the band buffers
        plan_bottleneck(&s, threads == 0 ? 1 : threads);
      } else if (op == "avgpool") {
        s.op = OpType::AvgPool;
        s.inH = r.uint(o, "h", 1);
        s.inW = r.uint(o, "w", 1);
        s.inC = s.outC = r.uint(o, "channels", 1);
        inSize = r.mul({s.inH, s.inW, s.inC});
        outSize = s.inC;
      } else if (op == "fc") {
        s.op = OpType::Fc;
        s.inC = r.uint(o, "inC", 1);
        s.outC = r.uint(o, "outC", 1);
        const WeightSrc w = read_weights(r, o, "weights", r.mul({s.outC, s.inC}));
        const WeightSrc b = read_weights(r, o, "bias", s.outC);
        gemm(r, w, b, s.outC, s.inC, &s.w0);
        inSize = s.inC;
        outSize = s.outC;
      } else if (op == "softmax") {
        s.op = OpType::Softmax;
        s.inC = s.outC = r.uint(o, "n", 1);
        inSize = outSize = s.inC;
      } else {
        r.fail("unknown op");
      }
      check_range(r, s.input, inSize, arenaSize, "input", "arenaSize");
      check_range(r, s.output, outSize, arenaSize, "output", "arenaSize");
      stepOutputSizes_[i] = outSize;
      if (s.input < s.output + outSize && s.output < s.input + inSize)
        r.fail("output overlaps input");
      const size_t sf = scratch_floats(s), zf = zero_floats(s), hf = shared_floats(s);
      maxShared = hf > maxShared ? hf : maxShared;
      maxScratch = sf > maxScratch ? sf : maxScratch;
      maxZero = zf > maxZero ? zf : maxZero;
    } catch (const SizeOverflow&) {
      r.fail("sizes overflow (shapes too large)");
    } catch (const std::bad_alloc&) {
      out_of_memory(env, "the weights of step " + std::to_string(i),
                    weightFloats * sizeof(float));
    }
  }

  if (output_ != steps_.back().output || outputSize_ != stepOutputSizes_.back())
    top.fail("output/outputSize must be the last step's output tensor");

  size_t blockFloats0 = 0;
  try {
    blockFloats0 = weight_block_floats(jobs);
  } catch (const SizeOverflow&) {
    top.fail("the packed weights need more than the " + mib(kMaxWeightBytes) + " limit on weights");
  }
  try {
    weights_.reset_huge(blockFloats0);
  } catch (const std::bad_alloc&) {
    out_of_memory(env, "the packed weights", blockFloats0 * sizeof(float));
  }
  place_weights(jobs, weights_.data());

  if (threads == 0) threads = 1;
  // One block: each thread's scratch at a 64-byte aligned stride, and the shared buffer of wide
  // steps over the same floats (a step uses one or the other, and steps run one at a time).
  size_t stride = 0, blockFloats = 0, zeroFloats = 0;
  try {
    stride = checked_add(maxScratch, 15) / 16 * 16;
    blockFloats = std::max(checked_mul(threads, stride), maxShared);
    zeroFloats = maxZero == 0 ? 1 : maxZero;
    const size_t total = checked_add(checked_add(arenaSize, blockFloats), zeroFloats);
    if (total > kMaxActivationBytes / sizeof(float)) throw SizeOverflow();
  } catch (const SizeOverflow&) {
    top.fail("activation memory (arena " + mib(arenaSize * sizeof(float)) + " + scratch " +
             (blockFloats != 0 ? mib(blockFloats * sizeof(float)) : std::string("?")) + " for " +
             std::to_string(threads) + " thread(s) + zero row) exceeds the " +
             mib(kMaxActivationBytes) + " limit on activation memory");
  }
  try {
    arena_.reset(arenaSize);
  } catch (const std::bad_alloc&) {
    out_of_memory(env, "the activation arena", arenaSize * sizeof(float));
  }
  try {
    zero_.reset(zeroFloats);
    if (blockFloats > 0) scratch_.reset(blockFloats);
    scratchPtrs_.resize(threads);
  } catch (const std::bad_alloc&) {
    out_of_memory(env, "the kernel scratch", (blockFloats + zeroFloats) * sizeof(float));
  }
  for (size_t t = 0; t < threads; ++t) scratchPtrs_[t] = maxScratch > 0 ? scratch_.data() + t * stride : nullptr;
  scratchBytes_ = blockFloats * sizeof(float);
  try {
    pool_.reset(new ThreadPool(threads));
  } catch (const std::bad_alloc&) {
    out_of_memory(env, "the thread pool", threads * sizeof(std::thread));
  } catch (const std::system_error& e) {
    throw Napi::Error::New(env, "mobilenet native: cannot start " + std::to_string(threads - 1) +
                                    " worker thread(s): " + e.what());
  }
  std::vector<float> packTmp;
  try {
    packTmp.resize(checked_mul(pool_->size(), pack_tmp_floats(nr)));
  } catch (const std::bad_alloc&) {
    out_of_memory(env, "the weight packing buffers", pool_->size() * pack_tmp_floats(nr) * sizeof(float));
  }
  pack_weights(*pool_, jobs, nr, cb, packTmp.data());
}

void Model::run(const void* input, void* output, double* stepMillis, size_t steps) {
  if (steps == 0 || steps > steps_.size()) throw std::invalid_argument("step count out of range");
  // Workers stay hot (spin, never park) between the steps of this inference and go back to
  // their idle policy after it (thread_pool.h); parked ones are woken now, while the input is copied.
  const ThreadPool::Run hot(*pool_);
  float* arena = arena_.data();
  std::memcpy(arena + input_, input, inputBytes());
  const ExecContext ctx{kernels_, pool_.get(), scratchPtrs_.data(), zero_.data(), scratch_.data()};
  for (size_t i = 0; i < steps; ++i) {
    const StepDesc& s = steps_[i];
    const auto start = std::chrono::steady_clock::now();
    switch (s.op) {
      case OpType::Conv2d:
        run_conv2d(ctx, s, arena);
        break;
      case OpType::Depthwise:
        run_depthwise(ctx, s, arena);
        break;
      case OpType::Pointwise:
        run_pointwise(ctx, s, arena);
        break;
      case OpType::Bottleneck:
        run_bottleneck(ctx, s, arena);
        break;
      case OpType::AvgPool:
        run_avgpool(ctx, s, arena);
        break;
      case OpType::Fc:
        run_fc(ctx, s, arena);
        break;
      case OpType::Softmax:
        run_softmax(ctx, s, arena);
        break;
    }
    if (stepMillis != nullptr) {
      const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
      stepMillis[i] = took.count();
    }
  }
  std::memcpy(output, arena + steps_[steps - 1].output, stepOutputBytes(steps - 1));
}

}  // namespace mn
