/**
 * Every byte buffer the broker keeps for a slot (command copies, raw card responses, assembled
 * responses) is registered here so that it can be wiped with fill(0) when an exchange is superseded
 * or a lease ends: the next holder of the slot, or anyone reading process memory later, must not
 * find the previous holder's data.
 */
export class SlotBuffers {
  private held: Uint8Array[] = [];

  /** Keep `buf` under the broker's care until the next exchange or the end of the lease. */
  hold<T extends Uint8Array>(buf: T): T {
    this.held.push(buf);
    return buf;
  }

  /** A new exchange supersedes the previous one: its buffers are no longer needed. */
  beginExchange(): void {
    this.zeroAll();
  }

  zeroAll(): void {
    for (const b of this.held) b.fill(0);
    this.held = [];
  }

  /** Test-only view of the buffers currently held (the same objects, not copies). */
  inspect(): readonly Uint8Array[] {
    return [...this.held];
  }
}
