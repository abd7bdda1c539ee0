// Cold start: the whole life of a process that classifies one photo, from spawn to exit (Node start,
// imports, model load, decode, inference, printing the top-5, exit), against a hand-written peer doing
// the same with the best-known Node tools.
//
//   npm run bench:cold -- [--runs 15] [--image FILE] [--model FILE.tflite] [--threads N] [--json]
//
// Ours:  bin/mobilenet classify <image> --model <v2 .tflite>   (built dist/, native addon)
// Peer:  this script with --peer: sharp decodes and resizes the photo (EXIF orientation, the same
//        'linear' kernel and fill fit as ours, flattened on white), onnxruntime-node (CPU EP, all graph
//        optimisations, as many intra-op threads as ours uses) runs the ONNX export of our plan of the
//        same .tflite file (bench/onnx-export.mjs, which bench:peers checks against our outputs), the
//        session is created while the photo decodes, and the top-5 are printed with the same labels.
//        The ONNX file is written once before timing (an ONNX user ships one), as is a small JSON
//        file with the normalisation and labels.
//
// Each round also times the CLI's own start against Node's: `node -e 0`, `mobilenet --version` and
// `mobilenet --help` (which loads commander and the command table, none of the model code).
//
// Both run with MOBILENET_OFFLINE=1, stdout piped to us, and a preloaded hook that reports the peak RSS
// (test/helpers/maxrss.cjs). One untimed run of each first (page cache, and the top-1 check: both
// must name the same class), then --runs rounds alternating which goes first; medians are reported
// with the ratio ours / peer. The numbers depend on the machine: its load average is printed.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

if (process.argv[2] === '--peer') await peer(process.argv[3], process.argv[4], Number(process.argv[5]));
else await main();

// ---- the peer (child process): only what a user's script would load ------------------------------

async function peer(onnxPath, image, threads) {
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  const sharp = (await import('sharp')).default;
  const { mean, std, size, labels } = JSON.parse(readFileSync(`${onnxPath}.json`, 'utf8'));
  const sessionReady = ort.InferenceSession.create(onnxPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const pixelsReady = sharp(image, { failOn: 'error' })
    .rotate()
    .resize(size, size, { fit: 'fill', kernel: 'linear' })
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .raw()
    .toBuffer();
  const [session, pixels] = await Promise.all([sessionReady, pixelsReady]);
  const plane = size * size;
  const input = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) input[c * plane + i] = (pixels[i * 3 + c] - mean[c]) / std[c];
  }
  const { output } = await session.run({ input: new ort.Tensor('float32', input, [1, 3, size, size]) });
  const scores = output.data;
  const best = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]).slice(0, 5);
  process.stdout.write(`${image}\n${best.map((i) => `  ${scores[i].toFixed(4)}  ${labels[i] ?? i}`).join('\n')}\n`);
}

// ---- the benchmark ---------------------------------------------------------------------------------

