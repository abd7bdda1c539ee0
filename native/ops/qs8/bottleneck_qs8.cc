// Fused int8 inverted-residual block: expand 1x1 -> depthwise 3x3 -> project 1x1 [-> ADD with the
// block input], each intermediate requantized to int8 exactly as TFLite materialises it, but the
// expanded tensor never whole. As the fp32 bottleneck (../bottleneck.cc), each thread sweeps its
// output rows in bands of up to `bandRows` rows:
//   1. the input rows a band needs are expanded into a ring of `ringRows` expanded rows
//      (slot = row % ringRows); rows kept from the previous band are not recomputed, new ones go
//      through at most two GEMM calls (contiguous runs of slots);
//   2. the depthwise row kernel writes the band's rows into a band buffer (rows outside the image
//      read the step's pad row, border pixels a padded patch: qdw_row);
//   3. one GEMM projects the band straight into the output; the residual ADD then rewrites those
//      rows in place (they are still in cache).
// Threads take chunks of output rows dynamically; a chunk that does not continue the thread's
// previous one starts with an empty ring.
#include "ops_qs8.h"

namespace mn {

namespace {

// Ring + band per thread: both in L2 with room for the weights.
const size_t kBandBudgetBytes = 64 * 1024;

struct BandLayout {
  size_t ring, band, rowcorr, patch, total;
};

BandLayout band_layout(const QStepDesc& s) {
  BandLayout l;
  l.ring = s.hasExpand ? round64(checked_mul({s.ringRows, s.inW, s.expandC})) : 0;
  l.band = round64(checked_mul({s.bandRows, s.outW, s.expandC}));
  const size_t rows = std::max(s.hasExpand ? checked_mul(s.ringRows, s.inW) : 0, checked_mul(s.bandRows, s.outW));
  l.rowcorr = round64(checked_mul(rows, 4));
  l.patch = round64(checked_add(checked_mul(9, s.expandC), 64));
  l.total = checked_add(checked_add(l.ring, l.band), checked_add(l.rowcorr, l.patch));
  return l;
}

}  // namespace

void qplan_bottleneck(QStepDesc* s) {
  const size_t expRow = checked_mul(s->inW, s->expandC);
  const size_t dwRow = checked_mul(s->outW, s->expandC);
  size_t r = s->outH < kBandBudgetBytes ? s->outH : kBandBudgetBytes;
  for (; r > 1; --r) {
    const size_t ring = s->hasExpand ? checked_mul(checked_add(checked_mul(r - 1, s->stride), 3), expRow) : 0;
    if (checked_add(ring, checked_mul(r, dwRow)) <= kBandBudgetBytes) break;
  }
  s->bandRows = r;
  s->ringRows = checked_add(checked_mul(r - 1, s->stride), 3);
}

size_t qbottleneck_scratch_bytes(const QStepDesc& s) { return band_layout(s).total; }

void qrun_bottleneck(const QExecContext& ctx, const QStepDesc& s, int8_t* arena) {
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  const QKernels& kt = *ctx.k;
  const BandLayout lay = band_layout(s);
  const size_t inRow = s.inW * s.inC, expRow = s.inW * s.expandC, dwRow = s.outW * s.expandC;
  const size_t R = s.bandRows, N = s.ringRows;
  const ptrdiff_t inH = (ptrdiff_t)s.inH;
  const QGemmPart& ex = s.gemm0;
  const QGemmPart& pr = s.gemm1;
  struct alignas(64) RingState {
    ptrdiff_t haveHi;  // the ring holds expanded rows up to here (contiguous with the next band)
    size_t next;       // output row right after the thread's previous chunk
  };
  const size_t kMaxTracked = 64;
  RingState state[kMaxTracked];
  for (size_t t = 0; t < kMaxTracked && t < ctx.pool->size(); ++t) state[t] = {-1, (size_t)-1};
  size_t grain = grain_for(*ctx.pool, s.outH, 4, (28 + s.outW - 1) / s.outW);
  grain = grain > R ? R : grain;
  parallel_for(*ctx.pool, s.outH, grain, [&](size_t tid, size_t y0, size_t y1) {
    uint8_t* base = ctx.scratch[tid];
    int8_t* ring = reinterpret_cast<int8_t*>(base);
    int8_t* band = reinterpret_cast<int8_t*>(base + lay.ring);
    int32_t* rc = reinterpret_cast<int32_t*>(base + lay.ring + lay.band);
    int8_t* patch = reinterpret_cast<int8_t*>(base + lay.ring + lay.band + lay.rowcorr);
    RingState dummy{-1, (size_t)-1};
    RingState& st = tid < kMaxTracked ? state[tid] : dummy;
    ptrdiff_t haveHi = st.next == y0 ? st.haveHi : -1;
    const size_t nBands = (y1 - y0 + R - 1) / R;
    const size_t RB = (y1 - y0 + nBands - 1) / nBands;
    for (size_t oy0 = y0; oy0 < y1; oy0 += RB) {
      const size_t r = y1 - oy0 < RB ? y1 - oy0 : RB;
      if (s.hasExpand) {
        ptrdiff_t lo = (ptrdiff_t)(oy0 * s.stride) - (ptrdiff_t)s.padTop;
        ptrdiff_t hi = (ptrdiff_t)((oy0 + r - 1) * s.stride + 2) - (ptrdiff_t)s.padTop;
        lo = lo < 0 ? 0 : lo;
        hi = hi > inH - 1 ? inH - 1 : hi;
        ptrdiff_t row = lo > haveHi + 1 ? lo : haveHi + 1;
        while (row <= hi) {
          const size_t slot = (size_t)row % N;
          size_t cnt = (size_t)(hi - row + 1);
          if (cnt > N - slot) cnt = N - slot;
          const int8_t* a = in + (size_t)row * inRow;
          const size_t m = cnt * s.inW;
          if (ex.rowcorrMult != 0) kt.rowsum(m, s.inC, a, s.inC, ex.rowcorrMult, rc);
          kt.gemm(m, s.expandC, s.inC, a, s.inC, ex.w, ex.wStride, ex.rowcorrMult != 0 ? rc : nullptr,
                  ring + slot * expRow, s.expandC, &ex.out);
          row += (ptrdiff_t)cnt;
          haveHi = row - 1;
        }
      }
      for (size_t j = 0; j < r; ++j) {
        const size_t oy = oy0 + j;
        const int8_t* rows[3];
        for (size_t ky = 0; ky < 3; ++ky) {
          const ptrdiff_t iy = (ptrdiff_t)(oy * s.stride + ky) - (ptrdiff_t)s.padTop;
          if (iy < 0 || iy >= inH)
            rows[ky] = reinterpret_cast<const int8_t*>(s.dw.padRow);
          else if (s.hasExpand)
            rows[ky] = ring + ((size_t)iy % N) * expRow;
          else
            rows[ky] = in + (size_t)iy * inRow;
        }
        qdw_row(kt, s.dw, rows, s.inW, s.stride, s.padLeft, s.outW, band + j * dwRow, patch);
      }
      const size_t m = r * s.outW;
      int8_t* dst = out + oy0 * s.outW * s.outC;
      if (pr.rowcorrMult != 0) kt.rowsum(m, s.expandC, band, s.expandC, pr.rowcorrMult, rc);
      kt.gemm(m, s.outC, s.expandC, band, s.expandC, pr.w, pr.wStride, pr.rowcorrMult != 0 ? rc : nullptr,
              dst, s.outC, &pr.out);
      if (s.residual) kt.add(m * s.outC, dst, in + oy0 * inRow, dst, &s.add);
    }
    st.haveHi = haveHi;
    st.next = y1;
  });
}

}  // namespace mn
