// Generic code (no ISA flags): it runs before dispatch, so it must not contain any AVX code.
#include "isa.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#if defined(MOBILENET_HAVE_NEON_KERNELS) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace mn {
namespace {

const Kernels kScalar = {"scalar", kScalarMR, kScalarNR, kScalarCB, gemm_scalar, igemm_scalar, dw3x3_scalar};
const QKernels kQScalar = {"scalar", 4, 8, 1, QGemmFormat::S16, 1, 8, QDwFormat::I16,
                           qgemm_scalar, nullptr, qdw3x3_scalar, nullptr, qadd_scalar,
                           qgemm_fp32_scalar, qdw3x3_fp32_scalar, qadd_xnn_scalar};
#if defined(MOBILENET_HAVE_X86_KERNELS)
const Kernels kAvx2 = {"avx2", kAvx2MR, kAvx2NR, kAvx2CB, gemm_avx2, igemm_avx2, dw3x3_avx2};
const Kernels kAvx512 = {"avx512", kAvx512MR, kAvx512NR, kAvx512CB, gemm_avx512, igemm_avx512, dw3x3_avx512};
#endif
#if defined(MOBILENET_HAVE_X86_KERNELS)
const QKernels kQAvx2 = {"avx2", 4, 16, 2, QGemmFormat::S16, 8, 8, QDwFormat::I16Z32,
                         qgemm_avx2, nullptr, qdw3x3_avx2, nullptr, qadd_avx2,
                         qgemm_fp32_avx2, qdw3x3_fp32_avx2, qadd_xnn_avx2};
const QKernels kQAvx512Vnni = {"avx512vnni", 6, 16, 4, QGemmFormat::S8Xor, 16, 16, QDwFormat::S8Taps4,
                               qgemm_avx512vnni, qrowsum_avx512vnni, qdw3x3_avx512vnni,
                               qdw_build_avx512vnni, qadd_avx512vnni, qgemm_fp32_avx512vnni,
                               qdw3x3_fp32_avx512vnni, qadd_xnn_avx512vnni};
#endif
#if defined(MOBILENET_HAVE_NEON_KERNELS)
const Kernels kNeon = {"neon", kNeonMR, kNeonNR, kNeonCB, gemm_neon, igemm_neon, dw3x3_neon};
#endif
#if defined(MOBILENET_HAVE_NEON_KERNELS)
const QKernels kQNeon = {"neon", 4, 8, 1, QGemmFormat::S16, 4, 8, QDwFormat::I16,
                         qgemm_neon, nullptr, qdw3x3_neon, nullptr, qadd_neon,
                         qgemm_fp32_neon, qdw3x3_fp32_neon, qadd_xnn_neon};
const QKernels kQNeonDot = {"neon-dot", 4, 8, 4, QGemmFormat::S8, 4, 8, QDwFormat::I16,
                            qgemm_neondot, qrowsum_neondot, qdw3x3_neon, nullptr, qadd_neon,
                            qgemm_fp32_neondot, qdw3x3_fp32_neon, qadd_xnn_neon};
#endif

// Every ISA name of both families, best first: MOBILENET_ISA=<name> drops those before it.
const char* const kOrder[] = {"avx512vnni", "avx512", "avx2", "neon-dot", "neon", "scalar"};

int rank(const std::string& name) {
  for (size_t i = 0; i < sizeof kOrder / sizeof kOrder[0]; ++i)
    if (name == kOrder[i]) return (int)i;
  return -1;
}

template <class T>
std::string names(const std::vector<const T*>& list) {
  std::string out;
  for (const T* k : list) out += std::string(out.empty() ? "" : ", ") + k->name;
  return out;
}

// Both families' ISAs this CPU runs, in kOrder: the values MOBILENET_ISA may take.
std::vector<std::string> hardware_names() {
  std::vector<std::string> all;
  for (const Kernels* k : hardware_kernels()) all.push_back(k->name);
  for (const QKernels* k : hardware_qkernels()) all.push_back(k->name);
  std::vector<std::string> out;
  for (const char* name : kOrder)
    for (const std::string& n : all)
      if (n == name) {
        out.push_back(n);
        break;
      }
  return out;
}

// The part of `list` MOBILENET_ISA leaves (all of it when unset or empty).
template <class T>
std::vector<const T*> capped(std::vector<const T*> list) {
  const char* forced = std::getenv("MOBILENET_ISA");
  if (forced == nullptr || *forced == '\0') return list;
  const std::string name(forced);
  const std::vector<std::string> valid = hardware_names();
  bool runnable = false;
  std::string validList;
  for (const std::string& n : valid) {
    runnable = runnable || n == name;
    validList += (validList.empty() ? "" : ", ") + n;
  }
  if (!runnable)
    throw std::invalid_argument("MOBILENET_ISA='" + name + "' is " +
                                (rank(name) >= 0 ? "not supported on this CPU" : "not a known instruction set") +
                                " (valid on this CPU: " + validList + ")");
  std::vector<const T*> out;
  for (const T* k : list)
    if (rank(k->name) >= rank(name)) out.push_back(k);
  return out;
}

// The names a family has on some CPU.
const char* const kFloatNames[] = {"avx512", "avx2", "neon", "scalar", nullptr};
const char* const kQuantNames[] = {"avx512vnni", "avx2", "neon-dot", "neon", "scalar", nullptr};

template <class T>
const T* find_in(const std::vector<const T*>& hardware, const std::vector<const T*>& list,
                 const char* const* known, const std::string& name, std::string* error) {
  bool isKnown = false;
  for (; *known != nullptr; ++known) isKnown = isKnown || name == *known;
  for (const T* k : list)
    if (name == k->name) return k;
  const char* env = std::getenv("MOBILENET_ISA");
  bool onCpu = false;
  for (const T* k : hardware) onCpu = onCpu || name == k->name;
  if (onCpu) {
    *error = "isa '" + name + "' is disabled by MOBILENET_ISA=" + std::string(env) +
             " (valid: " + names(list) + ")";
  } else if (!isKnown) {
    *error = "unknown isa '" + name + "' (valid: " + names(list) + ")";
  } else {
    *error = "isa '" + name + "' is not supported on this CPU (valid: " + names(list) + ")";
  }
  return nullptr;
}

#if defined(MOBILENET_HAVE_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__))
// __builtin_cpu_supports also checks that the OS saves the AVX / AVX-512 register state.
bool cpu_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool cpu_avx512() {
  return cpu_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}
bool cpu_avx512vnni() { return cpu_avx512() && __builtin_cpu_supports("avx512vnni"); }
#endif

#if defined(MOBILENET_HAVE_NEON_KERNELS)
// The SDOT/UDOT instructions (Armv8.2 dot product: most cores since Cortex-A55/A75, every Apple M).
bool cpu_dotprod() {
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
  return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
  return true;
#else
  return false;
#endif
}
#endif

}  // namespace

