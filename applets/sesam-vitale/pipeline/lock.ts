/**
 * One in-isolate async mutex: two handler calls interleave at every await, so every
 * read-modify-write of the store (counters, states) runs inside `withLock`. Not re-entrant:
 * only the action dispatcher and the card handlers take it, never the pipeline modules.
 */
let tail: Promise<void> = Promise.resolve();
let held = false;

export async function withLock<T>(f: () => Promise<T>): Promise<T> {
  const prev = tail;
  let release!: () => void;
  tail = new Promise<void>((r) => (release = r));
  await prev;
  held = true;
  try {
    return await f();
  } finally {
    held = false;
    release();
  }
}

/** For assertions in the pipeline: a store write outside the lock is a bug. */
export function lockHeld(): boolean {
  return held;
}
