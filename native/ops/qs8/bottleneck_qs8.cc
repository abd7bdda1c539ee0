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
#include "ops_qs8.h"

namespace mn {

namespace {

// Staging + band per thread (int8 rows); the three built rows and the pad row come on top.
const size_t kBandBudgetBytes = 64 * 1024;
const size_t kBuiltRows = 3;

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

size_t qbottleneck_scratch_bytes(const QKernels& kt, const QStepDesc& s) { return band_layout(kt, s).total; }

void qrun_bottleneck(const QExecContext& ctx, const QStepDesc& s, int8_t* arena) {
  const int8_t* in = arena + s.input;
  int8_t* out = arena + s.output;
  const QKernels& kt = *ctx.k;
  const BandLayout lay = band_layout(kt, s);
  const size_t inRow = s.inW * s.inC, expRow = s.inW * s.expandC, dwRow = s.outW * s.expandC;
  const size_t R = s.bandRows, N = s.ringRows;
  const ptrdiff_t inH = (ptrdiff_t)s.inH;
  const QGemmPart& ex = s.gemm0;
  const QGemmPart& pr = s.gemm1;
  struct alignas(64) RingState {
    ptrdiff_t expandedHi;  // staging holds expanded rows up to here (contiguous with the next band)
    ptrdiff_t builtHi;     // the built ring holds rows up to here
    size_t next;           // output row right after the thread's previous chunk
    bool padBuilt;         // the pad row is built
  };
  const size_t kMaxTracked = 64;
  RingState state[kMaxTracked];
  for (size_t t = 0; t < kMaxTracked && t < ctx.pool->size(); ++t) state[t] = {-1, -1, (size_t)-1, false};
  size_t grain = grain_for(*ctx.pool, s.outH, 4, (28 + s.outW - 1) / s.outW);
  grain = grain > R ? R : grain;
  parallel_for(*ctx.pool, s.outH, grain, [&](size_t tid, size_t y0, size_t y1) {
    uint8_t* base = ctx.scratch[tid];
    int8_t* staging = reinterpret_cast<int8_t*>(base);
    int8_t* built = reinterpret_cast<int8_t*>(base + lay.staging);
    int8_t* padRow = reinterpret_cast<int8_t*>(base + lay.staging + lay.ring);
    int8_t* band = reinterpret_cast<int8_t*>(base + lay.staging + lay.ring + lay.pad);
    int32_t* rc = reinterpret_cast<int32_t*>(base + lay.staging + lay.ring + lay.pad + lay.band);
    RingState dummy{-1, -1, (size_t)-1, false};
    RingState& st = tid < kMaxTracked ? state[tid] : dummy;
    if (st.next != y0) st.expandedHi = st.builtHi = -1;
    const size_t nBands = (y1 - y0 + R - 1) / R;
    const size_t RB = (y1 - y0 + nBands - 1) / nBands;
    for (size_t oy0 = y0; oy0 < y1; oy0 += RB) {
      const size_t r = y1 - oy0 < RB ? y1 - oy0 : RB;
      ptrdiff_t lo = (ptrdiff_t)(oy0 * s.stride) - (ptrdiff_t)s.padTop;
      ptrdiff_t hi = (ptrdiff_t)((oy0 + r - 1) * s.stride + 2) - (ptrdiff_t)s.padTop;
      if ((lo < 0 || hi >= inH) && !st.padBuilt) {
        qdw_build(kt, s, nullptr, padRow);
        st.padBuilt = true;
      }
      lo = lo < 0 ? 0 : lo;
      hi = hi > inH - 1 ? inH - 1 : hi;
      if (s.hasExpand) {
        ptrdiff_t row = lo > st.expandedHi + 1 ? lo : st.expandedHi + 1;
        while (row <= hi) {
          const size_t slot = (size_t)row % N;
          size_t cnt = (size_t)(hi - row + 1);
          if (cnt > N - slot) cnt = N - slot;
          const int8_t* src = in + (size_t)row * inRow;
          const size_t m = cnt * s.inW;
          if (ex.rowcorrMult != 0) kt.rowsum(m, s.inC, src, s.inC, ex.rowcorrMult, rc);
          kt.gemm(m, s.expandC, s.inC, src, s.inC, ex.w, ex.wStride, ex.rowcorrMult != 0 ? rc : nullptr,
                  staging + slot * expRow, s.expandC, &ex.out);
          row += (ptrdiff_t)cnt;
          st.expandedHi = row - 1;
        }
      }
      int8_t* dwOut = s.hasProject ? band : out + oy0 * dwRow;
      for (size_t j = 0; j < r; ++j) {
        const size_t oy = oy0 + j;
        const ptrdiff_t top = (ptrdiff_t)(oy * s.stride) - (ptrdiff_t)s.padTop;
        const ptrdiff_t last = top + 2 < inH - 1 ? top + 2 : inH - 1;
        for (ptrdiff_t iy = top > st.builtHi + 1 ? top : st.builtHi + 1; iy <= last; ++iy) {
          if (iy < 0) continue;
          const int8_t* src = s.hasExpand ? staging + ((size_t)iy % N) * expRow : in + (size_t)iy * inRow;
          qdw_build(kt, s, src, built + ((size_t)iy % kBuiltRows) * lay.built);
          st.builtHi = iy;
        }
        const int8_t* rows[3];
        for (size_t ky = 0; ky < 3; ++ky) {
          const ptrdiff_t iy = top + (ptrdiff_t)ky;
          rows[ky] = iy < 0 || iy >= inH ? padRow : built + ((size_t)iy % kBuiltRows) * lay.built;
        }
        kt.dw3x3(rows, s.stride, s.outW, s.expandC, s.dw.w, s.dw.wStride, dwOut + j * dwRow, &s.dw.out);
      }
      if (!s.hasProject) continue;
      const size_t m = r * s.outW;
      int8_t* dst = out + oy0 * s.outW * s.outC;
      if (pr.rowcorrMult != 0) kt.rowsum(m, s.expandC, band, s.expandC, pr.rowcorrMult, rc);
      kt.gemm(m, s.outC, s.expandC, band, s.expandC, pr.w, pr.wStride, pr.rowcorrMult != 0 ? rc : nullptr,
              dst, s.outC, &pr.out);
      if (s.residual) kt.add(m * s.outC, dst, in + oy0 * inRow, dst, &s.add);
    }
    st.next = y1;
  });
}

}  // namespace mn
