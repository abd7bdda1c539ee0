// int8 operators: plan one QPlan step's work across threads and call the qs8 microkernels.
// Generic code (no ISA flags). Activations are int8 in the storage domain of
// src/engine/int8/quantize.ts, in one byte arena; offsets and sizes are bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../../kernels_qs8.h"
#include "../../thread_pool.h"
#include "../ops.h"

namespace mn {

enum class QOpType { Conv2d, Depthwise, Pointwise, Bottleneck, AvgPool, Mean, Fc, Softmax };

// The source of one conv-like weight tensor, as the plan gives it (read while packing only): the
// weights in the storage domain (an Int8Array) or a uint8 file's bytes (storage = q ^ 0x80, i.e.
// q - 128), the bias as int32 values or as a file's little-endian bytes (any alignment).
struct QConvSrc {
  const uint8_t* weights = nullptr;  // [n][k] (conv2d: k = kernel*kernel*inC in [ky][kx][ic] order)
  uint8_t weightXor = 0;             // 0x80 for uint8 bytes, else 0
  const int32_t* bias = nullptr;     // [n], or null when biasLE is set
  const uint8_t* biasLE = nullptr;   // [4n]
  const int32_t* multiplier = nullptr;  // [n], each in [0, 2^31)
  const int32_t* shift = nullptr;       // [n], each in [-31, 31]
  const float* scale = nullptr;         // [n]: the 'xnnpack' scheme's (multiplier, shift unused)
  int32_t weightZero = 0;
  int32_t inputZero = 0;
  size_t n = 0, k = 0;

