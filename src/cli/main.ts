import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerBench } from './bench.js';
import { registerClassify } from './classify.js';
import { registerEmbed } from './embed.js';
import { registerInspect } from './inspect.js';
import { registerLabel } from './label.js';
import { registerModels } from './models.js';
import { fail, handleStdoutErrors } from './process.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('mobilenet')
  .description('Classify images with MobileNet v1/v2 on the CPU')
  .version(version)
  .showHelpAfterError()
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

handleStdoutErrors();
registerClassify(program);
registerLabel(program);
registerEmbed(program);
registerBench(program);
registerModels(program);
registerInspect(program);

program.parseAsync(process.argv).catch(fail);
