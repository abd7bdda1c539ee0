// The per-thread scratch the int8 operators need. Generic code, checked arithmetic.
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
      return s.kernel == 3 ? qbottleneck_scratch_bytes(kt, s, threads) : 0;
    case QOpType::Bottleneck:
      return qbottleneck_scratch_bytes(kt, s, threads);
    case QOpType::AvgPool:
    case QOpType::Mean:
      return round64(checked_mul(s.inC, 4));
    case QOpType::Softmax:
      return 0;
  }
  return 0;
}

}  // namespace mn
