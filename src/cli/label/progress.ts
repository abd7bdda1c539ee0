// What `mobilenet label` (and `embed`) says on stderr while it runs: a progress bar (cli-progress) only
// when stderr is a terminal, never with --quiet: done/total once the total is known (a counting pass runs
// beside the work; a list on stdin has no total), img/s and the time left; and one summary line at the end.

import type { SingleBar } from 'cli-progress';
import { progressBar } from '../bar.js';

export interface Tally {
  ok: number;
  failed: number;
  /** Inputs skipped because --resume found them in the output already. */
  skipped: number;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : `${m} min ${String(s % 60).padStart(2, '0')} s`;
}

/** How the bar and the summary name the command and what it did to an input. */
export interface ProgressWords {
  command: string;
  done: string;
}

export class LabelProgress {
  readonly tally: Tally = { ok: 0, failed: 0, skipped: 0 };
  readonly #started = performance.now();
  #bar: SingleBar | undefined;
  #total: number | undefined;
  /** When the first image finished: the rate is measured from there (model loading is not labelling). */
  #firstAt: number | undefined;
  #sinceFirst = 0;

  constructor(
    show: boolean,
    stream: NodeJS.WriteStream = process.stderr,
    private readonly words: ProgressWords = { command: 'label', done: 'labelled' },
  ) {
    if (!show) return;
    this.#bar = progressBar({
      stream,
      hideCursor: true,
      fps: 5,
      format: (_options, params) => this.#line(params.value, stream.columns || 80),
    });
    this.#bar.start(0, 0);
  }

  get done(): number {
    return this.tally.ok + this.tally.failed;
  }

  /** The total, once the counting pass knows it. */
  setTotal(total: number): void {
    this.#total = total;
    this.#bar?.setTotal(total);
  }

  add(ok: boolean): void {
    if (ok) this.tally.ok++;
    else this.tally.failed++;
    const now = performance.now();
    if (this.#firstAt === undefined) this.#firstAt = now;
    else this.#sinceFirst++;
    this.#bar?.update(this.done);
  }

  skip(): void {
    this.tally.skipped++;
  }

  /** Counts a listing beside the work, for the bar's total; the function returned stops counting. */
  countTotal(paths: AsyncIterable<unknown>): () => void {
    let stopped = false;
    void (async () => {
      let total = 0;
      for await (const _ of paths) {
        if (stopped) return;
        total++;
      }
      this.setTotal(total);
    })().catch(() => undefined);
    return () => {
      stopped = true;
    };
  }

  /** Images per second since the first one finished (over the whole run when there is only one). */
  rate(): number {
    const now = performance.now();
    if (this.#firstAt !== undefined && this.#sinceFirst > 0 && now > this.#firstAt) return this.#sinceFirst / ((now - this.#firstAt) / 1000);
    const wall = (now - this.#started) / 1000;
    return wall > 0 ? this.done / wall : 0;
  }

  stop(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }

  /** The last line: what was done, how fast, how long it all took. */
  summary(interrupted?: string): string {
    const { ok, failed, skipped } = this.tally;
    // performance.now() counts from the process's start: the wall time of the whole command.
    const wall = performance.now() / 1000;
    const parts = [`${ok} ${this.words.done}`, `${failed} failed`];
    if (skipped > 0) parts.push(`${skipped} already done (--resume)`);
    parts.push(`${this.rate().toFixed(1)} img/s`, `${duration(wall)} wall time`);
    return `${interrupted ? `stopped by ${interrupted}: ` : ''}${parts.join(', ')}`;
  }

  #line(value: number, columns: number): string {
    const total = this.#total;
    const rate = this.rate();
    const stats = total === undefined
      ? `${value} done | ${rate.toFixed(1)} img/s`
      : `${value}/${total} | ${rate.toFixed(1)} img/s | ETA ${rate > 0 ? duration((total - value) / rate) : '?'}`;
    const { command } = this.words;
    if (total === undefined || total === 0) return `${command} ${stats}`;
    const width = Math.max(10, Math.min(40, columns - stats.length - 10));
    const filled = Math.min(width, Math.round((value / total) * width));
    return `${command} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${stats}`;
  }
}
