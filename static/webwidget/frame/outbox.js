// The customer's messages that ChatBridge has not acknowledged yet. Each keeps the client_id it
// was given when written: every send of it (the first, after an unanswered one, after an error
// worth retrying, after a reconnect or a reload) carries that id, which ChatBridge makes the
// send idempotent on, so the agent sees the message once.

export const ACK_TIMEOUT = 15000;
const RETRYABLE = new Set(["rate_limited", "throttled", "upstream_unavailable", "internal_error"]);

// Errors that say "not now" rather than "never": the message waits and goes again.
export const retryable = (code) => RETRYABLE.has(code);

export class Outbox {
  // send(frame) says whether the frame went out (false while the link is down or replaying);
  // onRetrying(item) tells the page that an item waits to be sent again.
  constructor({ send, onRetrying = () => {} }) {
    this.send = send;
    this.onRetrying = onRetrying;
    this.items = [];
  }

  // Starts over with these items (a chat's stored outbox, or none).
  reset(items = []) {
    this.items = items;
  }

  push(item) {
    this.items.push(item);
  }

  find(clientId) {
    return this.items.find((item) => item.client_id === clientId);
  }

  // Sends every item not already waiting for its ack; one left unanswered for ACK_TIMEOUT goes
  // again.
  flush() {
    for (const item of this.items) {
      if (item.inflight) continue;
      const frame = { type: "send", content: item.content, content_type: item.content_type, client_id: item.client_id, ref: item.client_id };
      if (!this.send(frame)) continue;
      item.inflight = true;
      clearTimeout(item.timer);
      item.timer = setTimeout(() => this.retryLater(item, 0), ACK_TIMEOUT);
    }
  }

  // Sends the outbox again in `seconds` (at least one).
  retryLater(item, seconds) {
    item.inflight = false;
    this.onRetrying(item);
    clearTimeout(item.timer);
    item.timer = setTimeout(() => this.flush(), Math.max(seconds, 1) * 1000);
  }

  // The connection went (or is being replaced): whatever was on its way may never have arrived,
  // so every item goes again with the next flush; each is reported waiting unless quiet.
  interrupted({ quiet = false } = {}) {
    for (const item of this.items) {
      item.inflight = false;
      clearTimeout(item.timer);
      if (!quiet) this.onRetrying(item);
    }
  }

  // Takes out the item an ack is about and stops waiting for it; null when there is none.
  acknowledge(clientId) {
    const index = this.items.findIndex((item) => item.client_id === clientId);
    if (index < 0) return null;
    const [item] = this.items.splice(index, 1);
    clearTimeout(item.timer);
    return item;
  }

  // Takes out an item ChatBridge refused for good.
  discard(item) {
    this.items.splice(this.items.indexOf(item), 1);
  }

  // What a reload finds again: each item without its sending state; null when there is none.
  stored() {
    if (!this.items.length) return null;
    return this.items.map(({ client_id, content, content_type, at }) => ({ client_id, content, content_type, at }));
  }
}
