// Portable int8 ADD (the residual of an inverted bottleneck), TFLite's and XNNPACK's.
#include "../../kernels_qs8.h"
#include "requant.h"

namespace mn {

void qadd_scalar(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const QAddParams* p) {
  for (size_t i = 0; i < n; ++i) out[i] = add_one(a[i], b[i], *p);
}

void qadd_xnn_scalar(size_t n, const int8_t* a, const int8_t* b, int8_t* out, const QAddXnnParams* p) {
  for (size_t i = 0; i < n; ++i) out[i] = add_xnn_one(a[i], b[i], *p);
}

}  // namespace mn
