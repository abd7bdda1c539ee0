// Thin N-API binding: supportedIsas(dtype?), class Model (fp32 plan, Float32Array in and out) and
// class QuantModel (int8 QPlan, Int8Array in and out), both { run(input[, steps]), profile(), dispose(), isa,
// threads, arenaBytes, scratchBytes }. All heavy lifting is in model.cc / quant_model.cc / ops/.
// Generic code (no ISA flags).
//
// Inference runs on the model's own executor thread (a FIFO of jobs), never in libuv's pool: queued
// runs waiting for the model would otherwise hold libuv's 4 threads, and fs / dns / zlib / sharp
// work would wait behind them. Results come back to the JS thread through a thread-safe function,
// unref'd whenever no run is pending, so an idle model does not keep the process alive.
//
// Every entry point turns every C++ exception into a JS error (std::bad_alloc: "out of memory
// while ..."); NODE_ADDON_API_CPP_EXCEPTIONS_ALL (CMakeLists.txt) is the backstop.
#include <napi.h>

#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "isa.h"
#include "model.h"
#include "quant_model.h"
#include "runner.h"

namespace {

using mn::Runner;

// Runs f(); any C++ exception leaves as a Napi::Error naming what we were doing.
template <class F>
auto Guard(Napi::Env env, const char* doing, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, std::string("mobilenet native: out of memory while ") + doing);
  } catch (const std::invalid_argument& e) {
    throw Napi::Error::New(env, std::string("mobilenet native: ") + e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("mobilenet native: ") + doing + " failed: " + e.what());
  } catch (...) {
    throw Napi::Error::New(env, std::string("mobilenet native: ") + doing +
                                    " failed (unknown C++ exception)");
  }
}

// One queued run or profile.
struct Job {
  std::vector<uint8_t> input;
  std::vector<uint8_t> output;
  napi_typedarray_type outputType = napi_float32_array;  // Float32Array or Int8Array
  std::vector<double> millis;  // profile: the milliseconds of each step
  size_t steps = 0;            // run the first `steps` steps (all for a profile)
  bool profile = false;
  napi_deferred deferred = nullptr;  // settled on the JS thread
  std::string error;                 // non-empty: the run failed
};

class Executor;
void Deliver(Napi::Env env, Napi::Function, Executor* self, Job* job);
using Tsfn = Napi::TypedThreadSafeFunction<Executor, Job, Deliver>;

// The model's executor: one thread taking jobs in FIFO order. Lifetime: shared by the JS wrapper
// and the thread-safe function (whose finalizer joins the thread), so it outlives both the
// wrapper's garbage collection and a dispose() with a run in flight.
class Executor {
 public:
  // JS thread. Takes the model; starts the thread (throws if it cannot).
  static std::shared_ptr<Executor> Start(Napi::Env env, std::unique_ptr<Runner> model) {
    std::shared_ptr<Executor> self = std::make_shared<Executor>();
    self->model_ = std::move(model);
    std::unique_ptr<std::shared_ptr<Executor>> holder(new std::shared_ptr<Executor>(self));
    self->tsfn_ = Tsfn::New(env, "mobilenet:run", 0, 1, self.get(), Finalize, holder.get());
    holder.release();  // owned by the thread-safe function now: freed by Finalize
    self->tsfn_.Unref(env);
    try {
      self->thread_ = std::thread(&Executor::Loop, self.get());
    } catch (...) {
      self->tsfn_.Release();  // Finalize runs later and frees everything
      throw;
    }
    return self;
  }

