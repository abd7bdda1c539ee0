// Fused int8 inverted-residual block: expand 1x1 -> depthwise 3x3 -> project 1x1 [-> ADD with the
// block input], each intermediate requantized to int8 exactly as TFLite materialises it, but the
// expanded tensor never whole. As the fp32 bottleneck (../bottleneck.cc), each thread sweeps its
// output rows in bands of up to `bandRows` rows:
//   1. the input rows a band needs and the thread has not expanded yet go through one GEMM call
//      (two when they wrap) into a staging ring of `ringRows` expanded int8 rows (slot = row %
//      ringRows);
//   2. output row by output row, the depthwise rows it reads are built (qdw_build: the layout the
//      depthwise kernel reads, padded with the input zero point; up to four times the bytes of a
//      row) into a ring of three built rows, each input row once, and the depthwise kernel writes
//      the output row into a band buffer (rows outside the image read a built row of pad values);
//      without expansion the input rows are built directly;
//   3. one GEMM projects the band straight into the output; the residual ADD then rewrites those
//      rows in place (they are still in cache).
// So the GEMMs see a band's rows at once while only three built rows exist. A 3x3 depthwise step
// runs here too: no expansion, and step 2 writes the output tensor.
// Threads take chunks of output rows dynamically; a chunk that does not continue the thread's
// previous one starts with empty rings.
// Wide mode (threads > 1, outputs of at most 7x7 pixels): row chunks of so few rows are uneven
// (7 rows: 4 + 3) and each re-expands the rows at its edges, so there the whole expanded image goes
// into thread 0's scratch, expanded by output-channel panels, then the depthwise by rows, then the
// projection (and residual ADD) by panels: three parallel jobs of even work. (14x14 layers split
// evenly by rows; wide they measured 3-10 % slower at 2 threads.)
#include "ops_qs8.h"

