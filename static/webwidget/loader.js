/* ChatBridge widget loader: <script src="https://HOST/static/webwidget/loader.js"
   data-chatbridge-widget="WIDGET_ID" async></script>
   It draws one fixed-position iframe (the chat lives in it, on ChatBridge's origin) and offers
   window.ChatBridge: open, close, toggle, endChat, identify, on, off. Calls made before it
   loaded are queued by this stub:
   window.ChatBridge=window.ChatBridge||function(){(window.ChatBridge.q=window.ChatBridge.q||[]).push(arguments)}; */
(function () {
  "use strict";
  var w = window, d = document;
  var prior = w.ChatBridge;
  if (prior && prior.loaded) return;
  var script = d.currentScript || d.querySelector("script[data-chatbridge-widget]");
  if (!script) return;
  var widget = script.getAttribute("data-chatbridge-widget") || "default";
  var host = new URL(script.src, location.href).origin;
  var queue = (prior && prior.q) || [];
  var listeners = {};
  var outbox = [];
  var frameReady = false;
  var state = { open: false, full: false };
  var previousFocus = null;
  var silence = 0;
  var WAIT_READY = 5000;

  var frame = d.createElement("iframe");
  frame.src = host + "/widget/" + encodeURIComponent(widget) + "/frame";
  frame.title = "Chat";
  frame.setAttribute("allow", "autoplay");

  function css(el, props) {
    for (var k in props) el.style.setProperty(k, props[k], "important");
  }

  // What the visitor sees: on a phone, a host page wider than the screen widens the layout
  // viewport (innerWidth, and what fixed 100% means) beyond the screen; the visual viewport
  // is the screen's part of it.
  function screenBox() {
    var v = w.visualViewport;
    return v ? { w: v.width, h: v.height, x: v.offsetLeft, y: v.offsetTop }
      : { w: w.innerWidth, h: w.innerHeight, x: 0, y: 0 };
  }

  function small() {
    var s = screenBox();
    return s.w < 520 || s.h < 560;
  }

  function layout() {
    var full = state.open && small();
    var s = screenBox();
    var side = frame.getAttribute("data-side") === "left" ? "left" : "right";
    css(frame, {
      position: "fixed", display: "block", visibility: "visible", opacity: "1",
      border: "0", margin: "0", padding: "0", "z-index": "2147483000",
      background: "transparent", "color-scheme": "light", "box-shadow": "none",
      transform: "none", filter: "none", "pointer-events": "auto",
      "max-width": "none", "max-height": "none", "min-width": "0", "min-height": "0",
      float: "none", outline: "none", transition: "none", animation: "none", zoom: "1",
      top: full ? s.y + "px" : "auto", bottom: full ? "auto" : "0",
      left: full ? s.x + "px" : side === "left" ? "0" : "auto",
      right: !full && side === "right" ? "0" : "auto",
      width: full ? s.w + "px" : state.open ? Math.min(424, s.w) + "px" : "100px",
      height: full ? s.h + "px" : state.open ? Math.min(760, s.h) + "px" : "100px",
    });
    if (full !== state.full) {
      state.full = full;
      clip(null);
      post({ type: "layout", full: full });
    }
  }

  // The frame's visible parts (the bubble, the panel) as rounded boxes [x, y, w, h, radius]:
  // the frame is clipped to them, so the transparent rest of it leaves the host page's clicks
  // alone. None (full screen, or not told yet): no clip.
  function clip(boxes) {
    var path = "";
    if (!state.full && Array.isArray(boxes)) {
      boxes.forEach(function (b) {
        if (!Array.isArray(b) || b.length !== 5 || !b.every(isFinite)) return;
        var x = +b[0], y = +b[1], bw = +b[2], bh = +b[3];
        var r = Math.max(0, Math.min(+b[4], bw / 2, bh / 2));
        path += "M" + (x + r) + " " + y + "H" + (x + bw - r) + "A" + r + " " + r + " 0 0 1 " + (x + bw) + " " + (y + r) +
          "V" + (y + bh - r) + "A" + r + " " + r + " 0 0 1 " + (x + bw - r) + " " + (y + bh) +
          "H" + (x + r) + "A" + r + " " + r + " 0 0 1 " + x + " " + (y + bh - r) +
          "V" + (y + r) + "A" + r + " " + r + " 0 0 1 " + (x + r) + " " + y + "Z";
      });
    }
    css(frame, { "clip-path": path ? "path(\"" + path + "\")" : "none" });
  }

  function post(msg) {
    msg.cb = 1;
    if (frameReady && frame.contentWindow) frame.contentWindow.postMessage(msg, host);
    else outbox.push(msg);
  }

  // A frame that a CSP frame-ancestors refuses never runs: its host page hears nothing but
  // the browser's own error. Say which origin and which setting, once the frame has loaded
  // and stayed silent.
  function warn(text) {
    if (w.console) console.warn("ChatBridge: " + text);
  }
  function silent() {
    warn("the widget \"" + widget + "\" from " + host + " did not start on this page (" +
      location.origin + "): most likely " + location.origin + " may not embed it. Add it to the " +
      "widget's \"Where it may run\" (allowed origins) in ChatBridge's admin, or, for a widget " +
      "that lists none, to CHATBRIDGE_ALLOWED_ORIGINS; and check that the widget is enabled.");
  }

  function emit(name, data) {
    (listeners[name] || []).slice().forEach(function (fn) {
      try { fn(data); } catch (e) { setTimeout(function () { throw e; }); }
    });
  }

  function notify(msg) {
    if (!("Notification" in w)) return;
    if (msg.request) {
      Notification.requestPermission().then(function (p) { post({ type: "permission", state: p }); });
      return;
    }
    if (Notification.permission === "granted") {
      var n = new Notification(String(msg.title || ""), { body: String(msg.body || ""), tag: "chatbridge" });
      n.onclick = function () { w.focus(); api.open(); n.close(); };
    }
  }

  w.addEventListener("message", function (e) {
    if (e.source !== frame.contentWindow || e.origin !== host) return;
    var m = e.data;
    if (!m || m.cb !== 1 || typeof m.type !== "string") return;
    if (m.type === "ready") {
      clearTimeout(silence);
      frameReady = true;
      frame.setAttribute("data-side", m.side === "left" ? "left" : "right");
      layout();
      outbox.splice(0).forEach(post);
    } else if (m.type === "state") {
      var was = state.open;
      state.open = !!m.open;
      if (state.open && !was) previousFocus = d.activeElement;
      if (state.open !== was) clip(null);  // until the frame, resized, tells its new shape
      layout();
      if (state.open !== was) {
        if (state.open && !m.quiet && d.activeElement !== frame) frame.focus();
        else if (m.restoreFocus && previousFocus && previousFocus !== frame && previousFocus.focus) previousFocus.focus();
        emit(state.open ? "open" : "close", {});
      }
    } else if (m.type === "event" && /^(message|unread|ended)$/.test(m.name)) {
      emit(m.name, m.data || {});
    } else if (m.type === "shape") {
      clip(m.boxes);
    } else if (m.type === "notify") {
      notify(m);
    } else if (m.type === "refused") {
      warn(String(m.detail));
    }
  });
  frame.addEventListener("load", function () {
    frameReady = false;
    clearTimeout(silence);
    silence = setTimeout(silent, WAIT_READY);
    frame.contentWindow.postMessage({ cb: 1, type: "hello", full: state.open && small() }, host);
  });
  function relayout() { if (frameReady) layout(); }
  w.addEventListener("resize", relayout);
  if (w.visualViewport) {
    w.visualViewport.addEventListener("resize", relayout);
    w.visualViewport.addEventListener("scroll", function () { if (state.full) relayout(); });
  }

  function command(name) {
    return function () {
      post({ type: "command", name: name, args: JSON.parse(JSON.stringify([].slice.call(arguments))) });
    };
  }
  function api(cmd) {
    if (typeof api[cmd] === "function" && cmd !== "q") return api[cmd].apply(null, [].slice.call(arguments, 1));
  }
  api.loaded = true;
  api.open = command("open");
  api.close = command("close");
  api.toggle = command("toggle");
  api.endChat = command("endChat");
  api.identify = command("identify");
  api.on = function (name, fn) {
    if (typeof fn === "function") (listeners[name] = listeners[name] || []).push(fn);
  };
  api.off = function (name, fn) {
    listeners[name] = (listeners[name] || []).filter(function (f) { return f !== fn; });
  };
  api.isOpen = function () { return state.open; };
  w.ChatBridge = api;

  css(frame, { position: "fixed", width: "0", height: "0", border: "0", bottom: "0", right: "0", "clip-path": "none" });
  // The frame comes after the host page's own load event, which it would otherwise hold back.
  function mount() { d.documentElement.appendChild(frame); }
  if (d.readyState === "complete") mount();
  else w.addEventListener("load", mount);
  queue.forEach(function (args) { api.apply(null, [].slice.call(args)); });
})();
