// Generic code (no ISA flags): it runs before dispatch, so it must not contain any AVX code.
#include "isa.h"

#include <cstdlib>
#include <cstring>

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

}  // namespace

std::vector<const Kernels*> supported_kernels() {
  std::vector<const Kernels*> list = hardware_kernels();
  const char* forced = std::getenv("MOBILENET_ISA");
  if (forced != nullptr && *forced != '\0') {
    for (size_t i = 0; i < list.size(); ++i) {
      if (std::strcmp(list[i]->name, forced) == 0) {
        list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
  }
  return list;
}

const Kernels* find_kernels(const std::string& name, std::string* error) {
  for (const Kernels* k : supported_kernels())
    if (name == k->name) return k;
  for (const char* known : kKnownNames) {
    if (name == known) {
      *error = "isa '" + name + "' is not supported on this CPU (or disabled by MOBILENET_ISA)";
      return nullptr;
    }
  }
  *error = "unknown isa '" + name + "' (expected one of avx512, avx2, neon, scalar)";
  return nullptr;
}

}  // namespace mn
