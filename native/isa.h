// CPU feature detection and the per-ISA kernel tables.
#pragma once

#include <string>
#include <vector>

#include "kernels.h"

namespace mn {

// Kernel tables this CPU can run, best first (ignores MOBILENET_ISA).
std::vector<const Kernels*> hardware_kernels();

// Kernel tables usable on this CPU, best first. Env MOBILENET_ISA=<name> drops every ISA better
// than <name> (to test lower variants on a big machine). An unknown name, or one this CPU cannot
// run, throws std::invalid_argument whose message lists the valid values.
std::vector<const Kernels*> supported_kernels();

// The table named `name` if this CPU can run it (and MOBILENET_ISA does not rule it out); nullptr
// and *error set otherwise (the message lists the valid values). Throws like supported_kernels()
// when MOBILENET_ISA itself is invalid.
const Kernels* find_kernels(const std::string& name, std::string* error);

}  // namespace mn
