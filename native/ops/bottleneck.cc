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
// Wide mode (threads > 1) for outputs of at most 14x14 pixels whose weights do not fit in half a
// 1 MB L2 (v1 from 28x28x256 /2 on, v2's 7x7 layers): row chunks there re-stream them per chunk.
// Its whole-image buffer borrows the threads' band scratch, so it is used only where it fits there:
// the activation memory stays that of the row bands.
const size_t kWideMaxPixels = 196;
const size_t kWideMinWeights = 128 * 1024;
}

void plan_bottleneck(StepDesc* s, size_t threads) {
  // Checked arithmetic: a wrapped-around size here would pick wide mode with too small a buffer.
  const size_t weights = checked_add(s->hasExpand ? checked_mul(s->inC, s->expandC) : 0,
                                     checked_mul(s->expandC, s->outC));
  const size_t wideFloats =
      checked_add(s->hasExpand ? checked_mul({s->inH, s->inW, s->expandC}) : 0,
                  checked_add(checked_mul({s->outH, s->outW, s->expandC}), kAliasPadFloats));
  s->wide = threads > 1 && checked_mul(s->outH, s->outW) <= kWideMaxPixels &&
            weights >= kWideMinWeights && wideFloats <= checked_mul(threads, kBandBudgetFloats);
  const size_t expRow = checked_mul(s->inW, s->expandC);
  const size_t dwRow = checked_mul(s->outW, s->expandC);
  // (r * dwRow <= the budget needs r <= kBandBudgetFloats: no need to try more rows than that)
  size_t r = s->outH < kBandBudgetFloats ? s->outH : kBandBudgetFloats;
  for (; r > 1; --r) {
    const size_t ring =
        s->hasExpand ? checked_mul(checked_add(checked_mul(r - 1, s->stride), 3), expRow) : 0;
    if (checked_add(checked_add(ring, checked_mul(r, dwRow)), kAliasPadFloats) <= kBandBudgetFloats)
      break;
  }
  s->bandRows = r;
  s->ringRows = checked_add(checked_mul(r - 1, s->stride), 3);
}

namespace {

// C[M x N] = gemm(A, W) split over the pool by output-channel panels; when there are too few
// panels for an even split, also by pixel blocks (whole microkernel tiles).
void gemm_by_panels(const ExecContext& ctx, size_t M, size_t N, size_t K, const float* a,
                    size_t a_stride, const float* w, float* c, size_t c_stride, const float* res,
                    size_t res_stride, Act act) {
  const size_t T = ctx.pool->size(), nr = ctx.k->gemm_nr, mr = ctx.k->gemm_mr;
  const size_t panels = (N + nr - 1) / nr, panel_floats = nr * (K + 1);
  const size_t tiles = (M + mr - 1) / mr;
  size_t mparts = 1;
  while (panels * mparts % T != 0 && panels * mparts < 4 * T && mparts * 2 <= tiles) ++mparts;
  const size_t units = panels * mparts;
  const GemmFn gemm = ctx.k->gemm;
  parallel_for(*ctx.pool, units, 1, [&](size_t, size_t u0, size_t u1) {
    for (size_t u = u0; u < u1;) {
      // Consecutive units of one pixel part with adjacent panels: one GEMM call.
      const size_t part = u / panels, p0 = u % panels;
      size_t p1 = p0 + 1;
      while (p1 < panels && u + (p1 - p0) < u1) ++p1;
      const size_t m0 = tiles * part / mparts * mr, m1r = tiles * (part + 1) / mparts * mr;
      const size_t m1 = m1r < M ? m1r : M;
      const size_t n0 = p0 * nr, n1 = p1 * nr < N ? p1 * nr : N;
      gemm(m1 - m0, n1 - n0, K, a + m0 * a_stride, a_stride, w + p0 * panel_floats,
           c + m0 * c_stride + n0, c_stride, res != nullptr ? res + m0 * res_stride + n0 : nullptr,
           res_stride, act.min, act.max);
      u += p1 - p0;
    }
  });
}

void run_bottleneck_wide(const ExecContext& ctx, const StepDesc& s, float* arena) {
  const float* in = arena + s.input;
  float* out = arena + s.output;
  const size_t inRow = s.inW * s.inC, expRow = s.inW * s.expandC, dwRow = s.outW * s.expandC;
  float* exp = ctx.shared;                                       // inH * expRow (with expand)
  float* dw = exp + (s.hasExpand ? s.inH * expRow : 0);          // outH * dwRow (+ pad)
  dw += alias_pad(dw, s.hasExpand ? exp : in, s.expandC);
  if (s.hasExpand)
    gemm_by_panels(ctx, s.inH * s.inW, s.expandC, s.inC, in, s.inC, s.w0.data(), exp, s.expandC,
                   nullptr, 0, s.act0);
  const float* src = s.hasExpand ? exp : in;
  const size_t srcRow = s.hasExpand ? expRow : inRow;
  const ptrdiff_t inH = (ptrdiff_t)s.inH;
  parallel_for(*ctx.pool, s.outH, 1, [&](size_t, size_t y0, size_t y1) {
    for (size_t oy = y0; oy < y1; ++oy) {
      const float* rows[3];
      for (size_t ky = 0; ky < 3; ++ky) {
        const ptrdiff_t iy = (ptrdiff_t)(oy * s.stride + ky) - (ptrdiff_t)s.padTop;
        rows[ky] = iy < 0 || iy >= inH ? ctx.zero : src + (size_t)iy * srcRow;
      }
      ctx.k->dw3x3(rows, s.inW, s.stride, s.padLeft, s.outW, s.expandC, s.w1.data(),
                   dw + oy * dwRow, s.act1.min, s.act1.max);
    }
  });
  gemm_by_panels(ctx, s.outH * s.outW, s.outC, s.expandC, dw, s.expandC, s.w2.data(), out, s.outC,
                 s.residual ? in : nullptr, s.inC, s.act2);
}

}  // namespace

void run_bottleneck(const ExecContext& ctx, const StepDesc& s, float* arena) {
  if (s.wide) {
    run_bottleneck_wide(ctx, s, arena);
    return;
  }
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
    float* band = ring + (s.hasExpand ? N * expRow : 0);         // (pad +) R * dwRow
    band += alias_pad(band, s.hasExpand ? ring : in, s.expandC);
    RingState dummy{-1, (size_t)-1};
    RingState& st = tid < kMaxTracked ? state[tid] : dummy;
    ptrdiff_t haveHi = st.next == y0 ? st.haveHi : -1;
    const size_t RB = equal_band_rows(y0, y1, R);
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
