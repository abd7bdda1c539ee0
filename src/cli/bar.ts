// cli-progress bars, the package loaded on first use: most runs (scripts, pipes) draw none.
import type { Options, SingleBar } from 'cli-progress';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function progressBar(options: Options): SingleBar {
  const { SingleBar: Bar } = require('cli-progress') as typeof import('cli-progress');
  return new Bar(options);
}
