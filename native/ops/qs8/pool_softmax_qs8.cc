// int8 classifier head ops (generic code, single-threaded: a few thousand values):
// AVERAGE_POOL_2D and MEAN over the whole map, and the reference SOFTMAX with gemmlowp's
// fixed-point exp and reciprocal (src/engine/int8/fixedpoint.ts states the same functions).
#include <stdexcept>
#include <vector>

#include "ops_qs8.h"
#include "requant.h"

namespace mn {

namespace {

inline int32_t add_wrap(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
inline int32_t sub_wrap(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

// Σ over the h*w pixels of each channel, into sums[C].
void channel_sums(const int8_t* in, size_t pixels, size_t C, int32_t* sums) {
  for (size_t c = 0; c < C; ++c) sums[c] = 0;
  for (size_t p = 0; p < pixels; ++p) {
    const int8_t* px = in + p * C;
    for (size_t c = 0; c < C; ++c) sums[c] += px[c];
  }
}

// gemmlowp SaturatingRoundingMultiplyByPOT<exponent>.
int32_t sat_mul_pot(int32_t x, int exponent) {
  if (exponent == 0) return x;
  if (exponent < 0) return rdbpot(x, -exponent);
  const int32_t threshold = (int32_t)((uint32_t(1) << (31 - exponent)) - 1u);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return shl_wrap(x, exponent);
}

int32_t rescale(int32_t raw, int srcBits, int dstBits) { return sat_mul_pot(raw, srcBits - dstBits); }

int32_t rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + b;
  return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

// exp(a) for a Q0.31 a in [-1/4, 0): Taylor expansion around -1/8.
int32_t exp_quarter(int32_t a) {
  const int32_t constantTerm = 1895147668;  // exp(-1/8)
  const int32_t oneThird = 715827883;
  const int32_t x = add_wrap(a, 1 << 28);
  const int32_t x2 = srdhm(x, x);
  const int32_t x3 = srdhm(x2, x);
  const int32_t x4 = srdhm(x2, x2);
  const int32_t x4Over4 = rdbpot(x4, 2);
  const int32_t poly = rdbpot(add_wrap(srdhm(add_wrap(x4Over4, x3), oneThird), x2), 1);
  return add_wrap(constantTerm, srdhm(constantTerm, add_wrap(x, poly)));
}

// exp(a) for a FixedPoint<int32, 5> a <= 0, as Q0.31.
int32_t exp_negative_q5(int32_t a) {
  const int integerBits = 5, fractionalBits = 26;
  const int32_t oneQuarter = 1 << (fractionalBits - 2);
  const int32_t mask = oneQuarter - 1;
  const int32_t aModQuarterMinusOneQuarter = sub_wrap(a & mask, oneQuarter);
  int32_t result = exp_quarter(rescale(aModQuarterMinusOneQuarter, integerBits, 0));
  const int32_t remainder = sub_wrap(aModQuarterMinusOneQuarter, a);
  static const int32_t kBarrel[][2] = {{-2, 1672461947}, {-1, 1302514674}, {0, 790015084},
                                       {1, 290630308},   {2, 39332535},    {3, 720401},
                                       {4, 242}};
  for (const auto& step : kBarrel) {
    const int bit = fractionalBits + step[0];
    if ((remainder & (int32_t)(uint32_t(1) << bit)) != 0) result = srdhm(result, step[1]);
  }
  return a == 0 ? INT32_MAX : result;
}

// 1 / (1 + a) for a Q0.31 a in [0, 1): Newton-Raphson, three iterations.
int32_t one_over_one_plus_x(int32_t a) {
  const int32_t halfDenominator = rounding_half_sum(a, INT32_MAX);
  const int32_t c48Over17 = 1515870810, cNeg32Over17 = -1010580540, oneQ2 = 1 << 29;
  int32_t x = add_wrap(c48Over17, srdhm(halfDenominator, cNeg32Over17));
  for (int i = 0; i < 3; ++i) {
    const int32_t oneMinus = sub_wrap(oneQ2, srdhm(halfDenominator, x));
    x = add_wrap(x, rescale(srdhm(x, oneMinus), 4, 2));
  }
  return rescale(x, 1, 0);
}

}  // namespace

void qrun_avgpool(const QExecContext& ctx, const QStepDesc& s, int8_t* arena) {
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  const size_t C = s.inC, n = s.inH * s.inW;
  int32_t* sums = reinterpret_cast<int32_t*>(ctx.scratch[0]);
  channel_sums(in, n, C, sums);
  const int64_t N = (int64_t)n, half = N / 2;
  for (size_t c = 0; c < C; ++c) {
    const int64_t sum = sums[c];
    // TFLite rounds the raw sum: uint8 (acc + n/2) / n on the file's values (storage + 128),
    // int8 halves away from zero.
    const int64_t v = s.avgUint8 ? (sum + 128 * N + half) / N - 128
                                 : (sum > 0 ? (sum + half) / N : (sum - half) / N);
    out[c] = (int8_t)(v < s.out.lo ? s.out.lo : v > s.out.hi ? s.out.hi : v);
  }
}

void qrun_mean(const QExecContext& ctx, const QStepDesc& s, int8_t* arena) {
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  const size_t C = s.inC, n = s.inH * s.inW;
  int32_t* sums = reinterpret_cast<int32_t*>(ctx.scratch[0]);
  channel_sums(in, n, C, sums);
  if (s.meanFp32) {
    // xnnpack.ts xnnMeanValue: on the file's values (storage + offset), float32 throughout, the
    // product and the sum rounded apart (this file is built with -ffp-contract=off); clamped to
    // the file type's range in float, then rounded to nearest-even.
    const NearestRounding nearest;
    const float lo = (float)(-128 + s.meanOffset), hi = (float)(127 + s.meanOffset);
    for (size_t c = 0; c < C; ++c) {
      const int64_t fileSum = (int64_t)sums[c] + (int64_t)s.meanOffset * (int64_t)n;
      const float product = (float)fileSum * s.meanScale;
      const float v = product + s.meanZero;
      out[c] = (int8_t)(round_half_even(v < lo ? lo : v > hi ? hi : v) - s.meanOffset);
    }
    return;
  }
  for (size_t c = 0; c < C; ++c) {
    const int32_t shifted = sub_wrap(sums[c], (int32_t)((uint32_t)s.meanInZero * (uint32_t)n));
    out[c] = clamp_out(mbqm(shifted, s.meanMult, s.meanShift), s.out);
  }
}

void qrun_softmax(const QExecContext&, const QStepDesc& s, int8_t* arena) {
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  const size_t n = s.inC;
  int32_t max = -128;
  for (size_t i = 0; i < n; ++i) max = in[i] > max ? in[i] : max;
  // The inputs are int8: max - in[i] takes at most 256 values, so the fixed-point exp (and the
  // output) is computed once per value, not per element; the exps' sum (wrapping int32, as the
  // reference's adds) is Σ count * rescaled exp.
  uint32_t count[256] = {};
  for (size_t i = 0; i < n; ++i) ++count[max - in[i]];
  int32_t exps[256];  // Q0.31 by max - in[i]; 0 where the reference skips the element
  int32_t sum = 0;    // FixedPoint<int32, 12>
  for (int32_t d = 0; d < 256; ++d) {
    exps[d] = 0;
    if (count[d] == 0 || -d < s.softmaxDiffMin) continue;
    exps[d] = exp_negative_q5(srdhm(shl_wrap(-d, s.softmaxLeftShift), s.softmaxMult));  // of Q5.26
    sum = (int32_t)((uint32_t)sum + count[d] * (uint32_t)rescale(exps[d], 0, 12));
  }
  // GetReciprocal(sum, 12).
  int headroomPlusOne = 0;  // count leading zeros (32 for 0)
  while (headroomPlusOne < 32 && ((uint32_t)sum & (0x80000000u >> headroomPlusOne)) == 0) ++headroomPlusOne;
  const int numBitsOverUnit = 12 - headroomPlusOne;
  const int32_t shiftedSumMinusOne = (int32_t)(((uint32_t)sum << (headroomPlusOne & 31)) ^ 0x80000000u);
  const int32_t reciprocal = one_over_one_plus_x(shiftedSumMinusOne);
  const int exponent = numBitsOverUnit + 31 - 8;
  if (exponent < 0 || exponent > 31)
    throw std::runtime_error("softmax: the exps sum to 512 or more (TFLite aborts there)");
  int8_t outs[256];
  for (int32_t d = 0; d < 256; ++d) {
    if (count[d] == 0) continue;
    int32_t v = -128;
    if (-d >= s.softmaxDiffMin) v = rdbpot(srdhm(reciprocal, exps[d]), exponent) - 128;
    outs[d] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
  }
  for (size_t i = 0; i < n; ++i) out[i] = outs[max - in[i]];
}

}  // namespace mn