namespace mn {

namespace {

// Staging + band per thread (int8 rows); the three built rows and the pad row come on top.
const size_t kBandBudgetBytes = 64 * 1024;
const size_t kBuiltRows = 3;
const size_t kWideMaxPixels = 49;

bool wide_mode(const QStepDesc& s, size_t threads) {
  return threads > 1 && s.hasExpand && s.hasProject && checked_mul(s.outH, s.outW) <= kWideMaxPixels;
}

// Wide mode, every thread: the expanded image and the depthwise output (used in thread 0's scratch
// only), then the thread's own rowcorr, built rows and pad row.
struct WideLayout {
  size_t expanded, dw, rowcorr, built, total;
};

WideLayout wide_layout(const QKernels& kt, const QStepDesc& s) {
  WideLayout l;
  l.expanded = round64(checked_mul({s.inH, s.inW, s.expandC}));
  l.dw = round64(checked_mul({s.outH, s.outW, s.expandC}));
  l.rowcorr = round64(checked_mul(std::max(checked_mul(s.inH, s.inW), checked_mul(s.outH, s.outW)), 4));
  l.built = round64(qdw_built_bytes(kt, s));
  l.total = checked_add(checked_add(l.expanded, l.dw), checked_add(l.rowcorr, checked_mul(kBuiltRows + 1, l.built)));
  return l;
}

struct BandLayout {
  size_t built, staging, ring, pad, band, rowcorr, total;
};

BandLayout band_layout(const QKernels& kt, const QStepDesc& s) {
  BandLayout l;
  l.built = round64(qdw_built_bytes(kt, s));
  l.staging = s.hasExpand ? round64(checked_mul({s.ringRows, s.inW, s.expandC})) : 0;
  l.ring = checked_mul(kBuiltRows, l.built);
  l.pad = l.built;
  l.band = s.hasProject ? round64(checked_mul({s.bandRows, s.outW, s.expandC})) : 0;
  const size_t rows = std::max(s.hasExpand ? checked_mul(s.ringRows, s.inW) : 0,
                               s.hasProject ? checked_mul(s.bandRows, s.outW) : 0);
  l.rowcorr = round64(checked_mul(rows, 4));
  l.total = checked_add(checked_add(checked_add(l.staging, l.ring), checked_add(l.pad, l.band)), l.rowcorr);
  return l;
}

}  // namespace

void qplan_bottleneck(const QKernels&, QStepDesc* s) {
  const size_t expRow = checked_mul(s->inW, s->expandC);
  const size_t dwRow = checked_mul(s->outW, s->expandC);
  // Without a projection the depthwise writes the output: one row at a time is enough.
  size_t r = !s->hasProject ? 1 : s->outH < kBandBudgetBytes ? s->outH : kBandBudgetBytes;
  for (; r > 1; --r) {
    const size_t rows = checked_add(checked_mul(r - 1, s->stride), 3);
    if (checked_add(s->hasExpand ? checked_mul(rows, expRow) : 0, checked_mul(r, dwRow)) <= kBandBudgetBytes) break;
  }
  s->bandRows = r;
  s->ringRows = checked_add(checked_mul(r - 1, s->stride), 3);
}

size_t qbottleneck_scratch_bytes(const QKernels& kt, const QStepDesc& s, size_t threads) {
  const size_t band = band_layout(kt, s).total;
  return wide_mode(s, threads) ? std::max(band, wide_layout(kt, s).total) : band;
}

namespace {

// The built depthwise rows of one thread: a ring of kBuiltRows (slot = row % kBuiltRows) holding
// input rows up to `hi`, and the pad row once built.
struct BuiltRows {
  int8_t* ring = nullptr;
  int8_t* pad = nullptr;
  size_t bytes = 0;  // of one built row
  ptrdiff_t hi = -1;
  bool padBuilt = false;
};

// Depthwise output row oy into dst: builds the input rows it reads that are not built yet (src:
// srcRow bytes apart), then runs the kernel.
void dw_row(const QKernels& kt, const QStepDesc& s, const int8_t* src, size_t srcRow, size_t srcRows,
            BuiltRows& b, size_t oy, int8_t* dst) {
  const ptrdiff_t inH = (ptrdiff_t)s.inH;
  const ptrdiff_t top = (ptrdiff_t)(oy * s.stride) - (ptrdiff_t)s.padTop;
  const ptrdiff_t last = top + 2 < inH - 1 ? top + 2 : inH - 1;
  if ((top < 0 || top + 2 >= inH) && !b.padBuilt) {
    qdw_build(kt, s, nullptr, b.pad);
    b.padBuilt = true;
  }
  for (ptrdiff_t iy = top > b.hi + 1 ? top : b.hi + 1; iy <= last; ++iy) {
    if (iy < 0) continue;
    qdw_build(kt, s, src + ((size_t)iy % srcRows) * srcRow, b.ring + ((size_t)iy % kBuiltRows) * b.bytes);
    b.hi = iy;
  }
  const int8_t* rows[3];
  for (size_t ky = 0; ky < 3; ++ky) {
    const ptrdiff_t iy = top + (ptrdiff_t)ky;
    rows[ky] = iy < 0 || iy >= inH ? b.pad : b.ring + ((size_t)iy % kBuiltRows) * b.bytes;
  }
  s.dw.fn(rows, s.stride, s.outW, s.expandC, s.dw.w, s.dw.wStride, dst, &s.dw.out);
}

// C[m x g.n] = the GEMM of part g over a (m rows of k), split over the pool by output-channel
// panels, then [C += residual (rows of g.n) by the plan's ADD]. Each thread computes the rowcorr of all
// m rows (at most kWideMaxPixels) at rcOffset of its scratch.
void gemm_by_panels(const QExecContext& ctx, const QGemmPart& g, size_t m, size_t k, const int8_t* a, int8_t* c,
                    size_t rcOffset, const int8_t* residual, const QResidualAdd* add) {
  const QKernels& kt = *ctx.k;
  const size_t nr = kt.gemm_nr, panels = qgemm_panels(kt, g.n), T = ctx.pool->size();
  parallel_for(*ctx.pool, panels, (panels + T - 1) / T, [&](size_t tid, size_t p0, size_t p1) {
    int32_t* rc = reinterpret_cast<int32_t*>(ctx.scratch[tid] + rcOffset);
    if (g.rowcorr) kt.rowsum(m, k, a, k, g.rowcorrMult, rc);
    const size_t n0 = p0 * nr, n1 = p1 * nr < g.n ? p1 * nr : g.n;
    g.fn(m, n1 - n0, k, a, k, g.w + p0 * g.wStride, g.wStride, g.rowcorr ? rc : nullptr, c + n0, g.n,
            &g.out);
    if (residual == nullptr) return;
    for (size_t i = 0; i < m; ++i) (*add)(n1 - n0, c + i * g.n + n0, residual + i * g.n + n0, c + i * g.n + n0);
  });
}

// Per-thread state carried across the chunks of one job (a chunk that does not continue the
// thread's previous one starts with empty rings).
struct alignas(64) RingState {
  ptrdiff_t expandedHi = -1;  // staging holds expanded rows up to here (contiguous with the next band)
  BuiltRows built;
  size_t next = (size_t)-1;  // output row right after the thread's previous chunk
};
const size_t kMaxTracked = 64;

void run_wide(const QExecContext& ctx, const QStepDesc& s, int8_t* arena) {
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  const QKernels& kt = *ctx.k;
  const WideLayout lay = wide_layout(kt, s);
  int8_t* expanded = reinterpret_cast<int8_t*>(ctx.scratch[0]);
  int8_t* dw = expanded + lay.expanded;
  const size_t own = lay.expanded + lay.dw;  // the thread's own part of its scratch
  const size_t expRow = s.inW * s.expandC, dwRow = s.outW * s.expandC;
  gemm_by_panels(ctx, s.gemm0, s.inH * s.inW, s.inC, in, expanded, own, nullptr, nullptr);
  RingState state[kMaxTracked];
  parallel_for(*ctx.pool, s.outH, 1, [&](size_t tid, size_t y0, size_t y1) {
    RingState dummy;
    RingState& st = tid < kMaxTracked ? state[tid] : dummy;
    if (st.next != y0) {
      int8_t* ring = reinterpret_cast<int8_t*>(ctx.scratch[tid] + own + lay.rowcorr);
      st.built = BuiltRows{ring, ring + kBuiltRows * lay.built, lay.built, -1, false};
    }
    for (size_t oy = y0; oy < y1; ++oy) dw_row(kt, s, expanded, expRow, s.inH, st.built, oy, dw + oy * dwRow);
    st.next = y1;
  });
  gemm_by_panels(ctx, s.gemm1, s.outH * s.outW, s.expandC, dw, out, own, s.residual ? in : nullptr, &s.add);
}

}  // namespace

void qrun_bottleneck(const QExecContext& ctx, const QStepDesc& s, int8_t* arena) {
  if (wide_mode(s, ctx.pool->size())) {
    run_wide(ctx, s, arena);
    return;
  }
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  const QKernels& kt = *ctx.k;
  const BandLayout lay = band_layout(kt, s);
  const size_t inRow = s.inW * s.inC, expRow = s.inW * s.expandC, dwRow = s.outW * s.expandC;
  const size_t R = s.bandRows, N = s.ringRows;
  const ptrdiff_t inH = (ptrdiff_t)s.inH;
  const QGemmPart& ex = s.gemm0;
  const QGemmPart& pr = s.gemm1;
  RingState state[kMaxTracked];
  size_t grain = grain_for(*ctx.pool, s.outH, 4, (28 + s.outW - 1) / s.outW);
  grain = grain > R ? R : grain;
  parallel_for(*ctx.pool, s.outH, grain, [&](size_t tid, size_t y0, size_t y1) {
    uint8_t* base = ctx.scratch[tid];
    int8_t* staging = reinterpret_cast<int8_t*>(base);
    int8_t* built = reinterpret_cast<int8_t*>(base + lay.staging);
    int8_t* band = reinterpret_cast<int8_t*>(base + lay.staging + lay.ring + lay.pad);
    int32_t* rc = reinterpret_cast<int32_t*>(base + lay.staging + lay.ring + lay.pad + lay.band);
    RingState dummy;
    RingState& st = tid < kMaxTracked ? state[tid] : dummy;
    if (st.next != y0) {
      st.expandedHi = -1;
      st.built = BuiltRows{built, built + lay.ring, lay.built, -1, false};
    }
    const size_t RB = equal_band_rows(y0, y1, R);
    for (size_t oy0 = y0; oy0 < y1; oy0 += RB) {
      const size_t r = y1 - oy0 < RB ? y1 - oy0 : RB;
      if (s.hasExpand) {
        ptrdiff_t lo = (ptrdiff_t)(oy0 * s.stride) - (ptrdiff_t)s.padTop;
        ptrdiff_t hi = (ptrdiff_t)((oy0 + r - 1) * s.stride + 2) - (ptrdiff_t)s.padTop;
        lo = lo < 0 ? 0 : lo;
        hi = hi > inH - 1 ? inH - 1 : hi;
        ptrdiff_t row = lo > st.expandedHi + 1 ? lo : st.expandedHi + 1;
        while (row <= hi) {
          const size_t slot = (size_t)row % N;
          size_t cnt = (size_t)(hi - row + 1);
          if (cnt > N - slot) cnt = N - slot;
          const int8_t* src = in + (size_t)row * inRow;
          const size_t m = cnt * s.inW;
          if (ex.rowcorr) kt.rowsum(m, s.inC, src, s.inC, ex.rowcorrMult, rc);
          ex.fn(m, s.expandC, s.inC, src, s.inC, ex.w, ex.wStride, ex.rowcorr ? rc : nullptr,
                  staging + slot * expRow, s.expandC, &ex.out);
          row += (ptrdiff_t)cnt;
          st.expandedHi = row - 1;
        }
      }
      int8_t* dwOut = s.hasProject ? band : out + oy0 * dwRow;
      const int8_t* src = s.hasExpand ? staging : in;
      const size_t srcRow = s.hasExpand ? expRow : inRow, srcRows = s.hasExpand ? N : s.inH;
      for (size_t j = 0; j < r; ++j) dw_row(kt, s, src, srcRow, srcRows, st.built, oy0 + j, dwOut + j * dwRow);
      if (!s.hasProject) continue;
      const size_t m = r * s.outW;
      int8_t* dst = out + oy0 * s.outW * s.outC;
      if (pr.rowcorr) kt.rowsum(m, s.expandC, band, s.expandC, pr.rowcorrMult, rc);
      pr.fn(m, s.outC, s.expandC, band, s.expandC, pr.w, pr.wStride, pr.rowcorr ? rc : nullptr,
              dst, s.outC, &pr.out);
      if (s.residual) s.add(m * s.outC, dst, in + oy0 * inRow, dst);
    }
    st.next = y1;
  });
}

}  // namespace mn
