// Thin N-API binding: supportedIsas(), class Model { run(), profile(), dispose(), isa, threads,
// arenaBytes, scratchBytes }. All heavy lifting is in model.cc / ops/. Generic code (no ISA flags).
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "isa.h"
#include "model.h"

namespace {

using mn::Model;

class RunWorker : public Napi::AsyncWorker {
 public:
  // profile: resolve with the milliseconds of each step (Float64Array) instead of the output.
  RunWorker(Napi::Env env, std::shared_ptr<Model> model, std::vector<float> input, bool profile)
      : Napi::AsyncWorker(env, "mobilenet:run"),
        deferred_(Napi::Promise::Deferred::New(env)),
        model_(std::move(model)),
        input_(std::move(input)),
        stepMillis_(profile ? model_->stepCount() : 0) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      output_.resize(model_->outputSize());
      std::lock_guard<std::mutex> lock(model_->mutex);
      model_->run(input_.data(), output_.data(), stepMillis_.empty() ? nullptr : stepMillis_.data());
    } catch (const std::exception& e) {
      SetError(std::string("mobilenet native: inference failed: ") + e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    model_.reset();
    if (!stepMillis_.empty()) {
      Napi::Float64Array millis = Napi::Float64Array::New(env, stepMillis_.size());
      std::memcpy(millis.Data(), stepMillis_.data(), stepMillis_.size() * sizeof(double));
      deferred_.Resolve(millis);
      return;
    }
    Napi::Float32Array out = Napi::Float32Array::New(env, output_.size());
    std::memcpy(out.Data(), output_.data(), output_.size() * sizeof(float));
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override {
    model_.reset();
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Model> model_;
  std::vector<float> input_;
  std::vector<float> output_;
  std::vector<double> stepMillis_;
};

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Model",
                       {
                           InstanceMethod<&ModelWrap::Run>("run"),
                           InstanceMethod<&ModelWrap::Profile>("profile"),
                           InstanceMethod<&ModelWrap::Dispose>("dispose"),
                           InstanceAccessor<&ModelWrap::Isa>("isa"),
                           InstanceAccessor<&ModelWrap::Threads>("threads"),
                           InstanceAccessor<&ModelWrap::ArenaBytes>("arenaBytes"),
                           InstanceAccessor<&ModelWrap::ScratchBytes>("scratchBytes"),
                       });
  }

  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    Napi::Env env = info.Env();
    if (!info.IsConstructCall()) throw Napi::TypeError::New(env, "Model must be called with new");
    if (info.Length() < 1 || !info[0].IsObject())
      throw Napi::TypeError::New(env, "new Model(plan, options): plan must be an object");
    size_t threads = 1;
    const mn::Kernels* kernels = mn::supported_kernels().front();
    if (info.Length() >= 2 && !info[1].IsUndefined() && !info[1].IsNull()) {
      if (!info[1].IsObject())
        throw Napi::TypeError::New(env, "new Model(plan, options): options must be an object");
      const Napi::Object opts = info[1].As<Napi::Object>();
      const Napi::Value t = opts.Get("threads");
      if (!t.IsUndefined()) {
        const double d = t.IsNumber() ? t.As<Napi::Number>().DoubleValue() : -1.0;
        if (!(d >= 1 && d <= 1024) || static_cast<double>(static_cast<size_t>(d)) != d)
          throw Napi::TypeError::New(env, "options.threads must be an integer in [1, 1024]");
        threads = static_cast<size_t>(d);
      }
      const Napi::Value isa = opts.Get("isa");
      if (!isa.IsUndefined()) {
        if (!isa.IsString()) throw Napi::TypeError::New(env, "options.isa must be a string");
        std::string error;
        kernels = mn::find_kernels(isa.As<Napi::String>().Utf8Value(), &error);
        if (kernels == nullptr) throw Napi::Error::New(env, "mobilenet native: " + error);
      }
    }
    try {
      model_ = std::make_shared<Model>(env, info[0].As<Napi::Object>(), kernels, threads);
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(env, "mobilenet native: out of memory while loading the plan");
    } catch (const std::system_error& e) {
      throw Napi::Error::New(env, std::string("mobilenet native: cannot start threads: ") +
                                      e.what());
    }
    isa_ = model_->isa();
    threads_ = model_->threads();
    arenaBytes_ = model_->arenaBytes();
    scratchBytes_ = model_->scratchBytes();
    inputSize_ = model_->inputSize();
  }

 private:
  Napi::Value Run(const Napi::CallbackInfo& info) { return Queue(info, false); }
  Napi::Value Profile(const Napi::CallbackInfo& info) { return Queue(info, true); }

  Napi::Value Queue(const Napi::CallbackInfo& info, bool profile) {
    Napi::Env env = info.Env();
    if (!model_) throw Napi::Error::New(env, "mobilenet native: model has been disposed");
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, "run(input): input must be a Float32Array");
    Napi::Float32Array in = info[0].As<Napi::Float32Array>();
    if (in.ElementLength() != inputSize_)
      throw Napi::TypeError::New(env, "run(input): input has " +
                                          std::to_string(in.ElementLength()) +
                                          " floats, expected " + std::to_string(inputSize_));
    std::vector<float> copy(in.Data(), in.Data() + inputSize_);
    RunWorker* worker = new RunWorker(env, model_, std::move(copy), profile);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    // Pending runs keep their own reference; the memory goes when the last one finishes.
    model_.reset();
    return info.Env().Undefined();
  }

  Napi::Value Isa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), isa_); }
  Napi::Value Threads(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(threads_));
  }
  Napi::Value ArenaBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(arenaBytes_));
  }
  Napi::Value ScratchBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(scratchBytes_));
  }

  std::shared_ptr<Model> model_;
  std::string isa_;
  size_t threads_ = 1, arenaBytes_ = 0, scratchBytes_ = 0, inputSize_ = 0;
};

Napi::Value SupportedIsas(const Napi::CallbackInfo& info) {
  const std::vector<const mn::Kernels*> list = mn::supported_kernels();
  Napi::Array out = Napi::Array::New(info.Env(), list.size());
  for (uint32_t i = 0; i < list.size(); ++i) out.Set(i, Napi::String::New(info.Env(), list[i]->name));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("supportedIsas", Napi::Function::New(env, SupportedIsas, "supportedIsas"));
  exports.Set("Model", ModelWrap::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(mobilenet_native, Init)
