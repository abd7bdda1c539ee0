// Portable int8 ADD (the residual of an inverted bottleneck).
#include "../../kernels_qs8.h"
#include "requant.h"

namespace mn {

void qadd_scalar(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const QAddParams* p) {
  for (size_t i = 0; i < n; ++i) out[i] = add_one(a[i], b[i], *p);
}

}  // namespace mn
