// Models download, verify and cache themselves: against a real HTTP server on 127.0.0.1 that serves
// ../shared/models and misbehaves on request, through the library and through `bin/mobilenet` as
// child processes (real signals, real concurrent processes).
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedFile, modelsFolder } from '../src/model/cache.js';
import { CATALOG, DEFAULT_MODELS_URL, findModel, type CatalogEntry } from '../src/model/catalog.js';
import { downloadModel, ModelDownloadError } from '../src/model/download.js';
import { ModelNotFoundError, resolveModelFile } from '../src/model/resolve.js';
import { startModelServer, type ModelServer } from './helpers/model-server.js';
import { imagePath, MODELS_DIR, REPO_ROOT, requireShared } from './helpers/shared.js';

const run = requireShared();
const BIN = join(REPO_ROOT, 'bin', 'mobilenet');
const SMALL = findModel('v1-0.25') as CatalogEntry;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** A child `mobilenet` with its own models folder and model server, nothing inherited that would change that. */
function mobilenet(args: string[], env: Record<string, string>): Promise<Outcome> {
  const clean = { ...process.env };
  for (const name of ['MOBILENET_HOME', 'MOBILENET_MODELS_URL', 'MOBILENET_OFFLINE', 'XDG_CACHE_HOME']) delete clean[name];
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...clean, ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

const emptyFolder = () => mkdtempSync(join(tmpdir(), 'mobilenet-models-'));
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The folder holds exactly `files` (besides nothing hidden: no leftover .part files). */
function expectFolder(folder: string, files: string[]): void {
  expect(readdirSync(folder).sort()).toEqual([...files].sort());
}

describe('model catalog', () => {
  it('knows the five published models by name and by alias', () => {
    expect(CATALOG.map((entry) => entry.aliases[0])).toEqual(['v2', 'v2-tf2', 'v1-0.75', 'v1-0.5', 'v1-0.25']);
    expect(findModel('v2')?.name).toBe('mobilenet_v2_1.0_224_quant');
    expect(findModel('mobilenet_v1_0.5_160_quant')?.aliases).toEqual(['v1-0.5']);
    expect(findModel('v3')).toBeUndefined();
  });

  it.skipIf(!run)('pins the size and SHA-256 of every file in ../shared/models', () => {
    const sums = new Map(readFileSync(join(MODELS_DIR, 'SHA256SUMS'), 'utf8').trim().split('\n')
      .map((line) => line.split(/\s+/)).map(([sum, file]) => [file, sum]));
    for (const entry of CATALOG) {
      expect(entry.sha256, entry.name).toBe(sums.get(entry.file));
      expect(entry.bytes, entry.name).toBe(readFileSync(join(MODELS_DIR, entry.file)).length);
    }
    expect(DEFAULT_MODELS_URL).toMatch(/^https:\/\/.*\/104342d2d3480b3e66203073dac24f4e2dbb4c41$/);
  });

  it('keeps models in MOBILENET_HOME, else XDG_CACHE_HOME, else the platform cache folder', () => {
    expect(modelsFolder({ MOBILENET_HOME: '/m', XDG_CACHE_HOME: '/x' }, 'linux')).toBe('/m');
    expect(modelsFolder({ XDG_CACHE_HOME: '/x' }, 'linux')).toBe(join('/x', 'mobilenet'));
    expect(modelsFolder({}, 'linux')).toMatch(/\.cache[/\\]mobilenet$/);
    expect(modelsFolder({}, 'darwin')).toMatch(/Library[/\\]Caches[/\\]mobilenet$/);
    expect(modelsFolder({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32')).toMatch(/mobilenet[/\\]Cache$/);
  });
});

describe.skipIf(!run)('model downloads against a local server', () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await startModelServer(MODELS_DIR);
  });
  afterAll(() => server.close());

  const fast = (mode: string) => ({ baseUrl: `${server.url}/${mode}`, attempts: 2, retryDelayMs: 10, timeoutMs: 400 });

  it('downloads, verifies and keeps a model, leaving nothing else behind', async () => {
    const folder = emptyFolder();
    const events: string[] = [];
    const file = await downloadModel(SMALL, join(folder, SMALL.file), {
      ...fast('ok'),
      reporter: { start: () => events.push('start'), progress: () => undefined, done: () => events.push('done') },
    });
    expect(file).toBe(join(folder, SMALL.file));
    expect(sha256(file)).toBe(SMALL.sha256);
    expect(events).toEqual(['start', 'done']);
    expectFolder(folder, [SMALL.file]);
  });

  const failures: [string, RegExp, number][] = [
    ['404', /HTTP 404/, 1],
    ['short', /broke off|ended after/, 2],
    ['wrong', /checksum mismatch/, 2],
    ['stall', /no data for 0\.4 s/, 2],
    ['silent', /no response for 0\.4 s/, 2],
  ];
  for (const [mode, problem, requests] of failures) {
    it(`keeps nothing when the server answers '${mode}' (${requests} request${requests > 1 ? 's' : ''})`, async () => {
      const folder = emptyFolder();
      const before = server.requests.length;
      const error = await downloadModel(SMALL, join(folder, SMALL.file), fast(mode)).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ModelDownloadError);
      expect((error as ModelDownloadError).code).toBe('MODEL_DOWNLOAD_FAILED');
      expect((error as Error).message).toMatch(problem);
      expect((error as Error).message).toContain(`/${mode}/${SMALL.file}`);
      expect(server.requests.length - before).toBe(requests);
      expectFolder(folder, []);
    }, 10_000);
  }

  it('retries after a 503 and succeeds', async () => {
    const folder = emptyFolder();
    const retries: string[] = [];
    await downloadModel(SMALL, join(folder, SMALL.file), { ...fast('flaky'), reporter: { retry: (_, reason) => retries.push(reason) } });
    expect(retries).toEqual(['HTTP 503 Service Unavailable']);
    expect(sha256(join(folder, SMALL.file))).toBe(SMALL.sha256);
  });

  it('shares one download between concurrent calls in one process', async () => {
    const folder = emptyFolder();
    const before = server.requests.length;
    const files = await Promise.all([1, 2, 3].map(() => downloadModel(SMALL, join(folder, SMALL.file), fast('ok'))));
    expect(new Set(files).size).toBe(1);
    expect(server.requests.length - before).toBe(1);
    expectFolder(folder, [SMALL.file]);
  });

  it('resolves a name offline only from the cache, with a message that says what to fetch and where to put it', async () => {
    const folder = emptyFolder();
    process.env.MOBILENET_HOME = folder;
    try {
      const error = await resolveModelFile('v1-0.25', { offline: true }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ModelNotFoundError);
      expect((error as Error).message).toContain(`${DEFAULT_MODELS_URL}/${SMALL.file}`);
      expect((error as Error).message).toContain(join(folder, SMALL.file));
      expect((error as Error).message).toContain('--model FILE');
      copyFileSync(join(MODELS_DIR, SMALL.file), join(folder, SMALL.file));
      expect(await resolveModelFile('v1-0.25', { offline: true })).toBe(cachedFile(SMALL));
      // A damaged copy is not used.
      writeFileSync(join(folder, SMALL.file), Buffer.alloc(SMALL.bytes));
      await expect(resolveModelFile('v1-0.25', { offline: true })).rejects.toThrow(/is damaged/);
    } finally {
      delete process.env.MOBILENET_HOME;
    }
  });

  it('classifies with an empty cache: the default model is pulled, verified, and names the macaw', async () => {
    const folder = emptyFolder();
    const result = await mobilenet(['classify', imagePath('parrot.jpg'), '-k', '1'],
      { MOBILENET_HOME: folder, MOBILENET_MODELS_URL: `${server.url}/ok` });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/parrot\.jpg\n {2}0\.99\d\d {2}macaw\n$/);
    expect(result.stderr).toMatch(/downloading mobilenet_v2_1\.0_224_quant\.tflite \(3\.4 MiB\)/);
    expect(result.stderr).toMatch(/sha256 verified/);
    expectFolder(folder, ['mobilenet_v2_1.0_224_quant.tflite']);
    // Second run: from the cache, silently.
    const again = await mobilenet(['classify', imagePath('parrot.jpg'), '-k', '1'], { MOBILENET_HOME: folder, MOBILENET_MODELS_URL: `${server.url}/404` });
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('');
  }, 60_000);

  it('replaces a damaged cached model by a verified download', async () => {
    const folder = emptyFolder();
    writeFileSync(join(folder, SMALL.file), 'not a model');
    const result = await mobilenet(['classify', imagePath('parrot.jpg'), '-m', 'v1-0.25', '-k', '1'],
      { MOBILENET_HOME: folder, MOBILENET_MODELS_URL: `${server.url}/ok` });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/macaw/);
    expect(sha256(join(folder, SMALL.file))).toBe(SMALL.sha256);
  }, 60_000);

  it('fails offline with one clear error and exit status 2', async () => {
    const result = await mobilenet(['classify', imagePath('parrot.jpg')], { MOBILENET_HOME: emptyFolder(), MOBILENET_OFFLINE: '1' });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/not available offline.*fetch https:\/\/.*mobilenet_v2_1\.0_224_quant\.tflite and save it as/);
  }, 30_000);

  it('two processes pulling the same model at once both end with the one verified file', async () => {
    const folder = emptyFolder();
    const env = { MOBILENET_HOME: folder, MOBILENET_MODELS_URL: `${server.url}/slow` };
    const [a, b] = await Promise.all([mobilenet(['models', 'pull', 'v1-0.25'], env), mobilenet(['models', 'pull', 'v1-0.25'], env)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(sha256(join(folder, SMALL.file))).toBe(SMALL.sha256);
    expectFolder(folder, [SMALL.file]);
  }, 60_000);

  it('a pull killed mid-way (SIGKILL) leaves no model; the next pull cleans up and succeeds', async () => {
    const folder = emptyFolder();
    const child = spawn(process.execPath, [BIN, 'models', 'pull', 'v1-0.25'], {
      env: { ...process.env, MOBILENET_HOME: folder, MOBILENET_MODELS_URL: `${server.url}/slow` },
      stdio: 'ignore',
    });
    // Kill it once its temporary file has grown.
    const deadline = Date.now() + 20_000;
    let part: string | undefined;
    while (Date.now() < deadline) {
      part = readdirSync(folder).find((name) => name.endsWith('.part'));
      if (part && readFileSync(join(folder, part)).length > 64 * 1024) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const exited = new Promise((resolve) => child.on('exit', (_, signal) => resolve(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(part).toBeDefined();
    expect(existsSync(join(folder, SMALL.file))).toBe(false);
    expect(readdirSync(folder)).toEqual([part]);

    const list = await mobilenet(['models', 'list', '--json'], { MOBILENET_HOME: folder });
    expect((JSON.parse(list.stdout) as { models: { name: string; cached: boolean }[] }).models
      .find((m) => m.name === SMALL.name)?.cached).toBe(false);

    const again = await mobilenet(['models', 'pull', 'v1-0.25'], { MOBILENET_HOME: folder, MOBILENET_MODELS_URL: `${server.url}/ok` });
    expect(again.code).toBe(0);
    expectFolder(folder, [SMALL.file]);
    expect(sha256(join(folder, SMALL.file))).toBe(SMALL.sha256);
  }, 60_000);
});

describe.skipIf(!run)('mobilenet models', () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await startModelServer(MODELS_DIR);
  });
  afterAll(() => server.close());

  it('list shows every model with its details and whether it is downloaded (text and --json)', async () => {
    const folder = emptyFolder();
    copyFileSync(join(MODELS_DIR, SMALL.file), join(folder, SMALL.file));
    writeFileSync(join(folder, 'my_own_model.tflite'), 'x');
    const text = await mobilenet(['models', 'list'], { MOBILENET_HOME: folder });
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/^name +aliases +arch +alpha +input +precision +size +downloaded$/);
    expect(lines.find((l) => l.startsWith('mobilenet_v1_0.25_128_quant'))).toMatch(/v1-0\.25 +v1 +0\.25 +128x128 +uint8 +0\.5 MiB +yes$/);
    expect(lines.find((l) => l.startsWith('tf2_mobilenet_v2_1.0_224_ptq'))).toMatch(/v2-tf2 +v2 +1\.00 +224x224 +int8 +3\.9 MiB +no$/);
    expect(text.stdout).toContain(`models folder: ${folder}`);
    expect(text.stdout).toContain('my_own_model.tflite');

    const json = JSON.parse((await mobilenet(['models', 'list', '--json'], { MOBILENET_HOME: folder })).stdout) as {
      folder: string; models: (CatalogEntry & { cached: boolean; url: string; path: string })[]; otherFiles: string[];
    };
    expect(json.folder).toBe(folder);
    expect(json.models).toHaveLength(5);
    expect(json.models.filter((m) => m.cached).map((m) => m.name)).toEqual([SMALL.name]);
    expect(json.models[0]).toMatchObject({ name: 'mobilenet_v2_1.0_224_quant', arch: 'v2', alpha: 1, resolution: 224, precision: 'uint8', licence: 'Apache-2.0' });
    expect(json.models[0].url).toBe(`${DEFAULT_MODELS_URL}/mobilenet_v2_1.0_224_quant.tflite`);
    expect(json.otherFiles).toEqual(['my_own_model.tflite']);
  }, 30_000);

  it('pull, path, verify and rm', async () => {
    const folder = emptyFolder();
    const env = { MOBILENET_HOME: folder, MOBILENET_MODELS_URL: `${server.url}/ok` };
    const missing = await mobilenet(['models', 'path', 'v1-0.5'], env);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe(`${join(folder, 'mobilenet_v1_0.5_160_quant.tflite')}\n`);

    const pulled = await mobilenet(['models', 'pull', 'v1-0.5', 'v1-0.25'], env);
    expect(pulled.code).toBe(0);
    expectFolder(folder, ['mobilenet_v1_0.5_160_quant.tflite', SMALL.file]);
    const again = await mobilenet(['models', 'pull', 'v1-0.25'], env);
    expect(again.stderr).toMatch(/already downloaded and verified/);

    const path = await mobilenet(['models', 'path', 'mobilenet_v1_0.5_160_quant'], env);
    expect(path.code).toBe(0);
    expect(path.stdout).toBe(`${join(folder, 'mobilenet_v1_0.5_160_quant.tflite')}\n`);

    const ok = await mobilenet(['models', 'verify'], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok +mobilenet_v1_0\.5_160_quant /m);
    expect(ok.stdout).toMatch(/^ok +mobilenet_v1_0\.25_128_quant /m);

    // One flipped byte, same size: only the hash can tell.
    const damaged = join(folder, SMALL.file);
    const bytes = readFileSync(damaged);
    bytes[1000] ^= 1;
    writeFileSync(damaged, bytes);
    const bad = await mobilenet(['models', 'verify'], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^BAD +mobilenet_v1_0\.25_128_quant /m);
    expect(bad.stderr).toContain(damaged);

    const forced = await mobilenet(['models', 'pull', '--force', 'v1-0.25'], env);
    expect(forced.code).toBe(0);
    expect((await mobilenet(['models', 'verify', 'v1-0.25'], env)).code).toBe(0);

    const removed = await mobilenet(['models', 'rm', 'v1-0.5', 'v1-0.25'], env);
    expect(removed.code).toBe(0);
    expectFolder(folder, []);
  }, 60_000);

  it('an unknown model name is a usage error listing the known ones', async () => {
    const result = await mobilenet(['models', 'pull', 'v3'], { MOBILENET_HOME: emptyFolder() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown model 'v3'.*mobilenet_v2_1\.0_224_quant \(v2\)/);
  });

  it('a failed pull is exit status 1 and keeps nothing', async () => {
    const folder = emptyFolder();
    const result = await mobilenet(['models', 'pull', 'v1-0.25'], { MOBILENET_HOME: folder, MOBILENET_MODELS_URL: `${server.url}/404` });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/HTTP 404.*save it as/);
    expectFolder(folder, []);
  });
});
