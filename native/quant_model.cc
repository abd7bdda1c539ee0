// QPlan parsing + validation, int8 weight packing and the executor. Generic code (no ISA flags).
#include "quant_model.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <string>
#include <system_error>

#include "ops/qs8/requant.h"
#include "plan_reader.h"

namespace mn {
namespace {

const int64_t kInt32Max = 2147483647;

// TFLite's per-channel multiplier and shift of an output stage.
void read_fixed_point(const PlanReader& rs, const Napi::Object& stage, size_t channels, QConvSrc* src);

// The output stage of a conv-like op: plan.ts OutputStage { multiplier, shift, zeroPoint, actMin,
// actMax } for `channels` channels; in the 'xnnpack' scheme (fp32) its float32 `scale` instead of
// multiplier and shift (XNNPACK's range: [2^-32, 256)).
QOut read_output_stage(const PlanReader& r, const Napi::Object& o, size_t channels, bool fp32, QConvSrc* src) {
  const Napi::Object stage = r.object(o, "requant");
  PlanReader rs(r.env(), r.where() + " requant");
  if (fp32) {
    src->scale = rs.float32_array(stage, "scale", channels, 0x1p-32f, 256.0f);
  } else {
    read_fixed_point(rs, stage, channels, src);
  }
  const int32_t zero = (int32_t)rs.integer(stage, "zeroPoint", -128, 127);
  const int32_t lo = (int32_t)rs.integer(stage, "actMin", -128, 127);
  const int32_t hi = (int32_t)rs.integer(stage, "actMax", -128, 127);
  if (lo > hi) rs.fail("actMin > actMax");
  return QOut{zero, lo - zero, hi - zero};
}

void read_fixed_point(const PlanReader& rs, const Napi::Object& stage, size_t channels, QConvSrc* src) {
  src->multiplier = rs.int32_array(stage, "multiplier", channels);
  src->shift = rs.int32_array(stage, "shift", channels);
  for (size_t c = 0; c < channels; ++c) {
    if (src->multiplier[c] < 0)
      rs.fail("multiplier " + std::to_string(c) + " is " + std::to_string(src->multiplier[c]) +
              " (must be in [0, 2^31))");
    if (src->shift[c] < -31 || src->shift[c] > 31)
      rs.fail("shift " + std::to_string(c) + " is " + std::to_string(src->shift[c]) +
              " (must be in [-31, 31])");
  }
}

// The model file's bytes of a weight or bias tensor, { type, data: Uint8Array } (plan.ts
// QEncodedTensor): `count` values of `type` (one of the two `types` allowed). Returns the bytes
// and whether the type is the first one.
const uint8_t* read_encoded(const PlanReader& r, const Napi::Value& v, const char* key, size_t count,
                            size_t size, const char* first, const char* second, bool* isFirst) {
  const std::string name = std::string("'") + key + "'";
  const Napi::Object e = v.As<Napi::Object>();
  const std::string type = r.string(e, "type");
  *isFirst = type == first;
  if (!*isFirst && type != (second ? second : first))
    r.fail(name + ": encoding type '" + type + "' is not " + first + (second ? std::string(" or ") + second : ""));
  const Napi::Value dataV = e.Get("data");
  if (!dataV.IsTypedArray() || dataV.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    r.fail(name + ".data must be a Uint8Array");
  Napi::Uint8Array data = dataV.As<Napi::Uint8Array>();
  if (data.ElementLength() != checked_mul(count, size))
    r.fail(name + " has " + std::to_string(data.ElementLength()) + " bytes of " + type + ", expected " +
           std::to_string(count) + " values");
  return data.Data();
}

// QWeights.weights: an Int8Array in the storage domain, or a file's u8 / i8 bytes.
void read_qweights(const PlanReader& r, const Napi::Object& o, size_t count, QConvSrc* src) {
  const Napi::Value v = o.Get("weights");
  if (v.IsTypedArray() || !v.IsObject()) {
    src->weights = reinterpret_cast<const uint8_t*>(r.int8_array(o, "weights", count));
    return;
  }
  bool u8 = false;
  src->weights = read_encoded(r, v, "weights", count, 1, "u8", "i8", &u8);
  src->weightXor = u8 ? 0x80 : 0;
}

// QWeights.bias: an Int32Array, or a file's little-endian i32 bytes.
void read_qbias(const PlanReader& r, const Napi::Object& o, size_t count, QConvSrc* src) {
  const Napi::Value v = o.Get("bias");
  if (v.IsTypedArray() || !v.IsObject()) {
    src->bias = r.int32_array(o, "bias", count);
    return;
  }
  bool i32 = false;
  src->biasLE = read_encoded(r, v, "bias", count, 4, "i32", nullptr, &i32);
}

// plan.ts / ops.ts QWeights + inputZeroPoint + requant of a conv-like op with n outputs of k inputs.
QConvSrc read_conv(const PlanReader& r, const Napi::Object& o, size_t n, size_t k, bool fp32, QOut* out) {
  QConvSrc src;
  src.n = n;
  src.k = k;
  read_qweights(r, o, r.mul({n, k}), &src);
  read_qbias(r, o, n, &src);
  src.weightZero = (int32_t)r.integer(o, "weightZeroPoint", -128, 127);
  src.inputZero = (int32_t)r.integer(o, "inputZeroPoint", -128, 127);
  *out = read_output_stage(r, o, n, fp32, &src);
  return src;
}

void read_spatial(const PlanReader& r, const Napi::Object& o, size_t kernel, QStepDesc* s) {
  s->inH = r.uint(o, "inH", 1);
  s->inW = r.uint(o, "inW", 1);
  s->outH = r.uint(o, "outH", 1);
  s->outW = r.uint(o, "outW", 1);
  s->stride = r.uint(o, "stride", 1);
  s->padTop = r.uint(o, "padTop");
  s->padLeft = r.uint(o, "padLeft");
  if (s->padTop >= kernel || s->padLeft >= kernel) r.fail("padTop/padLeft must be smaller than the kernel");
  if (s->stride > 64) r.fail("stride too large");
}

QRequant read_requant(const PlanReader& r, const Napi::Object& o, const char* mult, const char* shift) {
  return make_requant((int32_t)r.integer(o, mult, 0, kInt32Max), (int)r.integer(o, shift, -31, 31));
}

// The activation bounds and zero point of an ADD as a QOut.
QOut read_add_out(const PlanReader& r, const Napi::Object& o, const char* zeroKey) {
  const int32_t zero = (int32_t)r.integer(o, zeroKey, -128, 127);
  const int32_t lo = (int32_t)r.integer(o, "actMin", -128, 127);
  const int32_t hi = (int32_t)r.integer(o, "actMax", -128, 127);
  if (lo > hi) r.fail("actMin > actMax");
  return QOut{zero, lo - zero, hi - zero};
}

// xnnpack.ts XnnAddParams (the 'xnnpack' scheme's residual ADD). The bounds keep the kernels'
// int32 sum bias + a * mult_a + b * mult_b below 2^30 + 2^29 in magnitude (XNNPACK's multipliers
// have at most 21 bits).
QAddXnnParams read_add_xnn(const PlanReader& r, const Napi::Object& o) {
  if (r.string(o, "scheme") != "xnnpack") r.fail("'scheme' must be 'xnnpack' in a plan of rounding 'xnnpack'");
  QAddXnnParams p;
  p.mult_a = (int32_t)r.integer(o, "aMultiplier", 0, int64_t(1) << 21);
  p.mult_b = (int32_t)r.integer(o, "bMultiplier", 0, int64_t(1) << 21);
  p.bias = (int32_t)r.integer(o, "bias", -(int64_t(1) << 30), int64_t(1) << 30);
  p.shift = (int32_t)r.integer(o, "shift", 1, 31);
  p.out = read_add_out(r, o, "outputZeroPoint");
  return p;
}

// plan.ts AddParams (the residual ADD of a bottleneck).
QAddParams read_add(const PlanReader& r, const Napi::Object& o) {
  QAddParams p;
  p.shift_in = (int32_t)r.integer(o, "leftShift", 0, 31);
  p.offset1 = (int32_t)r.integer(o, "input1Offset", -255, 255);
  p.offset2 = (int32_t)r.integer(o, "input2Offset", -255, 255);
  p.in1 = read_requant(r, o, "input1Multiplier", "input1Shift");
  p.in2 = read_requant(r, o, "input2Multiplier", "input2Shift");
  p.sum = read_requant(r, o, "outputMultiplier", "outputShift");
  p.out = read_add_out(r, o, "outputOffset");
  return p;
}

// plan.ts MeanParams of a MEAN over `pixels` values per channel.
void read_mean(const PlanReader& rm, const Napi::Object& pm, size_t pixels, QStepDesc* s) {
  const int64_t multiplier = rm.integer(pm, "multiplier", 0, kInt32Max);
  const int64_t shift = rm.integer(pm, "shift", -31, 31);
  s->meanInZero = (int32_t)rm.integer(pm, "inputZeroPoint", -128, 127);
  const int32_t zero = (int32_t)rm.integer(pm, "outputZeroPoint", -128, 127);
  // reduce.h QuantizedMeanOrSum folds 1/n into the multiplier at run time.
  int64_t k = 0;
  while ((size_t(2) << k) <= pixels) ++k;  // floor(log2 n)
  k = std::min<int64_t>(std::min<int64_t>(k, 32), 31 + shift);
  s->meanMult = (int32_t)((multiplier << k) / (int64_t)pixels);
  s->meanShift = (int32_t)(shift - k);
  s->out = QOut{zero, -128 - zero, 127 - zero};
}

// xnnpack.ts XnnMeanParams (the 'xnnpack' scheme's MEAN).
void read_mean_xnn(const PlanReader& rm, const Napi::Object& pm, QStepDesc* s) {
  if (rm.string(pm, "scheme") != "xnnpack") rm.fail("'scheme' must be 'xnnpack' in a plan of rounding 'xnnpack'");
  s->meanFp32 = true;
  s->meanScale = rm.float32(pm, "scale", 0x1p-40, 0x1p40);
  s->meanZero = rm.float32(pm, "zeroPoint", -0x1p40, 0x1p40);
  const int64_t offset = rm.integer(pm, "offset", 0, 128);
  if (offset != 0 && offset != 128) rm.fail("'offset' must be 0 or 128");
  s->meanOffset = (int32_t)offset;
}

// One part of the packed block: a GEMM's panels, a depthwise's blocks or raw weights. Packed on
// the model's threads once the block is allocated; units are panels / blocks.
struct PackJob {
  enum Kind : uint8_t { Gemm, Dw, DwRaw };
  Kind kind = Gemm;
  QConvSrc src;
  size_t sets = 1;  // Dw: weight sets (qdw_sets)
  size_t bytes = 0, units = 1;
  const uint8_t** target = nullptr;  // the step's pointer to this part
  uint8_t* at = nullptr;
};

void pack(ThreadPool& pool, const QKernels& kt, std::vector<PackJob>& jobs) {
  parallel_job_units(pool, jobs.size(), [&](size_t j) { return jobs[j].units; },
                     [&](size_t, size_t j, size_t u0, size_t u1) {
                       const PackJob& job = jobs[j];
                       switch (job.kind) {
                         case PackJob::Gemm:
                           qpack_gemm_panels(kt, job.src, job.at, u0, u1);
                           break;
                         case PackJob::Dw:
                           qpack_dw_blocks(kt, job.src, job.sets, job.at, u0, u1);
                           break;
                         case PackJob::DwRaw:
                           qpack_dw_raw(job.src, job.at);
                           break;
                       }
                     });
}

}  // namespace

QuantModel::QuantModel(Napi::Env env, const Napi::Object& plan, const QKernels* kernels, size_t threads)
    : kernels_(kernels) {
  const QKernels& kt = *kernels;
  PlanReader top(env, "plan");
  if (top.string(plan, "dtype") != "int8") top.fail("'dtype' must be 'int8'");
  inputH_ = top.uint(plan, "inputH", 1);
  inputW_ = top.uint(plan, "inputW", 1);
  inputC_ = top.uint(plan, "inputC", 1);
  input_ = top.uint(plan, "input");
  output_ = top.uint(plan, "output");
  outputSize_ = top.uint(plan, "outputSize", 1);
  arenaBytes_ = top.uint(plan, "arenaBytes", 1);
  // The requantization scheme picks the kernels of every conv-like step and ADD, here, once.
  const std::string rounding = top.string(plan, "rounding");
  if (rounding != "tflite" && rounding != "xnnpack") top.fail("'rounding' must be 'tflite' or 'xnnpack'");
  const bool fp32 = rounding == "xnnpack";
  if (arenaBytes_ > kMaxActivationBytes)
    top.fail("arenaBytes " + std::to_string(arenaBytes_) + " (" + mib(arenaBytes_) + ") exceeds the " +
             mib(kMaxActivationBytes) + " limit on activation memory (arena + scratch)");
  check_range(top, input_, top.mul({inputH_, inputW_, inputC_}), arenaBytes_, "input", "arenaBytes");
  check_range(top, output_, outputSize_, arenaBytes_, "output", "arenaBytes");

  const Napi::Value stepsV = plan.Get("steps");
  if (!stepsV.IsArray()) top.fail("'steps' must be an array");
  const Napi::Array steps = stepsV.As<Napi::Array>();
  const uint32_t n = steps.Length();
  if (n == 0) top.fail("'steps' is empty");
  steps_.resize(n);
  stepOutputBytes_.resize(n);
  if (threads == 0) threads = 1;

  std::vector<PackJob> jobs;
  jobs.reserve(4 * size_t(n));
  size_t packedBytes = 0, maxScratch = 0;
  // Adds a part of `bytes` bytes (checked against the weight limit) and returns it.
  auto addJob = [&](const PlanReader& rr, PackJob::Kind kind, size_t bytes, size_t units,
                    const uint8_t** target) -> PackJob& {
    packedBytes = checked_add(packedBytes, round64(bytes));
    if (packedBytes > kMaxWeightBytes)
      rr.fail("the packed weights need more than the " + mib(kMaxWeightBytes) + " limit on weights");
    PackJob job;
    job.kind = kind;
    job.bytes = bytes;
    job.units = units;
    job.target = target;
    jobs.push_back(job);
    return jobs.back();
  };
  auto gemm = [&](const PlanReader& rr, const QConvSrc& src, const QOut& out, QGemmPart* part) {
    part->fn = fp32 ? kt.gemm_fp32 : kt.gemm;
    part->n = src.n;
    part->k = src.k;
    part->wStride = qgemm_panel_bytes(kt, src.k);
    part->rowcorr = qgemm_needs_rowcorr(kt, src.weightZero);
    part->rowcorrMult = qgemm_rowcorr_mult(kt, src.weightZero);
    part->out = out;
    addJob(rr, PackJob::Gemm, qgemm_packed_bytes(kt, src.n, src.k), qgemm_panels(kt, src.n), &part->w).src = src;
  };
  auto dw = [&](const PlanReader& rr, const QConvSrc& src, const QOut& out, size_t kernel, QDwPart* part) {
    part->fn = fp32 ? kt.dw3x3_fp32 : kt.dw3x3;
    part->fp32 = fp32;
    part->pad = (int8_t)src.inputZero;
    part->out = out;
    if (kernel == 3) {
      const size_t sets = qdw_sets(kt, src);
      part->wStride = qdw_block_bytes(kt, sets);
      PackJob& job = addJob(rr, PackJob::Dw, checked_mul(qdw_blocks(kt, src.n), part->wStride), qdw_blocks(kt, src.n), &part->w);
      job.src = src;
      job.sets = sets;
    } else {
      addJob(rr, PackJob::DwRaw, qdw_raw_bytes(kernel, src.n), 1, &part->w).src = src;
    }
  };

  for (uint32_t i = 0; i < n; ++i) {
    const Napi::Value sv = steps.Get(i);
    const std::string at = "step " + std::to_string(i);
    PlanReader r0(env, at);
    if (!sv.IsObject()) r0.fail("not an object");
    const Napi::Object o = sv.As<Napi::Object>();
    const std::string op = r0.string(o, "op");
    PlanReader r(env, at + " (" + (op.empty() ? "?" : op) + ")");
    QStepDesc& s = steps_[i];
    try {
      s.input = r.uint(o, "input");
      s.output = r.uint(o, "output");
      size_t inSize = 0, outSize = 0;
      QOut out;
      if (op == "conv2d") {
        s.op = QOpType::Conv2d;
        s.kernel = r.uint(o, "kernel", 1);
        read_spatial(r, o, s.kernel, &s);
        s.inC = r.uint(o, "inC", 1);
        s.outC = r.uint(o, "outC", 1);
        const QConvSrc src = read_conv(r, o, s.outC, r.mul({s.kernel, s.kernel, s.inC}), fp32, &out);
        s.pad = (int8_t)src.inputZero;
        gemm(r, src, out, &s.gemm0);
        inSize = r.mul({s.inH, s.inW, s.inC});
        outSize = r.mul({s.outH, s.outW, s.outC});
      } else if (op == "depthwise") {
        s.op = QOpType::Depthwise;
        s.kernel = r.uint(o, "kernel", 1);
        read_spatial(r, o, s.kernel, &s);
        s.inC = s.expandC = s.outC = r.uint(o, "channels", 1);
        const QConvSrc src = read_conv(r, o, s.inC, r.mul({s.kernel, s.kernel}), fp32, &out);
        dw(r, src, out, s.kernel, &s.dw);
        inSize = r.mul({s.inH, s.inW, s.inC});
        outSize = r.mul({s.outH, s.outW, s.inC});
        if (s.kernel == 3) qplan_bottleneck(kt, &s);
      } else if (op == "pointwise") {
        s.op = QOpType::Pointwise;
        s.inH = s.outH = r.uint(o, "h", 1);
        s.inW = s.outW = r.uint(o, "w", 1);
        s.inC = r.uint(o, "inC", 1);
        s.outC = r.uint(o, "outC", 1);
        gemm(r, read_conv(r, o, s.outC, s.inC, fp32, &out), out, &s.gemm0);
        inSize = r.mul({s.inH, s.inW, s.inC});
        outSize = r.mul({s.inH, s.inW, s.outC});
      } else if (op == "fc") {
        s.op = QOpType::Fc;
        s.inC = r.uint(o, "inC", 1);
        s.outC = r.uint(o, "outC", 1);
        gemm(r, read_conv(r, o, s.outC, s.inC, fp32, &out), out, &s.gemm0);
        inSize = s.inC;
        outSize = s.outC;
      } else if (op == "bottleneck") {
        s.op = QOpType::Bottleneck;
        s.hasProject = true;
        PlanReader rd(env, at + " (bottleneck depthwise)");
        const Napi::Object d = r.object(o, "depthwise");
        s.kernel = rd.uint(d, "kernel", 1);
        if (s.kernel != 3) rd.fail("'kernel' must be 3 in a bottleneck");
        read_spatial(rd, d, 3, &s);
        s.expandC = rd.uint(d, "channels", 1);
        PlanReader re(env, at + " (bottleneck expand)");
        const Napi::Object e = r.optional_object(o, "expand", &s.hasExpand);
        if (s.hasExpand) {
          s.inC = re.uint(e, "inC", 1);
          if (re.uint(e, "h", 1) != s.inH || re.uint(e, "w", 1) != s.inW)
            re.fail("h x w must be the depthwise's inH x inW");
          if (re.uint(e, "outC", 1) != s.expandC) re.fail("outC must be the depthwise's channels");
          gemm(re, read_conv(re, e, s.expandC, s.inC, fp32, &out), out, &s.gemm0);
        } else {
          s.inC = s.expandC;
        }
        dw(rd, read_conv(rd, d, s.expandC, 9, fp32, &out), out, 3, &s.dw);
        PlanReader rp(env, at + " (bottleneck project)");
        const Napi::Object p = r.object(o, "project");
        if (rp.uint(p, "h", 1) != s.outH || rp.uint(p, "w", 1) != s.outW)
          rp.fail("h x w must be the depthwise's outH x outW");
        if (rp.uint(p, "inC", 1) != s.expandC) rp.fail("inC must be the depthwise's channels");
        s.outC = rp.uint(p, "outC", 1);
        gemm(rp, read_conv(rp, p, s.outC, s.expandC, fp32, &out), out, &s.gemm1);
        PlanReader ra(env, at + " (bottleneck residual)");
        const Napi::Object add = r.optional_object(o, "residual", &s.residual);
        if (s.residual) {
          if (s.stride != 1 || s.inC != s.outC || s.inH != s.outH || s.inW != s.outW)
            ra.fail("a residual needs stride 1 and identical input and output shapes");
          if (fp32) {
            s.add.xnnFn = kt.add_xnn;
            s.add.xnn = read_add_xnn(ra, add);
          } else {
            s.add.fn = kt.add;
            s.add.params = read_add(ra, add);
          }
        }
        inSize = r.mul({s.inH, s.inW, s.inC});
        outSize = r.mul({s.outH, s.outW, s.outC});
        r.mul({s.inW, s.expandC, s.outH, 3});  // bounds the band buffers
        qplan_bottleneck(kt, &s);
      } else if (op == "avgpool" || op == "mean") {
        s.inH = r.uint(o, "h", 1);
        s.inW = r.uint(o, "w", 1);
        s.inC = s.outC = r.uint(o, "channels", 1);
        const size_t pixels = r.mul({s.inH, s.inW});
        if (pixels > (size_t(1) << 23)) r.fail("more than 2^23 pixels to pool");
        if (op == "avgpool") {
          s.op = QOpType::AvgPool;
          const std::string type = r.string(o, "type");
          if (type != "uint8" && type != "int8") r.fail("'type' must be 'uint8' or 'int8'");
          s.avgUint8 = type == "uint8";
          const int32_t lo = (int32_t)r.integer(o, "actMin", -128, 127);
          const int32_t hi = (int32_t)r.integer(o, "actMax", -128, 127);
          if (lo > hi) r.fail("actMin > actMax");
          s.out = QOut{0, lo, hi};
        } else {
          s.op = QOpType::Mean;
          PlanReader rm(env, at + " (mean params)");
          const Napi::Object pm = r.object(o, "params");
          if (fp32)
            read_mean_xnn(rm, pm, &s);
          else
            read_mean(rm, pm, pixels, &s);
        }
        inSize = r.mul({s.inH, s.inW, s.inC});
        outSize = s.inC;
      } else if (op == "softmax") {
        s.op = QOpType::Softmax;
        s.inC = s.outC = r.uint(o, "n", 1);
        PlanReader rs(env, at + " (softmax params)");
        const Napi::Object ps = r.object(o, "params");
        s.softmaxMult = (int32_t)rs.integer(ps, "inputMultiplier", -kInt32Max - 1, kInt32Max);
        s.softmaxLeftShift = (int32_t)rs.integer(ps, "inputLeftShift", 0, 31);
        s.softmaxDiffMin = (int32_t)rs.integer(ps, "diffMin", -kInt32Max - 1, kInt32Max);
        inSize = outSize = s.inC;
      } else {
        r.fail("unknown op");
      }
      check_range(r, s.input, inSize, arenaBytes_, "input", "arenaBytes");
      check_range(r, s.output, outSize, arenaBytes_, "output", "arenaBytes");
      if (s.input < s.output + outSize && s.output < s.input + inSize) r.fail("output overlaps input");
      stepOutputBytes_[i] = outSize;
      const size_t scratch = qscratch_bytes(kt, s, threads);
      maxScratch = scratch > maxScratch ? scratch : maxScratch;
    } catch (const SizeOverflow&) {
      r.fail("sizes overflow (shapes too large)");
    }
  }

  if (output_ != steps_.back().output || outputSize_ != stepOutputBytes_.back())
    top.fail("output/outputSize must be the last step's output tensor");

  // One block for all packed parts, each 64-byte aligned (AlignedBuffer counts floats).
  try {
    packed_.reset_huge(packedBytes / sizeof(float) + 1);
  } catch (const std::bad_alloc&) {
    out_of_memory(env, "the packed weights", packedBytes);
  }
  uint8_t* block = reinterpret_cast<uint8_t*>(packed_.data());
  for (PackJob& job : jobs) {
    job.at = block;
    *job.target = block;
    block += round64(job.bytes);
  }

  // Per-thread scratch, each with 64 bytes of slack for kernels reading past a row's end.
  size_t stride = 0, scratchTotal = 0;
  try {
    stride = round64(checked_add(maxScratch, 64));
    scratchTotal = checked_mul(threads, stride);
    if (checked_add(arenaBytes_, scratchTotal) > kMaxActivationBytes) throw SizeOverflow();
  } catch (const SizeOverflow&) {
    top.fail("activation memory (arena " + mib(arenaBytes_) + " + scratch for " + std::to_string(threads) +
             " thread(s)) exceeds the " + mib(kMaxActivationBytes) + " limit on activation memory");
  }
  try {
    arena_.reset((arenaBytes_ + 3) / 4);
  } catch (const std::bad_alloc&) {
    out_of_memory(env, "the activation arena", arenaBytes_);
  }
  try {
    scratch_.reset(scratchTotal / 4);
    scratchPtrs_.resize(threads);
  } catch (const std::bad_alloc&) {
    out_of_memory(env, "the kernel scratch", scratchTotal);
  }
  for (size_t t = 0; t < threads; ++t) scratchPtrs_[t] = reinterpret_cast<uint8_t*>(scratch_.data()) + t * stride;
  scratchBytes_ = scratchTotal;
  try {
    pool_.reset(new ThreadPool(threads));
  } catch (const std::bad_alloc&) {
    out_of_memory(env, "the thread pool", threads * sizeof(std::thread));
  } catch (const std::system_error& e) {
    throw Napi::Error::New(env, "mobilenet native: cannot start " + std::to_string(threads - 1) +
                                    " worker thread(s): " + e.what());
  }
  pack(*pool_, kt, jobs);
}

void QuantModel::run(const void* input, void* output, double* stepMillis, size_t steps) {
  if (steps == 0 || steps > steps_.size()) throw std::invalid_argument("step count out of range");
  const ThreadPool::Run hot(*pool_);
  int8_t* arena = reinterpret_cast<int8_t*>(arena_.data());
  std::memcpy(arena + input_, input, inputBytes());
  const QExecContext ctx{kernels_, pool_.get(), scratchPtrs_.data()};
  for (size_t i = 0; i < steps; ++i) {
    const QStepDesc& s = steps_[i];
    const auto start = std::chrono::steady_clock::now();
    switch (s.op) {
      case QOpType::Conv2d:
        qrun_conv2d(ctx, s, arena);
        break;
      case QOpType::Depthwise:
        qrun_depthwise(ctx, s, arena);
        break;
      case QOpType::Pointwise:
        qrun_pointwise(ctx, s, arena);
        break;
      case QOpType::Bottleneck:
        qrun_bottleneck(ctx, s, arena);
        break;
      case QOpType::AvgPool:
        qrun_avgpool(ctx, s, arena);
        break;
      case QOpType::Mean:
        qrun_mean(ctx, s, arena);
        break;
      case QOpType::Fc:
        qrun_fc(ctx, s, arena);
        break;
      case QOpType::Softmax:
        qrun_softmax(ctx, s, arena);
        break;
    }
    if (stepMillis != nullptr) {
      const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
      stepMillis[i] = took.count();
    }
  }
  std::memcpy(output, arena + steps_[steps - 1].output, stepOutputBytes_[steps - 1]);
}

}  // namespace mn
