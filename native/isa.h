// CPU feature detection and the per-ISA kernel tables, fp32 (Kernels) and int8 (QKernels).
#pragma once

#include <string>
#include <vector>

#include "kernels.h"
#include "kernels_qs8.h"

namespace mn {

// Kernel tables this CPU can run, best first (ignores MOBILENET_ISA).
std::vector<const Kernels*> hardware_kernels();
std::vector<const QKernels*> hardware_qkernels();

// Kernel tables usable on this CPU, best first. Env MOBILENET_ISA=<name> caps both families: it
// drops every ISA better than <name> in the order avx512vnni > avx512 > avx2 > scalar (x86-64),
// neon-dot > neon > scalar (aarch64); so avx512 leaves int8 on avx2 and avx512vnni leaves fp32 on
// avx512. <name> must be an ISA of either family this CPU can run: otherwise these throw
// std::invalid_argument whose message lists the valid values.
std::vector<const Kernels*> supported_kernels();
std::vector<const QKernels*> supported_qkernels();

// The table named `name` if this CPU can run it (and MOBILENET_ISA does not rule it out); nullptr
// and *error set otherwise (the message lists the valid values). Throws like supported_kernels()
// when MOBILENET_ISA itself is invalid.
const Kernels* find_kernels(const std::string& name, std::string* error);
const QKernels* find_qkernels(const std::string& name, std::string* error);

}  // namespace mn
