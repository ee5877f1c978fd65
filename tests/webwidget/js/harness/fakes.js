// Stand-ins for the page's clock, randomness and websockets, so that tests of the widget's
// network code decide when time passes and what the server says, and never wait.

// A clock that moves only when told: replaces setTimeout, setInterval and their clear* (the
// widget's modules look them up on the global object when they call them).
export class FakeClock {
  constructor() {
    this.now = 0;
    this.timers = new Map();
    this.lastId = 0;
  }

  install(target = globalThis) {
    target.setTimeout = (fn, delay = 0, ...args) => this.add(fn, delay, args, false);
    target.setInterval = (fn, delay = 0, ...args) => this.add(fn, delay, args, true);
    target.clearTimeout = (id) => this.timers.delete(id);
    target.clearInterval = (id) => this.timers.delete(id);
    return this;
  }

  add(fn, delay, args, repeat) {
    const id = ++this.lastId;
    const every = Math.max(0, Number(delay) || 0);
    this.timers.set(id, { fn, args, at: this.now + every, every, repeat });
    return id;
  }

  // The delays (from now, in ms) of the timers waiting, soonest first.
  pending() {
    return [...this.timers.values()].map((timer) => timer.at - this.now).sort((a, b) => a - b);
  }

  // Moves time on by ms, running each timer that falls due on the way, in order.
  tick(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, timer]) => timer.at <= end)
        .sort(([a, x], [b, y]) => x.at - y.at || a - b)[0];
      if (!due) break;
      const [id, timer] = due;
      this.now = timer.at;
      if (timer.repeat) timer.at += Math.max(timer.every, 1);
      else this.timers.delete(id);
      timer.fn(...timer.args);
    }
    this.now = end;
  }
}

// A websocket whose server side the test plays: accept(), receive(frame), drop(). Frames the
// page sends while it is open are kept, parsed, in `sent`.
export class FakeWebSocket extends EventTarget {
  static instances = [];

  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    FakeWebSocket.instances.push(this);
  }

  static install(target = globalThis) {
    FakeWebSocket.instances = [];
    target.WebSocket = FakeWebSocket;
    return FakeWebSocket;
  }

  static get last() {
    return FakeWebSocket.instances.at(-1);
  }

  send(data) {
    if (this.readyState === 0) throw new DOMException("Still in CONNECTING state.", "InvalidStateError");
    if (this.readyState === 1) this.sent.push(JSON.parse(data));
  }

  close(code = 1005) {
    if (this.readyState === 3) return;
    this.closedWith = code;
    this.readyState = 3;
    this.dispatchEvent(new CloseEvent("close", { code }));
  }

  accept() {
    this.readyState = 1;
    this.dispatchEvent(new Event("open"));
  }

  receive(frame) {
    this.dispatchEvent(new MessageEvent("message", { data: typeof frame === "string" ? frame : JSON.stringify(frame) }));
  }

  drop(code = 1006) {
    this.readyState = 3;
    this.dispatchEvent(new CloseEvent("close", { code }));
  }
}

// Math.random answering the given values in turn, the last one over and over.
export function fixedRandom(...values) {
  let i = 0;
  Math.random = () => values[Math.min(i++, values.length - 1)];
}