async function main() {
  const { spawn } = await import('node:child_process');
  const { existsSync, mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { availableParallelism, loadavg, tmpdir } = await import('node:os');
  const { join, resolve } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const { parseArgs } = await import('node:util');

  const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
  const SHARED = process.env.MOBILENET_SHARED ?? resolve(REPO, '../shared');
  const BIN = join(REPO, 'bin', 'mobilenet');
  const MAXRSS_HOOK = join(REPO, 'test', 'helpers', 'maxrss.cjs');
  const { values: args } = parseArgs({
    options: {
      runs: { type: 'string', default: '15' },
      image: { type: 'string', default: join(SHARED, 'images', 'parrot.jpg') },
      model: { type: 'string', default: join(SHARED, 'models', 'mobilenet_v2_1.0_224_quant.tflite') },
      threads: { type: 'string', default: String(availableParallelism()) },
      json: { type: 'boolean', default: false },
    },
  });
  const runs = Number(args.runs);
  const threads = Number(args.threads);
  const log = (...parts) => console.error(...parts);
  if (!(runs >= 1) || !(threads >= 1)) {
    log('usage: node bench/cold-start.mjs [--runs 15] [--image FILE] [--model FILE.tflite] [--threads N] [--json]');
    process.exit(2);
  }
  for (const [what, path, hint] of [
    ['the model', args.model, 'the shared models (MOBILENET_SHARED)'],
    ['the photo', args.image, 'the shared photos (MOBILENET_SHARED)'],
    ['dist/', join(REPO, 'dist', 'cli', 'main.js'), '`npm run build`'],
    ['onnxruntime-node', join(REPO, 'bench', 'node_modules', 'onnxruntime-node', 'package.json'), '`node bench/setup.mjs`'],
  ]) {
    if (!existsSync(path)) {
      log(`bench:cold: ${what} is missing (${path}); it needs ${hint}`);
      process.exit(1);
    }
  }

  /** A child node process: wall time from spawn to exit, peak RSS from the preloaded hook, its stdout. */
  const measure = (argv) => new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--require', MAXRSS_HOOK, ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MOBILENET_OFFLINE: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const match = /maxrss_kib=(\d+)/.exec(stderr);
      const rest = stderr.replace(/\n?maxrss_kib=\d+\n/, '').trim();
      if (code !== 0) reject(new Error(`${argv.slice(0, 3).join(' ')} … exited with ${code}: ${rest}`));
      else resolvePromise({ ms, rssMiB: match ? Number(match[1]) / 1024 : NaN, stdout });
    });
  });
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const top1 = (stdout) => /^\s+[\d.]+\s+(.+)$/m.exec(stdout)?.[1]?.trim();

  const loadBefore = loadavg()[0];
  const work = mkdtempSync(join(tmpdir(), 'mobilenet-bench-cold-'));
  try {
    // The peer's model: the ONNX export of our plan of the same file (what bench:peers checks, 1e-3).
    const { loadTfliteFile } = await import('../dist/tflite/index.js');
    const { planModel } = await import('../dist/index.js');
    const { planToOnnx } = await import('./onnx-export.mjs');
    const spec = await loadTfliteFile(args.model);
    const onnx = join(work, 'model.onnx');
    writeFileSync(onnx, planToOnnx(planModel(spec)));
    const { mean, std } = spec.normalization;
    writeFileSync(`${onnx}.json`, JSON.stringify({ mean, std, size: spec.resolution, labels: spec.labels ?? [] }));

    const engines = {
      ours: [BIN, 'classify', args.image, '--model', args.model, '--threads', String(threads)],
      peer: [fileURLToPath(import.meta.url), '--peer', onnx, args.image, String(threads)],
    };
    // The CLI's own start, against Node's: bare `node -e 0`, `mobilenet --version` and `--help`.
    const startup = { bare: ['-e', '0'], version: [BIN, '--version'], help: [BIN, '--help'] };
    const results = { ours: [], peer: [], bare: [], version: [], help: [] };
    const first = {};
    for (const who of ['ours', 'peer']) first[who] = await measure(engines[who]); // untimed: page cache
    for (const who of Object.keys(startup)) await measure(startup[who]);
    const [a, b] = [top1(first.ours.stdout), top1(first.peer.stdout)];
    log(`top-1: ours '${a}', peer '${b}'`);
    if (!a || a !== b) throw new Error(`the two programs disagree on the photo (ours '${a}', peer '${b}'): refusing to compare them`);
    for (let round = 0; round < runs; round++) {
      for (const who of round % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours']) results[who].push(await measure(engines[who]));
      const order = Object.keys(startup);
      for (const who of round % 2 === 0 ? order : order.reverse()) results[who].push(await measure(startup[who]));
      log(`round ${round + 1}/${runs}: ours ${results.ours.at(-1).ms.toFixed(0)} ms, peer ${results.peer.at(-1).ms.toFixed(0)} ms`);
    }

    const summary = (who) => ({
      wallMs: median(results[who].map((r) => r.ms)),
      minWallMs: Math.min(...results[who].map((r) => r.ms)),
      peakRssMiB: median(results[who].map((r) => r.rssMiB)),
    });
    const ours = summary('ours');
    const peerSummary = summary('peer');
    const report = {
      image: args.image,
      model: args.model,
      runs,
      threads,
      node: process.version,
      onnxruntime: createRequire(import.meta.url)('onnxruntime-node/package.json').version,
      loadAverage: [loadBefore, loadavg()[0]],
      ours,
      peer: peerSummary,
      ratio: { wall: ours.wallMs / peerSummary.wallMs, peakRss: ours.peakRssMiB / peerSummary.peakRssMiB },
      startup: Object.fromEntries(Object.keys(startup).map((who) => [who, median(results[who].map((r) => r.ms))])),
      targets: { wallRatio: 0.55, peakRssMiB: 100, startupOverBareMs: 30 },
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    const row = (name, cells) => `${name.padEnd(30)}${cells.map((c) => c.padStart(14)).join('')}`;
    const lines = [
      `cold start: classify one photo in a fresh process, spawn to exit; medians of ${runs} alternating runs`,
      `photo ${args.image}, model ${args.model}, ${threads} thread(s), Node ${process.version}, onnxruntime-node ${report.onnxruntime}`,
      `load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after`,
      '',
      row('', ['wall ms', 'min wall ms', 'peak RSS MiB']),
      row('mobilenet classify', [ours.wallMs.toFixed(1), ours.minWallMs.toFixed(1), ours.peakRssMiB.toFixed(1)]),
      row('sharp + onnxruntime-node', [peerSummary.wallMs.toFixed(1), peerSummary.minWallMs.toFixed(1), peerSummary.peakRssMiB.toFixed(1)]),
      row('ratio ours / peer', [`${report.ratio.wall.toFixed(2)}×`, `${(ours.minWallMs / peerSummary.minWallMs).toFixed(2)}×`, `${report.ratio.peakRss.toFixed(2)}×`]),
      row('target (ours)', ['≤ 0.55×', '', '≤ 100 MiB']),
      '',
      row('', ['wall ms', 'over bare', '']),
      row('node -e 0 (bare Node)', [report.startup.bare.toFixed(1), '', '']),
      row('mobilenet --version', [report.startup.version.toFixed(1), `+${(report.startup.version - report.startup.bare).toFixed(1)}`, '']),
      row('mobilenet --help', [report.startup.help.toFixed(1), `+${(report.startup.help - report.startup.bare).toFixed(1)}`, '']),
      row('target', ['', '≤ +30', '']),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
