// The transcript page of a chat that is still going: new lines arrive over the staff
// websocket, already rendered by the server, and are appended here. Read-only.
(function () {
  "use strict";

  const list = document.getElementById("transcript");
  const status = document.getElementById("live-status");
  if (!list || !list.dataset.liveUrl) {
    return;
  }
  let after = Number(list.dataset.after || 0);
  let ended = false;
  let retryDelay = 1000;

  function setStatus(state, text) {
    if (status) {
      status.dataset.state = state;
      status.textContent = text;
    }
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  }

  function insert(html, itemId) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const node = template.content.firstElementChild;
    if (!node) {
      return;
    }
    const existing = itemId ? list.querySelector(`[data-item="${CSS.escape(itemId)}"]`) : null;
    const empty = list.querySelector(".entry-empty");
    if (empty) {
      empty.remove();
    }
    if (existing) {
      existing.replaceWith(node);
    } else {
      list.appendChild(node);
    }
  }

  function handle(frame) {
    if (typeof frame.seq === "number") {
      if (frame.seq <= after) {
        return;
      }
      after = frame.seq;
    }
    const follow = nearBottom();
    if (frame.type === "entry") {
      insert(frame.html, frame.item_id);
    } else if (frame.type === "receipt") {
      const line = list.querySelector(`[data-receipt-for="${CSS.escape(frame.message_id)}"]`);
      if (line) {
        const template = document.createElement("template");
        template.innerHTML = frame.html.trim();
        line.replaceChildren(template.content);
      }
    } else if (frame.type === "ended") {
      ended = true;
      setStatus("ended", "The chat has ended.");
    }
    if (follow) {
      window.scrollTo(0, document.body.scrollHeight);
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${window.location.host}${list.dataset.liveUrl}?after=${after}`;
    const socket = new WebSocket(url);
    socket.addEventListener("open", function () {
      retryDelay = 1000;
      setStatus("live", "Live: new messages appear as they arrive.");
    });
    socket.addEventListener("message", function (message) {
      handle(JSON.parse(message.data));
    });
    socket.addEventListener("close", function (event) {
      if (ended) {
        return;
      }
      if (event.code === 4003) {
        setStatus("denied", "You may not watch this chat live.");
        return;
      }
      setStatus("reconnecting", "Connection lost; reconnecting…");
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    });
  }

  connect();
})();