std::vector<const Kernels*> hardware_kernels() {
  std::vector<const Kernels*> list;
#if defined(MOBILENET_HAVE_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__))
  if (cpu_avx512()) list.push_back(&kAvx512);
  if (cpu_avx2()) list.push_back(&kAvx2);
#endif
#if defined(MOBILENET_HAVE_NEON_KERNELS)
  list.push_back(&kNeon);
#endif
  list.push_back(&kScalar);
  return list;
}

std::vector<const QKernels*> hardware_qkernels() {
  std::vector<const QKernels*> list;
#if defined(MOBILENET_HAVE_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__))
  if (cpu_avx512vnni()) list.push_back(&kQAvx512Vnni);
  if (cpu_avx2()) list.push_back(&kQAvx2);
#endif
#if defined(MOBILENET_HAVE_NEON_KERNELS)
  if (cpu_dotprod()) list.push_back(&kQNeonDot);
  list.push_back(&kQNeon);
#endif
  list.push_back(&kQScalar);
  return list;
}

std::vector<const Kernels*> supported_kernels() { return capped(hardware_kernels()); }
std::vector<const QKernels*> supported_qkernels() { return capped(hardware_qkernels()); }

const Kernels* find_kernels(const std::string& name, std::string* error) {
  return find_in(hardware_kernels(), supported_kernels(), kFloatNames, name, error);
}

const QKernels* find_qkernels(const std::string& name, std::string* error) {
  return find_in(hardware_qkernels(), supported_qkernels(), kQuantNames, name, error);
}

}  // namespace mn
