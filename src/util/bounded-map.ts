// Runs an async function over a stream of inputs with at most `concurrency` calls in flight and
// yields the results in input order (or as they finish). Inputs are pulled only as work frees up, so
// a huge or endless input stream costs memory for `concurrency` items, not for the stream.

export interface BoundedMapOptions {
  concurrency: number;
  /** Yield in input order (default) or as soon as each call finishes. */
  ordered?: boolean;
  /** Once aborted, no further input is taken; calls already started still finish and are yielded. */
  signal?: AbortSignal;
}

export async function* boundedMap<T, R>(
  inputs: Iterable<T> | AsyncIterable<T>,
  work: (input: T, index: number) => Promise<R>,
  { concurrency, ordered = true, signal }: BoundedMapOptions,
): AsyncGenerator<R> {
  const iterator = Symbol.asyncIterator in inputs
    ? (inputs as AsyncIterable<T>)[Symbol.asyncIterator]()
    : (inputs as Iterable<T>)[Symbol.iterator]();
  type Slot = { promise: Promise<{ slot: Slot; result: R }> };
  const window: Slot[] = [];
  let index = 0;
  let exhausted = false;

  const refill = async () => {
    while (!exhausted && window.length < concurrency && !signal?.aborted) {
      const next = await iterator.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const slot = {} as Slot;
      slot.promise = work(next.value, index++).then((result) => ({ slot, result }));
      // A rejection is seen when the slot is awaited; until then it must not count as unhandled.
      slot.promise.catch(() => undefined);
      window.push(slot);
    }
  };

  try {
    await refill();
    while (window.length > 0) {
      const { slot, result } = ordered ? await window[0]!.promise : await Promise.race(window.map((s) => s.promise));
      window.splice(window.indexOf(slot), 1);
      await refill();
      yield result;
    }
  } finally {
    if (!exhausted) await iterator.return?.();
  }
}
