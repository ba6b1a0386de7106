// Waits until the peer has received everything written to a socket, so the simulator can reset
// the connection (TCP RST) without destroying data still in flight: an RST discards what the
// kernel has not sent yet, and a client slowed by its own backpressure leaves data there. That
// would make "reset right after the last frame" a random shortfall instead of the fault it
// reproduces. On Linux the kernel says what is unacknowledged (tx_queue in /proc/net/tcp);
// elsewhere a short pause after the last write stands in.
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';

const POLL_MS = 10;
const FALLBACK_PAUSE_MS = 200;

/** Resolves once `sock` has nothing unsent or unacknowledged, or after `boundMs` (then anyway). */
export async function waitDelivered(sock: Socket, boundMs: number): Promise<void> {
  const until = Date.now() + boundMs;
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
  while (sock.writableLength > 0 && !sock.destroyed && Date.now() < until) await pause(POLL_MS);
  for (;;) {
    if (sock.destroyed || Date.now() >= until) return;
    const q = await unacknowledgedBytes(sock);
    if (q === undefined) return void (await pause(FALLBACK_PAUSE_MS));
    if (q === 0) return;
    await pause(POLL_MS);
  }
}

/** The kernel's count of bytes sent but not acknowledged (or not sent yet); undefined off Linux. */
async function unacknowledgedBytes(sock: Socket): Promise<number | undefined> {
  const hex = (port: number | undefined) => (port ?? 0).toString(16).toUpperCase().padStart(4, '0');
  const local = `:${hex(sock.localPort)}`;
  const remote = `:${hex(sock.remotePort)}`;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue;
    }
    // "sl local_address rem_address st tx_queue:rx_queue …", addresses as HEXIP:HEXPORT
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length > 4 && f[1].endsWith(local) && f[2].endsWith(remote)) return parseInt(f[4].split(':')[0], 16);
    }
  }
  return undefined;
}