  // JS thread. Queues a job; returns its promise. Throws if the executor no longer takes jobs.
  Napi::Value Submit(Napi::Env env, std::unique_ptr<Job> job) {
    napi_value promise;
    napi_deferred deferred;
    NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
    job->deferred = deferred;
    const char* refused = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) {
        refused = "mobilenet native: model has been disposed";
      } else {
        try {
          queue_.push_back(std::move(job));
        } catch (const std::bad_alloc&) {
          refused = "mobilenet native: out of memory while queueing a run";
        }
      }
    }
    if (refused != nullptr) {
      // The promise exists: settle it rather than leave it pending forever.
      napi_reject_deferred(env, deferred, Napi::Error::New(env, refused).Value());
      return Napi::Value(env, promise);
    }
    cv_.notify_one();
    if (pending_++ == 0 && !finalized_) tsfn_.Ref(env);
    return Napi::Value(env, promise);
  }

  // JS thread. dispose(): the queued runs are rejected now, the running one (if any) completes;
  // then the thread frees the model and exits, and Finalize joins it.
  void Dispose(Napi::Env env) {
    std::deque<std::unique_ptr<Job>> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
      dropped.swap(queue_);
    }
    cv_.notify_one();
    for (std::unique_ptr<Job>& job : dropped) {
      const char* msg = "mobilenet native: model disposed before this run started";
      napi_reject_deferred(env, job->deferred, Napi::Error::New(env, msg).Value());
    }
    pending_ -= dropped.size();
    if (pending_ == 0 && !finalized_) tsfn_.Unref(env);
  }

  // Any thread. The wrapper is gone (garbage collected): no new jobs can come, the queued ones
  // still run and settle, then the thread exits.
  void Detach() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    cv_.notify_one();
  }

 private:
  friend void Deliver(Napi::Env env, Napi::Function, Executor* self, Job* job);

  void Loop() {
    for (;;) {
      std::unique_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
        if (queue_.empty()) break;  // closing, nothing left
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      Execute(*job);
      // Fails only while the environment shuts down: nobody waits for the answer then.
      if (tsfn_.NonBlockingCall(job.get()) == napi_ok) job.release();
    }
    model_.reset();  // the weights and the arena go now; the pool's workers are joined
    tsfn_.Release();
  }

  void Execute(Job& job) {
    try {
      job.output.resize(model_->stepOutputBytes(job.steps - 1));
      if (job.profile) job.millis.resize(job.steps);
      model_->run(job.input.data(), job.output.data(), job.profile ? job.millis.data() : nullptr, job.steps);
    } catch (const std::bad_alloc&) {
      job.error = "mobilenet native: out of memory while running inference";
    } catch (const std::exception& e) {
      job.error = std::string("mobilenet native: inference failed: ") + e.what();
    } catch (...) {
      job.error = "mobilenet native: inference failed (unknown C++ exception)";
    }
  }

  // JS thread, once the thread has released the function — or at environment teardown, when the
  // thread may still be running: it is stopped after its current job and joined either way.
  static void Finalize(Napi::Env, std::shared_ptr<Executor>* holder, Executor* self) {
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->closing_ = true;
      self->queue_.clear();  // teardown only (empty otherwise): their promises die with the env
    }
    self->cv_.notify_one();
    if (self->thread_.joinable()) self->thread_.join();
    self->finalized_ = true;
    delete holder;
  }

  std::unique_ptr<Runner> model_;  // used by the thread only once it runs
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;  // guarded by mu_
  bool closing_ = false;                    // guarded by mu_: no new jobs, exit when drained
  std::thread thread_;
  Tsfn tsfn_;
  size_t pending_ = 0;      // JS thread: promises not settled yet (the function is ref'd while > 0)
  bool finalized_ = false;  // JS thread
};

// JS thread: settles a finished job's promise. env is null when the environment is shutting down.
void Deliver(Napi::Env env, Napi::Function, Executor* self, Job* raw) {
  std::unique_ptr<Job> job(raw);
  if (static_cast<napi_env>(env) == nullptr) return;
  try {
    if (!job->error.empty()) {
      napi_reject_deferred(env, job->deferred, Napi::Error::New(env, job->error).Value());
    } else if (job->profile) {
      Napi::Float64Array millis = Napi::Float64Array::New(env, job->millis.size());
      std::memcpy(millis.Data(), job->millis.data(), job->millis.size() * sizeof(double));
      napi_resolve_deferred(env, job->deferred, millis);
    } else if (job->outputType == napi_int8_array) {
      Napi::Int8Array out = Napi::Int8Array::New(env, job->output.size());
      std::memcpy(out.Data(), job->output.data(), job->output.size());
      napi_resolve_deferred(env, job->deferred, out);
    } else {
      Napi::Float32Array out = Napi::Float32Array::New(env, job->output.size() / sizeof(float));
      std::memcpy(out.Data(), job->output.data(), job->output.size());
      napi_resolve_deferred(env, job->deferred, out);
    }
  } catch (const Napi::Error& e) {
    napi_reject_deferred(env, job->deferred, e.Value());
  } catch (const std::exception& e) {
    const std::string msg = std::string("mobilenet native: cannot return the result: ") + e.what();
    napi_reject_deferred(env, job->deferred, Napi::Error::New(env, msg).Value());
  }
  if (--self->pending_ == 0 && !self->finalized_) self->tsfn_.Unref(env);
}

