// How a model download shows on stderr: a progress bar on a terminal, a line at start and end otherwise.
import type { SingleBar } from 'cli-progress';
import { progressBar } from './bar.js';
import type { DownloadReporter } from '../model/download.js';

const MIB = 2 ** 20;
const mib = (bytes: number) => (bytes / MIB).toFixed(1);

export function downloadProgress(stream: NodeJS.WriteStream = process.stderr): DownloadReporter {
  let bar: SingleBar | undefined;
  let name = '';
  let total = 0;
  let started = 0;
  const say = (line: string) => stream.write(`mobilenet: ${line}\n`);
  return {
    start(url, totalBytes) {
      name = url.slice(url.lastIndexOf('/') + 1);
      total = totalBytes;
      started = performance.now();
      if (stream.isTTY) {
        bar = progressBar({
          stream,
          hideCursor: true,
          format: `downloading ${name} [{bar}] {percentage}% | {received}/{size} MiB | {speed} MiB/s`,
        });
        bar.start(totalBytes, 0, { received: '0.0', size: mib(totalBytes), speed: '0.0' });
      } else {
        say(`downloading ${name} (${mib(totalBytes)} MiB) from ${url}`);
      }
    },
    progress(received) {
      const seconds = (performance.now() - started) / 1000;
      bar?.update(received, { received: mib(received), speed: seconds > 0 ? mib(received / seconds) : '0.0' });
    },
    retry(attempt, reason, delayMs) {
      bar?.stop();
      bar = undefined;
      say(`download attempt ${attempt} failed: ${reason}; retrying in ${(delayMs / 1000).toFixed(1)} s`);
    },
    done(file) {
      bar?.stop();
      bar = undefined;
      const seconds = (performance.now() - started) / 1000;
      say(`${name}: ${mib(total)} MiB in ${seconds.toFixed(1)} s, sha256 verified, saved as ${file}`);
    },
  };
}
