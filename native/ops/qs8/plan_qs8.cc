// What the int8 operators need besides packed weights: per-thread scratch and the pad rows their
// depthwise parts read above and below the image. Generic code, checked arithmetic.
#include "ops_qs8.h"

namespace mn {

size_t qscratch_bytes(const QKernels& kt, const QStepDesc& s, size_t threads) {
  switch (s.op) {
    case QOpType::Conv2d:
      return qconv2d_scratch_bytes(kt, s);
    case QOpType::Pointwise:
      return qpointwise_scratch_bytes(kt, s, threads);
    case QOpType::Fc:
      return 64;
    case QOpType::Depthwise:
      return s.kernel == 3 ? round64(checked_add(checked_mul(9, s.inC), 64)) : 0;
    case QOpType::Bottleneck:
      return qbottleneck_scratch_bytes(s);
    case QOpType::AvgPool:
    case QOpType::Mean:
    case QOpType::Softmax:
      return round64(checked_mul(s.inC, 4));
  }
  return 0;
}

size_t qpad_row_bytes(const QStepDesc& s) {
  if (s.op == QOpType::Depthwise && s.kernel == 3) return checked_mul(s.inW, s.inC);
  if (s.op == QOpType::Bottleneck) return checked_mul(s.inW, s.expandC);
  return 0;
}

}  // namespace mn
