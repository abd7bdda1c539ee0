// The XNNPACK peer of `npm run bench:peers`: a quantized MobileNet built with XNNPACK's subgraph API
// from the binary description bench/xnnpack/describe.mjs writes from a .tflite file (format below),
// run on a pthreadpool of N threads and driven over stdin / stdout, one command a line, so that the
// benchmark can alternate it with the other engines:
//
//   mobilenet-xnnpack DESCRIPTION THREADS
//   → {"ready":true,...}              once the runtime is built
//   input PATH   → {"ok":true}        the input tensor: exactly input_bytes bytes in the graph's type
//   run K        → {"ns":[...],"median_ns":…,"p90_ns":…,"p99_ns":…}   K runs: the wall time of each
//   output       → {"output":[...]}   the output tensor, as integers of its type
//
// Errors go to stderr, exit status 2 (a bad description or command) or 1 (XNNPACK failed).
//
// Description (little-endian): "MNXQ", u32 version 1, u32 tensor count, u32 node count, then each
// tensor: u8 type (TYPE_* below), u8 rank (1-4), u8 flags (1 external input, 2 external output),
// u8 channel dimension (per-channel types), u32 dims[rank], i32 zero point, u32 scale count, f32
// scales[count], u32 data bytes (0: an activation), the data, zero-padded to 4 bytes; then each
// node: u32 kind (NODE_* below), u32 inputs[3] (unused: 0xffffffff), u32 output, u32 pads[4] (top,
// right, bottom, left), u32 kernel h, w, u32 stride h, w, f32 output min, max (real values).
#define _POSIX_C_SOURCE 200809L  // clock_gettime
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthreadpool.h>
#include <xnnpack.h>

enum { TYPE_QU8 = 1, TYPE_QS8 = 2, TYPE_QC8 = 3, TYPE_QS32 = 4, TYPE_QC32 = 5 };
enum { NODE_CONV = 1, NODE_DEPTHWISE = 2, NODE_ADD = 3, NODE_GLOBAL_AVERAGE_POOL = 4 };

// Limits, checked before anything is allocated from a count read from the file.
#define MAX_DESCRIPTION_BYTES (64u << 20)
#define MAX_TENSORS 4096u
#define MAX_NODES 4096u
#define MAX_ELEMENTS (1u << 26)
#define MAX_RUNS 100000u
#define NO_VALUE 0xffffffffu

struct tensor {
  uint8_t type, rank, flags, channel_dim;
  size_t dims[4];
  size_t elements;
  int32_t zero_point;
  uint32_t scale_count;
  const float* scales;  // points into the description (aligned: every field is 4-byte aligned)
  const void* data;     // NULL for activations
  uint32_t id;          // XNNPACK value id
};

struct node {
  uint32_t kind, inputs[3], output, pads[4], kernel[2], stride[2];
  float out_min, out_max;
};

