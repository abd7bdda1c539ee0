// The benchmark's own check, run by `npm run bench:peers` before timing: the ONNX export must be the
// same network as ours. It needs onnxruntime-node from bench/node_modules, so it is not in `npm test`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['bench/test/**/*.test.ts'] },
});
