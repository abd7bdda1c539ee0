// Builds the XNNPACK peer (mobilenet-xnnpack.c) into bench/xnnpack/build/ when XNNPACK's headers
// and libraries are installed (Debian: libxnnpack-dev, libpthreadpool-dev); never part of the
// package's own install. Rebuilt when the source is newer than the program.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('mobilenet-xnnpack.c', import.meta.url));
export const XNNPACK_PROGRAM = fileURLToPath(new URL('build/mobilenet-xnnpack', import.meta.url));
const INSTALL_HINT = 'apt-get install libxnnpack-dev libpthreadpool-dev';

/** Whether the C compiler finds xnnpack.h (and the pthreadpool.h it includes). */
function headersPresent(cc) {
  const probe = spawnSync(cc, ['-x', 'c', '-E', '-o', '/dev/null', '-'], { input: '#include <xnnpack.h>\n', encoding: 'utf8' });
  return probe.status === 0;
}

/**
 * Builds the program if needed. Returns { built: true, path } or { built: false, reason } (a message
 * for the user: the XNNPACK rows are skipped, nothing else is affected).
 */
export function buildXnnpackPeer() {
  const cc = process.env.CC ?? 'cc';
  if (existsSync(XNNPACK_PROGRAM) && statSync(XNNPACK_PROGRAM).mtimeMs >= statSync(SOURCE).mtimeMs) {
    return { built: true, path: XNNPACK_PROGRAM };
  }
  if (!headersPresent(cc)) return { built: false, reason: `xnnpack.h not found by ${cc} (${INSTALL_HINT})` };
  mkdirSync(fileURLToPath(new URL('build', import.meta.url)), { recursive: true });
  const args = ['-std=c11', '-O2', '-Wall', '-Wextra', '-o', XNNPACK_PROGRAM, SOURCE, '-lXNNPACK', '-lpthreadpool', '-lm'];
  const result = spawnSync(cc, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    return { built: false, reason: `${cc} ${args.join(' ')} failed:\n${result.stderr || result.error?.message}` };
  }
  return { built: true, path: XNNPACK_PROGRAM };
}