static _Noreturn void fail(int status, const char* format, ...) {
  va_list args;
  va_start(args, format);
  fputs("mobilenet-xnnpack: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  exit(status);
}

static void check(enum xnn_status status, const char* what) {
  if (status != xnn_status_success) fail(1, "%s failed (xnn_status %d)", what, (int)status);
}

// ---- reading the description --------------------------------------------------------------------

struct reader {
  const uint8_t* bytes;
  size_t size, pos;
};

static const void* take(struct reader* r, size_t n, const char* what) {
  if (n > r->size - r->pos) fail(2, "description truncated (reading %s at byte %zu)", what, r->pos);
  const void* at = r->bytes + r->pos;
  r->pos += n;
  return at;
}

static uint32_t u32(struct reader* r, const char* what) {
  uint32_t v;
  memcpy(&v, take(r, 4, what), 4);
  return v;
}

static float f32(struct reader* r, const char* what) {
  float v;
  memcpy(&v, take(r, 4, what), 4);
  return v;
}

static size_t element_bytes(uint8_t type) {
  return type == TYPE_QS32 || type == TYPE_QC32 ? 4 : 1;
}

static void read_tensor(struct reader* r, struct tensor* t, uint32_t index) {
  const uint8_t* head = take(r, 4, "tensor header");
  t->type = head[0];
  t->rank = head[1];
  t->flags = head[2];
  t->channel_dim = head[3];
  if (t->type < TYPE_QU8 || t->type > TYPE_QC32) fail(2, "tensor %u: unknown type %u", index, t->type);
  if (t->rank < 1 || t->rank > 4) fail(2, "tensor %u: rank %u (1 to 4)", index, t->rank);
  if (t->flags > 3) fail(2, "tensor %u: unknown flags %u", index, t->flags);
  t->elements = 1;
  for (unsigned d = 0; d < t->rank; d++) {
    t->dims[d] = u32(r, "dims");
    if (t->dims[d] == 0 || t->dims[d] > MAX_ELEMENTS || t->elements * t->dims[d] > MAX_ELEMENTS) {
      fail(2, "tensor %u: shape too large or empty (at most %u elements)", index, MAX_ELEMENTS);
    }
    t->elements *= t->dims[d];
  }
  t->zero_point = (int32_t)u32(r, "zero point");
  t->scale_count = u32(r, "scale count");
  const int per_channel = t->type == TYPE_QC8 || t->type == TYPE_QC32;
  if (per_channel) {
    if (t->channel_dim >= t->rank || t->scale_count != t->dims[t->channel_dim]) {
      fail(2, "tensor %u: %u scales for channel dimension %u", index, t->scale_count, t->channel_dim);
    }
  } else if (t->scale_count != 1) {
    fail(2, "tensor %u: %u scales for a per-tensor type", index, t->scale_count);
  }
  t->scales = take(r, (size_t)t->scale_count * 4, "scales");
  for (uint32_t i = 0; i < t->scale_count; i++) {
    if (!(t->scales[i] > 0) || t->scales[i] > 1e30f) fail(2, "tensor %u: scale %g is not a positive number", index, t->scales[i]);
  }
  const uint32_t data_bytes = u32(r, "data size");
  if (data_bytes != 0 && data_bytes != t->elements * element_bytes(t->type)) {
    fail(2, "tensor %u: %u data bytes for %zu elements", index, data_bytes, t->elements);
  }
  if (data_bytes != 0 && t->flags != 0) fail(2, "tensor %u: a constant cannot be a graph input or output", index);
  t->data = data_bytes ? take(r, data_bytes, "tensor data") : NULL;
  take(r, (4 - data_bytes % 4) % 4, "padding");
}

static void read_node(struct reader* r, struct node* n, uint32_t index, uint32_t tensor_count) {
  n->kind = u32(r, "node kind");
  if (n->kind < NODE_CONV || n->kind > NODE_GLOBAL_AVERAGE_POOL) fail(2, "node %u: unknown kind %u", index, n->kind);
  for (int i = 0; i < 3; i++) n->inputs[i] = u32(r, "node inputs");
  n->output = u32(r, "node output");
  for (int i = 0; i < 4; i++) n->pads[i] = u32(r, "pads");
  for (int i = 0; i < 2; i++) n->kernel[i] = u32(r, "kernel");
  for (int i = 0; i < 2; i++) n->stride[i] = u32(r, "stride");
  n->out_min = f32(r, "output min");
  n->out_max = f32(r, "output max");
  const int used = n->kind == NODE_ADD ? 2 : n->kind == NODE_GLOBAL_AVERAGE_POOL ? 1 : 3;
  for (int i = 0; i < 3; i++) {
    const uint32_t v = n->inputs[i];
    if (i < used ? v >= tensor_count : v != NO_VALUE) fail(2, "node %u: input %d is %u", index, i, v);
  }
  if (n->output >= tensor_count) fail(2, "node %u: output %u out of range", index, n->output);
  for (int i = 0; i < 2; i++) {
    if (n->kernel[i] > 64 || n->stride[i] > 64) fail(2, "node %u: kernel or stride above 64", index);
  }
  for (int i = 0; i < 4; i++) {
    if (n->pads[i] > 64) fail(2, "node %u: padding above 64", index);
  }
  if (!(n->out_min < n->out_max)) fail(2, "node %u: output range [%g, %g] is empty", index, n->out_min, n->out_max);
}

// ---- building the subgraph -----------------------------------------------------------------------

static enum xnn_datatype xnn_type(uint8_t type) {
  switch (type) {
    case TYPE_QU8: return xnn_datatype_quint8;
    case TYPE_QS8: return xnn_datatype_qint8;
    case TYPE_QC8: return xnn_datatype_qcint8;
    case TYPE_QS32: return xnn_datatype_qint32;
    default: return xnn_datatype_qcint32;
  }
}

static void define_tensor(xnn_subgraph_t subgraph, struct tensor* t, uint32_t external_id) {
  const uint32_t flags = (t->flags & 1 ? XNN_VALUE_FLAG_EXTERNAL_INPUT : 0) | (t->flags & 2 ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : 0);
  const uint32_t id_in = t->flags ? external_id : XNN_INVALID_VALUE_ID;
  if (t->type == TYPE_QC8 || t->type == TYPE_QC32) {
    check(xnn_define_channelwise_quantized_tensor_value(subgraph, xnn_type(t->type), t->scales, t->rank, t->channel_dim,
                                                        t->dims, t->data, id_in, flags, &t->id),
          "xnn_define_channelwise_quantized_tensor_value");
  } else {
    check(xnn_define_quantized_tensor_value(subgraph, xnn_type(t->type), t->zero_point, t->scales[0], t->rank, t->dims,
                                            t->data, id_in, flags, &t->id),
          "xnn_define_quantized_tensor_value");
  }
}

static void need_shape(int ok, uint32_t index, const char* what) {
  if (!ok) fail(2, "node %u: %s", index, what);
}

static void define_node(xnn_subgraph_t subgraph, const struct node* n, const struct tensor* tensors, uint32_t index) {
  const struct tensor* in = &tensors[n->inputs[0]];
  const struct tensor* out = &tensors[n->output];
  switch (n->kind) {
    case NODE_CONV: {
      const struct tensor* filter = &tensors[n->inputs[1]];
      need_shape(in->rank == 4 && out->rank == 4 && filter->rank == 4 && filter->data && tensors[n->inputs[2]].data,
                 index, "a convolution takes NHWC tensors and constant weights");
      need_shape(filter->dims[0] == out->dims[3] && filter->dims[3] == in->dims[3], index, "filter [O, kh, kw, I] does not fit");
      check(xnn_define_convolution_2d(subgraph, n->pads[0], n->pads[1], n->pads[2], n->pads[3], filter->dims[1], filter->dims[2],
                                      n->stride[0], n->stride[1], 1, 1, 1, in->dims[3], out->dims[3], n->out_min, n->out_max,
                                      in->id, filter->id, tensors[n->inputs[2]].id, out->id, 0),
            "xnn_define_convolution_2d");
      break;
    }
    case NODE_DEPTHWISE: {
      const struct tensor* filter = &tensors[n->inputs[1]];
      need_shape(in->rank == 4 && out->rank == 4 && filter->rank == 4 && filter->data && tensors[n->inputs[2]].data,
                 index, "a depthwise convolution takes NHWC tensors and constant weights");
      need_shape(filter->dims[0] == 1 && filter->dims[3] == in->dims[3] && out->dims[3] == in->dims[3], index,
                 "filter [1, kh, kw, C] does not fit (depth multiplier 1 only)");
      check(xnn_define_depthwise_convolution_2d(subgraph, n->pads[0], n->pads[1], n->pads[2], n->pads[3], filter->dims[1],
                                                filter->dims[2], n->stride[0], n->stride[1], 1, 1, 1, in->dims[3], n->out_min,
                                                n->out_max, in->id, filter->id, tensors[n->inputs[2]].id, out->id, 0),
            "xnn_define_depthwise_convolution_2d");
      break;
    }
    case NODE_ADD:
      check(xnn_define_add2(subgraph, n->out_min, n->out_max, in->id, tensors[n->inputs[1]].id, out->id, 0), "xnn_define_add2");
      break;
    default:
      need_shape(in->rank == 4 && out->rank == 4 && out->dims[1] == 1 && out->dims[2] == 1, index, "global pooling to [N, 1, 1, C]");
      check(xnn_define_global_average_pooling_2d(subgraph, n->out_min, n->out_max, in->id, out->id, 0),
            "xnn_define_global_average_pooling_2d");
  }
}

// ---- the command loop ----------------------------------------------------------------------------

static uint8_t* read_file(const char* path, size_t limit, size_t* size_out) {
  FILE* f = fopen(path, "rb");
  if (!f) fail(2, "%s: %s", path, strerror(errno));
  uint8_t* bytes = malloc(limit + 1);
  if (!bytes) fail(1, "out of memory");
  const size_t size = fread(bytes, 1, limit + 1, f);
  const int error = ferror(f);
  fclose(f);
  if (error) fail(2, "%s: read error", path);
  if (size > limit) fail(2, "%s: larger than %zu bytes", path, limit);
  *size_out = size;
  return bytes;
}

static int compare_u64(const void* a, const void* b) {
  const uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return (x > y) - (x < y);
}

/** The p-quantile of sorted[0..n): the ceil(p·n)-th smallest (bench/timing.mjs's percentile). */
static uint64_t quantile(const uint64_t* sorted, size_t n, double p) {
  size_t rank = (size_t)ceil(p * (double)n);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc != 3) fail(2, "usage: mobilenet-xnnpack DESCRIPTION THREADS");
  char* end;
  const unsigned long threads = strtoul(argv[2], &end, 10);
  if (*end || threads < 1 || threads > 256) fail(2, "THREADS must be 1 to 256, got %s", argv[2]);

  size_t size;
  uint8_t* description = read_file(argv[1], MAX_DESCRIPTION_BYTES, &size);
  struct reader r = {description, size, 0};
  if (memcmp(take(&r, 4, "magic"), "MNXQ", 4) != 0) fail(2, "%s: not a description (magic)", argv[1]);
  if (u32(&r, "version") != 1) fail(2, "%s: unknown version", argv[1]);
  const uint32_t tensor_count = u32(&r, "tensor count");
  const uint32_t node_count = u32(&r, "node count");
  if (tensor_count > MAX_TENSORS || node_count > MAX_NODES) fail(2, "more than %u tensors or %u nodes", MAX_TENSORS, MAX_NODES);
  struct tensor* tensors = calloc(tensor_count ? tensor_count : 1, sizeof *tensors);
  struct node* nodes = calloc(node_count ? node_count : 1, sizeof *nodes);
  if (!tensors || !nodes) fail(1, "out of memory");
  for (uint32_t i = 0; i < tensor_count; i++) read_tensor(&r, &tensors[i], i);
  for (uint32_t i = 0; i < node_count; i++) read_node(&r, &nodes[i], i, tensor_count);
  if (r.pos != r.size) fail(2, "%zu bytes after the last node", r.size - r.pos);

  struct tensor *input = NULL, *output = NULL;
  for (uint32_t i = 0; i < tensor_count; i++) {
    if (tensors[i].flags & 1) {
      if (input) fail(2, "more than one graph input");
      input = &tensors[i];
    }
    if (tensors[i].flags & 2) {
      if (output) fail(2, "more than one graph output");
      output = &tensors[i];
    }
  }
  if (!input || !output || input == output) fail(2, "the graph needs one input and one distinct output");

  check(xnn_initialize(NULL), "xnn_initialize");
  xnn_subgraph_t subgraph;
  check(xnn_create_subgraph(2, 0, &subgraph), "xnn_create_subgraph");
  for (uint32_t i = 0; i < tensor_count; i++) define_tensor(subgraph, &tensors[i], &tensors[i] == input ? 0 : 1);
  for (uint32_t i = 0; i < node_count; i++) define_node(subgraph, &nodes[i], tensors, i);

  // One thread runs on the caller's thread, as TFLite's XNNPACK delegate does.
  pthreadpool_t pool = threads > 1 ? pthreadpool_create(threads) : NULL;
  if (threads > 1 && !pool) fail(1, "pthreadpool_create(%lu) failed", threads);
  xnn_runtime_t runtime;
  check(xnn_create_runtime_v2(subgraph, pool, 0, &runtime), "xnn_create_runtime_v2");
  check(xnn_delete_subgraph(subgraph), "xnn_delete_subgraph");

  // XNNPACK may read (never write) XNN_EXTRA_BYTES past a tensor.
  const size_t input_bytes = input->elements, output_bytes = output->elements;
  uint8_t* input_data = calloc(input_bytes + XNN_EXTRA_BYTES, 1);
  uint8_t* output_data = calloc(output_bytes + XNN_EXTRA_BYTES, 1);
  uint64_t* times = malloc(MAX_RUNS * sizeof *times);
  uint64_t* sorted = malloc(MAX_RUNS * sizeof *sorted);
  if (!input_data || !output_data || !times || !sorted) fail(1, "out of memory");
  const struct xnn_external_value externals[2] = {{0, input_data}, {1, output_data}};
  check(xnn_setup_runtime(runtime, 2, externals), "xnn_setup_runtime");

  printf("{\"ready\":true,\"threads\":%lu,\"tensors\":%u,\"nodes\":%u,\"input_bytes\":%zu,\"output_bytes\":%zu}\n", threads,
         tensor_count, node_count, input_bytes, output_bytes);
  fflush(stdout);

  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    if (strncmp(line, "input ", 6) == 0) {
      size_t got;
      uint8_t* bytes = read_file(line + 6, input_bytes, &got);
      if (got != input_bytes) fail(2, "%s: %zu bytes, the input tensor has %zu", line + 6, got, input_bytes);
      memcpy(input_data, bytes, input_bytes);
      free(bytes);
      printf("{\"ok\":true}\n");
    } else if (strncmp(line, "run ", 4) == 0) {
      const unsigned long runs = strtoul(line + 4, &end, 10);
      if (*end || runs < 1 || runs > MAX_RUNS) fail(2, "run: a count of 1 to %u, got '%s'", MAX_RUNS, line + 4);
      for (unsigned long i = 0; i < runs; i++) {
        const uint64_t start = now_ns();
        check(xnn_invoke_runtime(runtime), "xnn_invoke_runtime");
        times[i] = now_ns() - start;
      }
      memcpy(sorted, times, runs * sizeof *times);
      qsort(sorted, runs, sizeof *sorted, compare_u64);
      fputs("{\"ns\":[", stdout);
      for (unsigned long i = 0; i < runs; i++) printf(i ? ",%" PRIu64 : "%" PRIu64, times[i]);
      printf("],\"median_ns\":%" PRIu64 ",\"p90_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64 "}\n", quantile(sorted, runs, 0.5),
             quantile(sorted, runs, 0.9), quantile(sorted, runs, 0.99));
    } else if (strcmp(line, "output") == 0) {
      fputs("{\"output\":[", stdout);
      for (size_t i = 0; i < output_bytes; i++) {
        const int v = output->type == TYPE_QU8 ? output_data[i] : (int8_t)output_data[i];
        printf(i ? ",%d" : "%d", v);
      }
      fputs("]}\n", stdout);
    } else {
      fail(2, "unknown command '%s' (input PATH, run K, output)", line);
    }
    fflush(stdout);
  }

  xnn_delete_runtime(runtime);
  if (pool) pthreadpool_destroy(pool);
  xnn_deinitialize();
  free(sorted);
  free(times);
  free(output_data);
  free(input_data);
  free(nodes);
  free(tensors);
  free(description);
  return 0;
}
