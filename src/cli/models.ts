// `mobilenet models list|pull|path|verify|rm`: the models the tool knows, and the folder that keeps them.
import type { Command } from 'commander';
import { readdir, unlink } from 'node:fs/promises';
import { CATALOG, findModel, knownModelNames, type CatalogEntry } from '../model/catalog.js';
import { downloadProgress } from './download-progress.js';
import { EXIT_INPUT_FAILED, fail } from './process.js';

function entryOf(name: string): CatalogEntry {
  const entry = findModel(name);
  if (!entry) fail(`unknown model '${name}' (known models: ${knownModelNames()})`);
  return entry;
}

const size = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The model store (cache, download, verification: node:crypto and more), loaded when a command runs, not for --help. */
async function store() {
  const [cache, download, resolve] = await Promise.all([import('../model/cache.js'), import('../model/download.js'), import('../model/resolve.js')]);
  return { ...cache, modelUrl: download.modelUrl, pullModel: resolve.pullModel };
}

export function registerModels(program: Command): void {
  const models = program
    .command('models')
    .description('list, download, verify and remove the models the tool knows by name')
    .addHelpText('after', `\nModels folder: $MOBILENET_HOME, else $XDG_CACHE_HOME/mobilenet, else the platform's cache folder.`);

  models
    .command('list')
    .description('every known model: name, aliases, arch, width, input size, precision, size, whether it is downloaded')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const { cachedFile, cacheState, modelsFolder, modelUrl } = await store();
      const rows = await Promise.all(CATALOG.map(async (entry) => {
        const file = cachedFile(entry);
        return { entry, file, cached: (await cacheState(entry, file, false)) === 'ok' };
      }));
      const folder = modelsFolder();
      const known = new Set(CATALOG.map((entry) => entry.file));
      const others = (await readdir(folder).catch(() => [] as string[]))
        .filter((name) => name.endsWith('.tflite') && !name.startsWith('.') && !known.has(name)).sort();
      if (flags.json) {
        const json = {
          folder,
          models: rows.map(({ entry, file, cached }) => ({ ...entry, url: modelUrl(entry), path: file, cached })),
          otherFiles: others,
        };
        process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
        return;
      }
      const table = [
        ['name', 'aliases', 'arch', 'alpha', 'input', 'precision', 'size', 'downloaded'],
        ...rows.map(({ entry, cached }) => [
          entry.name, entry.aliases.join(','), entry.arch, entry.alpha.toFixed(2), `${entry.resolution}x${entry.resolution}`,
          entry.precision, size(entry.bytes), cached ? 'yes' : 'no',
        ]),
      ];
      const widths = table[0].map((_, column) => Math.max(...table.map((row) => row[column].length)));
      for (const row of table) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()}\n`);
      process.stdout.write(`\nmodels folder: ${folder}\n`);
      if (others.length > 0) process.stdout.write(`other models there (use them by name): ${others.join(', ')}\n`);
      process.stdout.write(`source: ${CATALOG[0].source} (${CATALOG[0].licence}), pinned and checked by SHA-256\n`);
    });

  models
    .command('pull')
    .description('download models (by name or alias) into the models folder and verify them')
    .argument('<names...>', 'model names or aliases')
    .option('--force', 'download again even if a verified copy is there')
    .action(async (names: string[], flags: { force?: boolean }) => {
      const { cachedFile, cacheState, pullModel } = await store();
      const entries = names.map(entryOf);
      let failed = false;
      for (const entry of entries) {
        try {
          const file = cachedFile(entry);
          if (!flags.force && (await cacheState(entry, file, true)) === 'ok') {
            process.stderr.write(`mobilenet: ${entry.name}: already downloaded and verified (${file})\n`);
          } else {
            await pullModel(entry, { reporter: downloadProgress() });
          }
        } catch (error) {
          failed = true;
          process.stderr.write(`mobilenet: ${(error as Error).message}\n`);
        }
      }
      if (failed) process.exitCode = EXIT_INPUT_FAILED;
    });

  models
    .command('path')
    .description('print the file a model is kept in (exit 1 if it is not downloaded yet)')
    .argument('<name>', 'model name or alias')
    .action(async (name: string) => {
      const { cachedFile, cacheState } = await store();
      const entry = entryOf(name);
      const file = cachedFile(entry);
      process.stdout.write(`${file}\n`);
      if ((await cacheState(entry, file, false)) !== 'ok') {
        process.stderr.write(`mobilenet: ${entry.name} is not downloaded yet: mobilenet models pull ${entry.aliases[0] ?? entry.name}\n`);
        process.exitCode = EXIT_INPUT_FAILED;
      }
    });

  models
    .command('verify')
    .description('re-hash the downloaded models (all, or those named); exit 1 if one is damaged')
    .argument('[names...]', 'model names or aliases (default: every downloaded model)')
    .action(async (names: string[]) => {
      const { cachedFile, cacheState, modelsFolder } = await store();
      const entries = names.length > 0 ? names.map(entryOf) : CATALOG;
      let bad = false;
      let checked = 0;
      for (const entry of entries) {
        const file = cachedFile(entry);
        const state = await cacheState(entry, file, true);
        if (state === 'missing') {
          if (names.length > 0) process.stdout.write(`missing  ${entry.name}  ${file}\n`);
          continue;
        }
        checked++;
        if (state === 'ok') {
          process.stdout.write(`ok       ${entry.name}  ${file}\n`);
        } else {
          bad = true;
          process.stdout.write(`BAD      ${entry.name}  ${file}\n`);
          process.stderr.write(`mobilenet: ${file} is not the published ${entry.name} (size or sha256 differs); `
            + `mobilenet models pull --force ${entry.aliases[0] ?? entry.name} replaces it\n`);
        }
      }
      if (checked === 0 && names.length === 0) process.stdout.write(`no downloaded models in ${modelsFolder()}\n`);
      if (bad) process.exitCode = EXIT_INPUT_FAILED;
    });

  models
    .command('rm')
    .description('delete downloaded models from the models folder')
    .argument('<names...>', 'model names or aliases')
    .action(async (names: string[]) => {
      const { cachedFile } = await store();
      for (const entry of names.map(entryOf)) {
        const file = cachedFile(entry);
        try {
          await unlink(file);
          process.stderr.write(`mobilenet: removed ${file}\n`);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') fail(`cannot remove ${file}: ${(error as Error).message}`);
          process.stderr.write(`mobilenet: ${entry.name} was not downloaded\n`);
        }
      }
    });
}
