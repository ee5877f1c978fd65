// The two closes that are the server's word rather than a failure (docs/websocket-protocol.md,
// "Close codes"). The link waits as each asks, and neither counts as a failed attempt: the
// backoff after them goes on from where it was.

// The process serving the chat shuts down (a deployment, a restart) and another serves it at
// once: come back soon, spread so that its clients do not all land on the others together.
// Closed so again before the chat was ready, the link waits twice as long each time (up to
// eight times): no process is taking the chat, and coming back every second would not help.
export const RESTARTING = 4012;
const MAX_RESTART_GROWTH = 8;
// The chat (or the address) has as many live connections as it may (other tabs or windows):
// coming back before the server's retry_after would only be refused again.
export const CROWDED = 4029;

// What the link does after a close with this code: {status, wait} (ms) for these two, null for
// any other (reported "down", retried after the backoff). retryAfter is the seconds of the
// too_many_connections error that came before the close; restarts, how many 4012 closes came
// since the chat was last ready.
export function afterClose(code, retryAfter, random = Math.random, restarts = 0) {
  if (code === RESTARTING) {
    const growth = Math.min(2 ** restarts, MAX_RESTART_GROWTH);
    return { status: "restarting", wait: (250 + random() * 1750) * growth };
  }
  if (code === CROWDED) return { status: "crowded", wait: Math.max(Number(retryAfter) || 5, 1) * 1000 * (1 + random() * 0.5) };
  return null;
}
