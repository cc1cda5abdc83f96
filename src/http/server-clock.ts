// How far the API servers' clock is from ours, read from the Date header of their answers. Times
// the server puts on items (created_at, updatedAt) are compared with moments we noted by our own
// clock only through it: a drift of minutes must not make a stranger's item look like ours, nor ours
// look too old. Date has one-second resolution, so the offset is known to about ±1 s.

export class ServerClock {
  private offsets: number[] = [];

  /** An answer's Date header, and our clock when the request went out and when the answer came. */
  observe(date: string | string[] | undefined, sentAt: number, answeredAt: number): void {
    const v = Array.isArray(date) ? date[0] : date;
    if (!v) return;
    const server = Date.parse(v);
    if (Number.isNaN(server)) return;
    // The server stamped it somewhere in between; Date truncates to the second.
    this.offsets.push(server + 500 - (sentAt + answeredAt) / 2);
    if (this.offsets.length > 15) this.offsets.shift();
  }

  /** Server time minus ours, in ms (median of the last answers); undefined before any answer. */
  get offsetMs(): number | undefined {
    if (this.offsets.length === 0) return undefined;
    const sorted = [...this.offsets].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }
}

/** The process's view of the API servers' clock (every API answer feeds it). */
export const serverClock = new ServerClock();
