// Fused inverted-residual block: expand 1x1 (act) -> depthwise 3x3 (act) -> project 1x1 (linear)
// [+ residual]. The expanded tensor never exists whole. Each thread sweeps its output rows in
// bands of up to `bandRows` rows:
//   1. the input rows the band needs are expanded into a ring of `ringRows` expanded rows
//      (slot = row % ringRows). Rows kept from the previous band are not recomputed, and the new
//      ones are expanded with at most two GEMM calls (contiguous runs of slots), so the expand
//      weights are streamed once per band, not once per row;
//   2. the depthwise kernel writes the band's rows into a band buffer;
//   3. one GEMM projects the whole band straight into the output, the residual add fused in its
//      store.
// bandRows is chosen so ring + band buffer stay well within L2 (small late layers take the whole
// image in one band). Without expansion the input rows are used as they are. Threads take chunks
// of output rows dynamically; a chunk that does not continue the thread's previous one costs at
// most 2 extra expanded rows.
#include "ops.h"

namespace mn {

namespace {
// 256 KB per thread for ring + band: as fast as 512 KB (v1, v2 at 1 and 2 threads) while v2 224
// needs 0.49 MB of scratch at 2 threads instead of 0.98 MB. (192 KB cost v1 ~3% on its 14x14x512
// and 7x7x1024 layers: more bands = more passes over their 1-4 MB of weights.)
const size_t kBandBudgetFloats = 64 * 1024;
}

void plan_bottleneck(StepDesc* s) {
  const size_t expRow = s->inW * s->expandC;
  const size_t dwRow = s->outW * s->expandC;
  size_t r = s->outH;
  for (; r > 1; --r) {
    const size_t ring = s->hasExpand ? ((r - 1) * s->stride + 3) * expRow : 0;
    if (ring + r * dwRow <= kBandBudgetFloats) break;
  }
  s->bandRows = r;
  s->ringRows = (r - 1) * s->stride + 3;
}

void run_bottleneck(const ExecContext& ctx, const StepDesc& s, float* arena) {
  const float* in = arena + s.input;
  float* out = arena + s.output;
  const size_t inRow = s.inW * s.inC;
  const size_t expRow = s.inW * s.expandC;
  const size_t dwRow = s.outW * s.expandC;
  const size_t R = s.bandRows, N = s.ringRows;
  const ptrdiff_t inH = (ptrdiff_t)s.inH;
  const GemmFn gemm = ctx.k->gemm;
  // Chunks of rows are handed out dynamically; a thread's consecutive chunks of its own share are
  // adjacent, so the ring survives from one chunk to the next (per-thread state below). A chunk
  // that does not continue the previous one (stolen) starts with an empty ring.
  struct alignas(64) RingState {
    ptrdiff_t haveHi;  // ring holds expanded rows up to here (contiguous with the next band)
    size_t next;       // output row right after the thread's previous chunk
  };
  const size_t kMaxTracked = 64;
  RingState state[kMaxTracked];
  for (size_t t = 0; t < kMaxTracked && t < ctx.pool->size(); ++t) state[t] = {-1, (size_t)-1};
  // Chunks of whole bands, but several per thread, and at least ~28 output pixels each so the
  // weights are not re-streamed for tiny GEMMs.
  size_t grain = grain_for(*ctx.pool, s.outH, 4, (28 + s.outW - 1) / s.outW);
  grain = grain > R ? R : grain;
  parallel_for(*ctx.pool, s.outH, grain, [&](size_t tid, size_t y0, size_t y1) {
    float* ring = ctx.scratch[tid];                              // N * expRow (with expand)
    float* band = ring + (s.hasExpand ? N * expRow : 0);         // R * dwRow
    RingState dummy{-1, (size_t)-1};
    RingState& st = tid < kMaxTracked ? state[tid] : dummy;
    ptrdiff_t haveHi = st.next == y0 ? st.haveHi : -1;
    // Equal bands of at most R rows (14 rows with R = 9: 7 + 7, not 9 + 5).
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
          gemm(cnt * s.inW, s.expandC, s.inC, in + (size_t)row * inRow, s.inC, s.w0.data(),
               ring + slot * expRow, s.expandC, nullptr, 0, s.act0.min, s.act0.max);
          row += (ptrdiff_t)cnt;
          haveHi = row - 1;
        }
      }
      for (size_t j = 0; j < r; ++j) {
        const size_t oy = oy0 + j;
        const float* rows[3];
        for (size_t ky = 0; ky < 3; ++ky) {
          const ptrdiff_t iy = (ptrdiff_t)(oy * s.stride + ky) - (ptrdiff_t)s.padTop;
          if (iy < 0 || iy >= inH)
            rows[ky] = ctx.zero;
          else if (s.hasExpand)
            rows[ky] = ring + ((size_t)iy % N) * expRow;
          else
            rows[ky] = in + (size_t)iy * inRow;
        }
        ctx.k->dw3x3(rows, s.inW, s.stride, s.padLeft, s.outW, s.expandC, s.w1.data(),
                     band + j * dwRow, s.act1.min, s.act1.max);
      }
      const float* res = s.residual ? in + oy0 * inRow : nullptr;
      gemm(r * s.outW, s.outC, s.expandC, band, s.expandC, s.w2.data(),
           out + oy0 * s.outW * s.outC, s.outC, res, s.inC, s.act2.min, s.act2.max);
    }
    st.haveHi = haveHi;
    st.next = y1;
  });
}

}  // namespace mn