// What tells the two model classes apart: the plan they compile and the typed array they take.
struct FloatPlan {
  static constexpr const char* kName = "Model";
  static constexpr const char* kArray = "a Float32Array";
  static constexpr const char* kUnits = "floats";
  static constexpr napi_typedarray_type kType = napi_float32_array;
  static constexpr size_t kElement = sizeof(float);
  static std::unique_ptr<Runner> Create(Napi::Env env, const Napi::Object& plan, const std::string* isa,
                                        size_t threads) {
    const mn::Kernels* kernels = nullptr;
    if (isa != nullptr) {
      std::string error;
      kernels = mn::find_kernels(*isa, &error);
      if (kernels == nullptr) throw Napi::Error::New(env, "mobilenet native: " + error);
    }
    // Throws (std::invalid_argument) when MOBILENET_ISA names nothing this CPU can run.
    if (kernels == nullptr) kernels = mn::supported_kernels().front();
    return std::unique_ptr<Runner>(new mn::Model(env, plan, kernels, threads));
  }
};

struct QuantPlan {
  static constexpr const char* kName = "QuantModel";
  static constexpr const char* kArray = "an Int8Array";
  static constexpr const char* kUnits = "values";
  static constexpr napi_typedarray_type kType = napi_int8_array;
  static constexpr size_t kElement = 1;
  static std::unique_ptr<Runner> Create(Napi::Env env, const Napi::Object& plan, const std::string* isa,
                                        size_t threads) {
    const mn::QKernels* kernels = nullptr;
    if (isa != nullptr) {
      std::string error;
      kernels = mn::find_qkernels(*isa, &error);
      if (kernels == nullptr) throw Napi::Error::New(env, "mobilenet native: " + error);
    }
    if (kernels == nullptr) kernels = mn::supported_qkernels().front();
    return std::unique_ptr<Runner>(new mn::QuantModel(env, plan, kernels, threads));
  }
};

