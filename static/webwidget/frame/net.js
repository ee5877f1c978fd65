// ChatBridge's REST API (same origin as the frame) and the chat websocket, kept alive.

import { afterClose } from "./closes.js";

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || (status ? `http_${status}` : "network");
    this.field = problem.field || null;
    this.problem = problem; // the whole answer: some errors carry more (next_open)
  }
}

export async function api(method, path, { token, body, idempotencyKey } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "omit", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, { code: "network", detail: error.message });
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export function putFile(path, file, contentType, token, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    signal?.addEventListener("abort", () => xhr.abort());
    xhr.addEventListener("abort", () => reject(new ApiError(0, { code: "aborted" })));
    xhr.open("PUT", path);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Content-Type", contentType);
    xhr.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded / e.total));
    xhr.addEventListener("load", () => {
      let problem = {};
      try { problem = JSON.parse(xhr.responseText || "{}"); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(problem);
      else reject(new ApiError(xhr.status, problem));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { code: "network" })));
    xhr.send(file);
  });
}

// The wait before reconnect attempt `attempt` (0 first): half a second, doubling up to ten
// seconds, each spread by ±30 % so that widgets dropped together do not all return together.
export function backoff(attempt, random = Math.random) {
  return Math.min(500 * 2 ** attempt, 10000) * (0.7 + random() * 0.6);
}

// How long a ping may go unanswered (by a pong or any other frame) before the socket counts as
// dead: a network lost without the socket closing otherwise goes unnoticed for minutes.
export const PONG_WAIT = 10000;

// One websocket to /ws/chat/: authenticates with `after` = the last seq held, pings, and
// reconnects with jittered backoff whenever it drops, goes silent or the browser goes offline,
// until closed on purpose; a restarting or crowded server is waited for as it asks (closes.js).
export class Link {
  constructor({ token, after, onFrame, onStatus }) {
    Object.assign(this, { token, after, onFrame, onStatus });
    this.attempt = 0;
    this.restarts = 0;  // 4012 closes since the chat was last ready
    this.ready = false;
    this.stopped = false;
    this.url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws/chat/`;
    this.wake = () => (!this.ws || this.ws.readyState > 1) && this.retryNow();
    this.offline = () => this.ws && this.lost(this.ws);
    addEventListener("online", this.wake);
    addEventListener("offline", this.offline);
    this.open();
  }

  open() {
    clearTimeout(this.retry);
    clearTimeout(this.silence);
    const previous = this.ws;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    if (previous && previous.readyState < 2) previous.close(1000);
    let pinger;  // this socket's own: a replaced socket closing later must not stop the next's
    let retryAfter;  // of a too_many_connections refusal, before its close
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "auth", token: this.token, after: this.after(), early_events: true, ref: "auth" }));
      pinger = setInterval(() => this.check(), 25000);
      this.pinger = pinger;
    });
    ws.addEventListener("message", (e) => {
      if (this.ws === ws) {
        clearTimeout(this.silence);
        this.silence = 0;
      }
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      if (frame.code === "too_many_connections") retryAfter = frame.retry_after;
      if (frame.type === "ready") {
        this.ready = true;
        this.attempt = 0;
        this.restarts = 0;
        this.onStatus("up");
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (e) => {
      clearInterval(pinger);
      if (this.ws !== ws) return;
      this.ready = false;
      clearTimeout(this.silence);
      this.silence = 0;
      if (this.stopped) return;
      const plan = afterClose(e.code, retryAfter, Math.random, this.restarts);
      if (plan && plan.status === "restarting") this.restarts++;
      this.onStatus(plan ? plan.status : "down");
      this.retry = setTimeout(() => this.open(), plan ? plan.wait : backoff(this.attempt++));
    });
  }

  // Pings now, and gives the socket up when nothing answers within PONG_WAIT.
  check() {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return;
    ws.send('{"type":"ping"}');
    if (!this.silence) this.silence = setTimeout(() => this.lost(ws), PONG_WAIT);
  }

  // A socket that can no longer carry anything, though it may not have closed: reported down
  // and replaced, after the backoff, like one that closed.
  lost(ws) {
    if (this.ws !== ws || this.stopped) return;
    this.ws = null;
    this.ready = false;
    clearTimeout(this.silence);
    this.silence = 0;
    clearInterval(this.pinger);
    if (ws.readyState < 2) ws.close(4000);
    this.onStatus("down");
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.open(), backoff(this.attempt++));
  }

  retryNow() {
    this.attempt = 0;
    this.open();
  }

  send(frame) {
    if (!this.ready || !this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  close() {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.pinger);
    clearTimeout(this.silence);
    removeEventListener("online", this.wake);
    removeEventListener("offline", this.offline);
    if (this.ws) this.ws.close(1000);
  }
}
