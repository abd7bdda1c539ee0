// Generic code (no ISA flags): it runs before dispatch, so it must not contain any AVX code.
#include "isa.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace mn {
namespace {

const Kernels kScalar = {"scalar", kScalarMR, kScalarNR, kScalarCB, gemm_scalar, igemm_scalar, dw3x3_scalar};
#if defined(MOBILENET_HAVE_X86_KERNELS)
const Kernels kAvx2 = {"avx2", kAvx2MR, kAvx2NR, kAvx2CB, gemm_avx2, igemm_avx2, dw3x3_avx2};
const Kernels kAvx512 = {"avx512", kAvx512MR, kAvx512NR, kAvx512CB, gemm_avx512, igemm_avx512, dw3x3_avx512};
#endif
#if defined(MOBILENET_HAVE_NEON_KERNELS)
const Kernels kNeon = {"neon", kNeonMR, kNeonNR, kNeonCB, gemm_neon, igemm_neon, dw3x3_neon};
#endif

const char* const kKnownNames[] = {"avx512", "avx2", "neon", "scalar"};

bool is_known(const std::string& name) {
  for (const char* known : kKnownNames)
    if (name == known) return true;
  return false;
}

std::string names(const std::vector<const Kernels*>& list) {
  std::string out;
  for (const Kernels* k : list) out += std::string(out.empty() ? "" : ", ") + k->name;
  return out;
}

}  // namespace

std::vector<const Kernels*> hardware_kernels() {
  std::vector<const Kernels*> list;
#if defined(MOBILENET_HAVE_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports also checks that the OS saves the AVX / AVX-512 register state.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl");
  if (avx512) list.push_back(&kAvx512);
  if (avx2) list.push_back(&kAvx2);
#endif
#if defined(MOBILENET_HAVE_NEON_KERNELS)
  list.push_back(&kNeon);
#endif
  list.push_back(&kScalar);
  return list;
}

std::vector<const Kernels*> supported_kernels() {
  std::vector<const Kernels*> list = hardware_kernels();
  const char* forced = std::getenv("MOBILENET_ISA");
  if (forced == nullptr || *forced == '\0') return list;
  for (size_t i = 0; i < list.size(); ++i) {
    if (std::strcmp(list[i]->name, forced) == 0) {
      list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(i));
      return list;
    }
  }
  const std::string name(forced);
  throw std::invalid_argument(
      "MOBILENET_ISA='" + name + "' is " +
      (is_known(name) ? "not supported on this CPU" : "not a known instruction set") +
      " (valid on this CPU: " + names(list) + ")");
}

const Kernels* find_kernels(const std::string& name, std::string* error) {
  const std::vector<const Kernels*> list = supported_kernels();
  for (const Kernels* k : list)
    if (name == k->name) return k;
  const char* env = std::getenv("MOBILENET_ISA");
  const bool capped = env != nullptr && *env != '\0' && list.size() < hardware_kernels().size();
  if (!is_known(name)) {
    *error = "unknown isa '" + name + "' (valid: " + names(list) + ")";
  } else if (capped) {
    bool onCpu = false;
    for (const Kernels* k : hardware_kernels()) onCpu = onCpu || name == k->name;
    const std::string why =
        onCpu ? "disabled by MOBILENET_ISA=" + std::string(env) : "not supported on this CPU";
    *error = "isa '" + name + "' is " + why + " (valid: " + names(list) + ")";
  } else {
    *error = "isa '" + name + "' is not supported on this CPU (valid: " + names(list) + ")";
  }
  return nullptr;
}

}  // namespace mn