  // Weight i in the storage domain.
  int8_t w(size_t i) const { return (int8_t)(weights[i] ^ weightXor); }
  int32_t b(size_t c) const {
    if (!biasLE) return bias[c];
    const uint8_t* p = biasLE + 4 * c;
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
  }
};

// A packed GEMM (conv2d, pointwise, fc, a bottleneck's expand and project).
struct QGemmPart {
  QGemmFn fn = nullptr;  // the table's kernel for the plan's requantization scheme
  size_t n = 0, k = 0;
  const uint8_t* w = nullptr;  // panels, wStride bytes apart
  size_t wStride = 0;
  bool rowcorr = false;      // S8 formats with a weight zero point: the kernel takes a rowcorr
  int32_t rowcorrMult = 0;  // its multiplier (kernels_qs8.h; may be 0 even then)
  QOut out{};
};

// A packed 3x3 depthwise (or, for other kernel sizes, its raw form: see qrun_depthwise).
struct QDwPart {
  QDw3x3Fn fn = nullptr;  // the table's 3x3 kernel for the plan's requantization scheme
  bool fp32 = false;      // the 'xnnpack' scheme (the raw form's loop)
  const uint8_t* w = nullptr;  // blocks, wStride bytes apart
  size_t wStride = 0;
  int8_t pad = 0;  // the input zero point: what taps outside the image read
  QOut out{};
};

// The residual ADD of a bottleneck in the plan's scheme: TFLite's (fn, params) or XNNPACK's
// (xnnFn, xnn), the kernel chosen when the plan is read.
struct QResidualAdd {
  QAddFn fn = nullptr;
  QAddParams params{};
  QAddXnnFn xnnFn = nullptr;
  QAddXnnParams xnn{};
  // out[i] = ADD(a[i], b[i]) for i < n.
  void operator()(size_t n, const int8_t* a, const int8_t* b, int8_t* out) const {
    if (xnnFn != nullptr)
      xnnFn(n, a, b, out, &xnn);
    else
      fn(n, a, b, out, &params);
  }
};

// One resolved step. Field use per op:
//  conv2d:     inH inW outH outW stride padTop padLeft kernel inC outC gemm0 pad (input zero point)
//  depthwise:  inH inW outH outW stride padTop padLeft kernel inC(=channels=expandC=outC) dw
//              bandRows ringRows (kernel 3: run as a bottleneck without expand and project)
//  pointwise:  inH=h inW=w inC outC gemm0
//  bottleneck: inH inW outH outW stride padTop padLeft inC expandC outC hasExpand hasProject
//              residual gemm0 (expand) dw gemm1 (project) add; bandRows ringRows
//  avgpool:    inH=h inW=w inC(=channels) avgUint8 out (lo/hi: the clamp, zero unused)
//  mean:       inH=h inW=w inC(=channels) out (clamp -128..127); meanMult meanShift meanInZero, or
//              for the 'xnnpack' scheme (meanFp32) meanScale meanZero meanOffset
//  fc:         inC outC gemm0
//  softmax:    inC(=n) softmax*
struct QStepDesc {
  QOpType op = QOpType::Softmax;
  size_t input = 0, output = 0;
  size_t inH = 1, inW = 1, outH = 1, outW = 1, stride = 1, padTop = 0, padLeft = 0, kernel = 1;
  size_t inC = 0, expandC = 0, outC = 0;
  bool hasExpand = false, hasProject = false, residual = false;
  size_t bandRows = 1, ringRows = 3;
  QGemmPart gemm0, gemm1;
  QDwPart dw;
  QResidualAdd add;
  int8_t pad = 0;
  bool avgUint8 = false;
  int32_t meanMult = 0, meanShift = 0, meanInZero = 0;
  bool meanFp32 = false;
  float meanScale = 0, meanZero = 0;  // xnnpack.ts XnnMeanParams
  int32_t meanOffset = 0;
  int32_t softmaxMult = 0, softmaxLeftShift = 0, softmaxDiffMin = 0;
  QOut out{};
};

// --- packing ---------------------------------------------------------------------------------
// Bytes of one GEMM panel for k inputs (a multiple of 64), and of all panels of n outputs.
size_t qgemm_panel_bytes(const QKernels& kt, size_t k);
size_t qgemm_packed_bytes(const QKernels& kt, size_t n, size_t k);
size_t qgemm_panels(const QKernels& kt, size_t n);
// Writes panels [p0, p1) of src's weights into dst (qgemm_packed_bytes bytes); returns what the
// kernels need besides the panels (rowcorr, rowcorrMult).
void qpack_gemm_panels(const QKernels& kt, const QConvSrc& src, uint8_t* dst, size_t p0, size_t p1);
bool qgemm_needs_rowcorr(const QKernels& kt, int32_t weightZero);
int32_t qgemm_rowcorr_mult(const QKernels& kt, int32_t weightZero);

// Depthwise 3x3: the weight sets the blocks of an S8Taps4 table need for src at most (1 for the
// other formats), bytes of one block, blocks of `channels`, and the packing of blocks [b0, b1).
size_t qdw_sets(const QKernels& kt, const QConvSrc& src);
size_t qdw_block_bytes(const QKernels& kt, size_t sets);
size_t qdw_blocks(const QKernels& kt, size_t channels);
void qpack_dw_blocks(const QKernels& kt, const QConvSrc& src, size_t sets, uint8_t* dst, size_t b0, size_t b1);

// Depthwise of another kernel size, raw: int16 (w - w_zp)[k*k*C], int32 bias[C], int32
// multiplier[C] (the 'xnnpack' scheme: float scale[C]), int32 shift[C] (64-byte aligned parts).
size_t qdw_raw_bytes(size_t kernel, size_t channels);
void qpack_dw_raw(const QConvSrc& src, uint8_t* dst);

// --- execution -------------------------------------------------------------------------------
struct QExecContext {
  const QKernels* k;
  ThreadPool* pool;
  uint8_t* const* scratch;  // one buffer per thread (qscratch_bytes of the largest step), 64-aligned
};

// Per-thread scratch bytes a step needs (checked arithmetic; 0 if none).
size_t qscratch_bytes(const QKernels& kt, const QStepDesc& s, size_t threads);
size_t qpointwise_scratch_bytes(const QKernels& kt, const QStepDesc& s, size_t threads);
size_t qconv2d_scratch_bytes(const QKernels& kt, const QStepDesc& s);
size_t qbottleneck_scratch_bytes(const QKernels& kt, const QStepDesc& s, size_t threads);

// Chooses bandRows / ringRows of a bottleneck or 3x3 depthwise step (needs its shapes). Throws
// SizeOverflow.
void qplan_bottleneck(const QKernels& kt, QStepDesc* s);

void qrun_conv2d(const QExecContext& ctx, const QStepDesc& s, int8_t* arena);
void qrun_depthwise(const QExecContext& ctx, const QStepDesc& s, int8_t* arena);
void qrun_pointwise(const QExecContext& ctx, const QStepDesc& s, int8_t* arena);
void qrun_bottleneck(const QExecContext& ctx, const QStepDesc& s, int8_t* arena);
void qrun_avgpool(const QExecContext& ctx, const QStepDesc& s, int8_t* arena);
void qrun_mean(const QExecContext& ctx, const QStepDesc& s, int8_t* arena);
void qrun_fc(const QExecContext& ctx, const QStepDesc& s, int8_t* arena);
void qrun_softmax(const QExecContext& ctx, const QStepDesc& s, int8_t* arena);

// Bytes of one built depthwise row (kernels_qs8.h QDwFormat) of step s, and its building from input
// row `in` (nullptr: a row of pad values).
size_t qdw_built_bytes(const QKernels& kt, const QStepDesc& s);
void qdw_build(const QKernels& kt, const QStepDesc& s, const int8_t* in, int8_t* out);

// Rounds n up to a multiple of 64 (scratch sub-buffers), checked.
inline size_t round64(size_t n) { return checked_add(n, 63) / 64 * 64; }

}  // namespace mn
