// How often the event loop got a turn while some async work ran: a decoder that never yields gets none.
export async function withEventLoopTurns<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let stop = false;
  const spin = () => {
    turns++;
    if (!stop) setImmediate(spin);
  };
  setImmediate(spin);
  try {
    return { result: await work(), turns };
  } finally {
    stop = true;
  }
}
