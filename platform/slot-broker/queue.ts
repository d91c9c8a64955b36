/**
 * One command at a time per slot: a card (and a T=0 line) cannot interleave exchanges, and a lease-end
 * reset must land after the command it follows, never in the middle of a GET RESPONSE chain.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    // The chain must survive a failed task, or one card error would wedge the slot for good.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