template <class Kind>
class ModelWrap : public Napi::ObjectWrap<ModelWrap<Kind>> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return ModelWrap::DefineClass(env, Kind::kName,
                                  {
                                      ModelWrap::template InstanceMethod<&ModelWrap::Run>("run"),
                                      ModelWrap::template InstanceMethod<&ModelWrap::Profile>("profile"),
                                      ModelWrap::template InstanceMethod<&ModelWrap::Dispose>("dispose"),
                                      ModelWrap::template InstanceAccessor<&ModelWrap::Isa>("isa"),
                                      ModelWrap::template InstanceAccessor<&ModelWrap::Threads>("threads"),
                                      ModelWrap::template InstanceAccessor<&ModelWrap::ArenaBytes>("arenaBytes"),
                                      ModelWrap::template InstanceAccessor<&ModelWrap::ScratchBytes>("scratchBytes"),
                                  });
  }

  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap<Kind>>(info) {
    Guard(info.Env(), "creating the model", [&] { Construct(info); });
  }

  ~ModelWrap() override {
    if (executor_) executor_->Detach();
  }

 private:
  void Construct(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string name = Kind::kName;
    if (!info.IsConstructCall()) throw Napi::TypeError::New(env, name + " must be called with new");
    if (info.Length() < 1 || !info[0].IsObject())
      throw Napi::TypeError::New(env, "new " + name + "(plan, options): plan must be an object");
    size_t threads = 1;
    std::string isaName;
    bool hasIsa = false;
    if (info.Length() >= 2 && !info[1].IsUndefined() && !info[1].IsNull()) {
      if (!info[1].IsObject())
        throw Napi::TypeError::New(env, "new " + name + "(plan, options): options must be an object");
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
        isaName = isa.As<Napi::String>().Utf8Value();
        hasIsa = true;
      }
    }
    std::unique_ptr<Runner> model = Kind::Create(env, info[0].As<Napi::Object>(), hasIsa ? &isaName : nullptr, threads);
    isa_ = model->isa();
    threads_ = model->threads();
    arenaBytes_ = model->arenaBytes();
    scratchBytes_ = model->scratchBytes();
    inputBytes_ = model->inputBytes();
    stepCount_ = model->stepCount();
    executor_ = Executor::Start(env, std::move(model));
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), "queueing a run", [&] { return Queue(info, false); });
  }
  Napi::Value Profile(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), "queueing a profile run", [&] { return Queue(info, true); });
  }

  // Argument errors throw synchronously (TypeError); src/engine/native.ts turns them into
  // rejections. Inference errors reject the promise.
  Napi::Value Queue(const Napi::CallbackInfo& info, bool profile) {
    Napi::Env env = info.Env();
    if (disposed_) throw Napi::Error::New(env, "mobilenet native: model has been disposed");
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != Kind::kType)
      throw Napi::TypeError::New(env, std::string("run(input): input must be ") + Kind::kArray);
    Napi::TypedArray in = info[0].As<Napi::TypedArray>();
    if (in.ElementLength() * Kind::kElement != inputBytes_)
      throw Napi::TypeError::New(env, "run(input): input has " + std::to_string(in.ElementLength()) + " " +
                                          Kind::kUnits + ", expected " +
                                          std::to_string(inputBytes_ / Kind::kElement));
    // run(input, steps): only the first `steps` steps, resolving to the last one's output.
    size_t steps = stepCount_;
    if (!profile && info.Length() >= 2 && !info[1].IsUndefined()) {
      const double d = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1.0;
      if (!(d >= 1 && d <= static_cast<double>(stepCount_)) || std::floor(d) != d)
        throw Napi::RangeError::New(env, "run(input, steps): steps must be an integer from 1 to " +
                                             std::to_string(stepCount_));
      steps = static_cast<size_t>(d);
    }
    std::unique_ptr<Job> job(new Job());
    const uint8_t* data = static_cast<const uint8_t*>(in.ArrayBuffer().Data()) + in.ByteOffset();
    job->input.assign(data, data + inputBytes_);
    job->outputType = Kind::kType;
    job->steps = steps;
    job->profile = profile;
    return executor_->Submit(env, std::move(job));
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!disposed_) {
      disposed_ = true;
      Guard(env, "disposing the model", [&] { executor_->Dispose(env); });
    }
    return env.Undefined();
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

  std::shared_ptr<Executor> executor_;
  bool disposed_ = false;
  std::string isa_;
  size_t threads_ = 1, arenaBytes_ = 0, scratchBytes_ = 0, inputBytes_ = 0, stepCount_ = 0;
};

template <class T>
Napi::Array NameList(Napi::Env env, const std::vector<const T*>& list) {
  Napi::Array out = Napi::Array::New(env, list.size());
  for (uint32_t i = 0; i < list.size(); ++i) out.Set(i, Napi::String::New(env, list[i]->name));
  return out;
}

// supportedIsas(dtype = 'float32'): the kernel tables of that dtype ('float32' or 'int8') usable here.
Napi::Value SupportedIsas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dtype = "float32";
  if (info.Length() >= 1 && !info[0].IsUndefined()) {
    dtype = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : std::string();
    if (dtype != "float32" && dtype != "int8")
      throw Napi::TypeError::New(env, "supportedIsas(dtype): dtype must be 'float32' or 'int8'");
  }
  return Guard(env, "listing the instruction sets", [&]() -> Napi::Value {
    if (dtype == "int8") return NameList(env, mn::supported_qkernels());
    return NameList(env, mn::supported_kernels());
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("supportedIsas", Napi::Function::New(env, SupportedIsas, "supportedIsas"));
  exports.Set("Model", ModelWrap<FloatPlan>::Init(env));
  exports.Set("QuantModel", ModelWrap<QuantPlan>::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(mobilenet_native, Init)
