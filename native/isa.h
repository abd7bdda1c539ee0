// CPU feature detection and the per-ISA kernel tables.
#pragma once

#include <string>
#include <vector>

#include "kernels.h"

namespace mn {

// Kernel tables usable on this CPU, best first. Env MOBILENET_ISA=<name> drops every ISA better
// than <name> (to test lower variants on a big machine); an unusable/unknown value is ignored.
std::vector<const Kernels*> supported_kernels();

// The table named `name` if this CPU can run it; nullptr and *error set otherwise.
const Kernels* find_kernels(const std::string& name, std::string* error);

}  // namespace mn
