// The chat frame: launcher, panel, pre-chat form, message list and composer. It talks to the
// host page's loader by postMessage (origin-checked both ways), to ChatBridge by REST and
// the /ws/chat/ websocket. Its session token lives in this frame's own localStorage.

import { Aftercare, prechatEmail } from "./aftercare.js";
import { CrowdedNotice } from "./crowded.js";
import { customerFields, installPrevious, isHistory, markEarlier, rememberCustomer } from "./conversations.js";
import { h, icon, uid } from "./dom.js";
import { pickLocale, translator } from "./i18n.js";
import {
  INTERACTIVE, INTERACTIVE_RESPONSE, parseInteractive, renderInteractive, responseText, summary,
} from "./interactive.js";
import { linkify, renderMarkdown } from "./markdown.js";
import { CLOSED, MessageForm, isClosed, offerFor } from "./message_form.js";
import { ApiError, Link, api, putFile } from "./net.js";
import { Outbox, retryable } from "./outbox.js";

const cfg = JSON.parse(document.documentElement.dataset.config);
const t = translator(pickLocale(cfg.locale));
// The operator's title, greeting and labels in the visitor's language, when there are any.
const words = (cfg.texts && cfg.texts[t.locale]) || {};
const titleText = words.title || cfg.title;
const greetingText = words.greeting || cfg.greeting;
const labelOf = (field) => (words.labels && words.labels[field.name]) || String(field.label || field.name);
const MAX_FILE = 20 * 1024 * 1024;
const TYPING_EVERY = 10000;
const TYPING_CLEARS = 12000;
const OTHERS = new Set(["AGENT", "SYSTEM", "CUSTOM_BOT", "SUPERVISOR"]);
const MIME = { pdf: "application/pdf", png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg",
  jfif: "image/jpeg", heic: "image/heic", txt: "text/plain", csv: "text/csv", rtf: "application/rtf",
  mp4: "video/mp4", mov: "video/quicktime", wav: "audio/wav", doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel", xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint", pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation" };

const KEY = `chatbridge:${cfg.widget_id}`;
const store = {
  get(name, fallback) {
    try { return JSON.parse(localStorage.getItem(`${KEY}:${name}`)) ?? fallback; } catch { return fallback; }
  },
  set(name, value) {
    try {
      if (value == null) localStorage.removeItem(`${KEY}:${name}`);
      else localStorage.setItem(`${KEY}:${name}`, JSON.stringify(value));
    } catch { /* storage full or blocked: the chat still works for this page */ }
  },
};

// ---- host page (loader) messaging ----------------------------------------------------------

const framed = window.parent !== window;
const allowedHosts = new Set(cfg.allowed_origins || []);
let hostOrigin = null;
const toHost = (message) => {
  if (framed && hostOrigin) window.parent.postMessage({ ...message, cb: 1 }, hostOrigin);
};
const emit = (name, data = {}) => toHost({ type: "event", name, data });

// What ChatBridge will refuse this frame, told to the host page's console by its loader:
// the origin and the setting or admin field that would let it through.
const refusals = [];
const tellRefused = (detail) => {
  refusals.push(detail);
  toHost({ type: "refused", detail });
};
if (Array.isArray(cfg.socket_origins) && !cfg.socket_origins.includes(location.origin)) {
  refusals.push(`the chat websocket from ${location.origin} is refused (its origin is not allowed): `
    + `set CHATBRIDGE_PUBLIC_ORIGIN to ${location.origin}, or add it to CHATBRIDGE_ALLOWED_ORIGINS.`);
}

// ---- state -----------------------------------------------------------------------------------

const state = {
  session: store.get("session", null), // {token, chat_id, participant_id, display_name}
  link: null, lastSeq: 0, replaying: false, ended: false, upstream: "connected",
  linkDown: false, open: false, full: !framed, agent: null, identity: {}, startKey: null,
  lastTyping: 0, unread: 0, prefill: {}, prefs: store.get("prefs", { sound: false, notify: false }),
};
const events = new Map(); // event id -> {event, seq, node}
const receipts = new Map(); // message id -> {delivered, read, mine}
const pendingNodes = new Map(); // client_id -> node
const uploads = new Map(); // attachment id -> node
const outbox = new Outbox({
  send: (frame) => !state.replaying && !!state.link && state.link.send(frame),
  onRetrying(item) {
    const node = pendingNodes.get(item.client_id);
    if (node) {
      node.dataset.pending = "retrying";
      setTicks(node);
    }
    // Unanswered: find out at once whether the socket still carries anything.
    state.link?.check();
  },
});
let typingTimer = null;
let bannerSince = 0;
let bannerTimer = null;

// ---- skeleton --------------------------------------------------------------------------------

document.documentElement.lang = t.locale;
document.documentElement.dir = t.dir;
const rootStyle = document.documentElement.style;
rootStyle.setProperty("--cb-primary", cfg.primary_color);
rootStyle.setProperty("--cb-on-primary", readableOn(cfg.primary_color, cfg.text_color));

const badge = h("span", { class: "cb-badge", hidden: true, "aria-hidden": "true" });
const launcherLabel = h("span", { class: "cb-sr" });
const launcher = h("button", { type: "button", class: "cb-launcher", "aria-controls": "cb-panel", "aria-expanded": "false" },
  icon("chat", 28), icon("down", 28), badge, launcherLabel);
const title = h("h1", { class: "cb-title", id: "cb-title", dir: "auto", text: titleText });
const subtitle = h("p", { class: "cb-subtitle", dir: "auto" });
const menuButton = h("button", { type: "button", class: "cb-icon-btn cb-menu-btn", "aria-label": t("menu"), "aria-expanded": "false", "aria-controls": "cb-menu" }, icon("dots"));
const closeButton = h("button", { type: "button", class: "cb-icon-btn cb-close", "aria-label": t("close") }, icon(framed ? "down" : "close"));
const soundBox = h("input", { type: "checkbox", id: "cb-sound" });
const notifyBox = h("input", { type: "checkbox", id: "cb-notify" });
const transcriptButton = h("button", { type: "button", class: "cb-menu-item", text: t("transcript") });
const endButton = h("button", { type: "button", class: "cb-menu-item cb-danger", text: t("endChat") });
const menu = h("div", { class: "cb-menu", id: "cb-menu", hidden: true },
  h("label", { class: "cb-menu-item" }, soundBox, " ", t("sound")),
  h("label", { class: "cb-menu-item" }, notifyBox, " ", t("notifications")),
  transcriptButton, endButton);
const banner = h("div", { class: "cb-banner", role: "status" });
// This tab refused for the chat's other tabs (crowded.js): the customer may try again at once.
const crowded = new CrowdedNotice({ t, onRetry: () => retryNow() });
const confirmEnd = h("button", { type: "button", class: "cb-btn cb-danger-btn", text: t("endChat") });
const confirmCancel = h("button", { type: "button", class: "cb-btn cb-quiet", text: t("cancel") });
const confirmBar = h("div", { class: "cb-confirm", hidden: true, role: "alertdialog", "aria-labelledby": "cb-confirm-text" },
  h("p", { id: "cb-confirm-text", text: t("confirmEnd") }), confirmEnd, confirmCancel);
const greeting = greetingText ? h("div", { class: "cb-msg cb-from-bot cb-greeting" }, h("div", { class: "cb-bubble", dir: "auto", text: greetingText })) : null;
const log = h("div", { class: "cb-log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": t("chat") });
const pendingBox = h("div", { class: "cb-pending", "aria-live": "polite" });
const typingLine = h("div", { class: "cb-typing", "aria-live": "polite" });
const notice = h("p", { class: "cb-notice", role: "alert" });
const prechat = h("form", { class: "cb-prechat", novalidate: true });
const jump = h("button", { type: "button", class: "cb-jump", hidden: true }, icon("down", 16), t("newMessage"));
// The survey and the transcript by e-mail, in the ended state (aftercare.js).
const aftercare = new Aftercare({ cfg, t, api, store });
const scroller = h("div", { class: "cb-scroll" }, greeting, prechat, log, pendingBox, typingLine, aftercare.node, jump);
// Closed or at capacity: leave a message instead (message_form.js).
const leave = new MessageForm({ t, widgetId: cfg.widget_id, api, onReopen: (availability) => { cfg.availability = availability; boot(); } });
scroller.insertBefore(leave.el, prechat);
const fileInput = h("input", { type: "file", class: "cb-sr", tabindex: "-1", "aria-hidden": "true",
  accept: (cfg.attachment_types || []).map((ext) => `.${ext}`).join(",") });
const attachButton = h("button", { type: "button", class: "cb-icon-btn cb-attach", "aria-label": t("attach") }, icon("clip"));
const textarea = h("textarea", { id: "cb-input", dir: "auto", rows: "1", maxlength: "16384", placeholder: t("placeholder"), "aria-label": t("message") });
const sendButton = h("button", { type: "submit", class: "cb-send", "aria-label": t("send") }, icon("send"));
const composer = h("form", { class: "cb-composer" }, fileInput, attachButton, textarea, sendButton);
const newChatButton = h("button", { type: "button", class: "cb-btn cb-primary", text: t("newChat") });
const endedTranscript = h("button", { type: "button", class: "cb-btn cb-quiet", text: t("transcript") });
const endedBar = h("div", { class: "cb-ended", hidden: true }, h("p", { text: t("ended") }), newChatButton, endedTranscript);
const drop = h("div", { class: "cb-drop", hidden: true, text: t("dropHere") });
const logo = cfg.logo_url ? h("img", { class: "cb-logo", src: cfg.logo_url, alt: "" }) : null;
const panel = h("section", { class: "cb-panel", id: "cb-panel", role: "dialog", "aria-labelledby": "cb-title", hidden: true },
  h("header", { class: "cb-header" }, logo, h("div", { class: "cb-titles" }, title, subtitle), menuButton, closeButton),
  menu, banner, crowded.el, confirmBar, scroller, notice, composer, endedBar, drop);
const root = h("div", { class: `cb-root cb-${cfg.position === "left" ? "left" : "right"}` }, panel, launcher);
document.body.append(root);
installPrevious({ menu, panel, t, widgetId: cfg.widget_id, store, identity: () => state.identity.identity, closeMenu: () => toggleMenu(false) });

// ---- open, close, layout -----------------------------------------------------------------

// Whether the panel was open on this tab's previous page: it stays open as the visitor moves
// through the host site (sessionStorage: this tab only, this frame's origin).
const OPEN_KEY = `${KEY}:open`;
const wasOpen = () => { try { return sessionStorage.getItem(OPEN_KEY) === "1"; } catch { return false; } };

function setOpen(open, { restoreFocus = false, quiet = false } = {}) {
  if (!framed) open = true;
  if (state.open === open) return;
  state.open = open;
  if (framed) try { sessionStorage.setItem(OPEN_KEY, open ? "1" : "0"); } catch { /* blocked */ }
  root.classList.toggle("cb-open", open);
  panel.hidden = !open;
  launcher.setAttribute("aria-expanded", String(open));
  labelLauncher();
  toHost({ type: "state", open, restoreFocus, quiet });
  if (open) {
    requestAnimationFrame(toEnd);
    if (!quiet) focusPanel();
    markRead();
  } else {
    menu.hidden = true;
    if (!restoreFocus) launcher.focus();
  }
}

function setFull(full) {
  state.full = !framed || !!full;
  root.classList.toggle("cb-full", state.full);
  // A chevron towards the bubble beside it; full screen, where no bubble shows, a cross.
  closeButton.replaceChildren(icon(state.full ? "close" : "down"));
  tellShape();
}

// The frame is transparent around the bubble and the panel: it tells the loader their boxes
// (with room for their shadows), which clips the frame to them so that the host page around
// them keeps its clicks.
const SHADOW = 12;
function tellShape() {
  if (!hostOrigin) return;
  const boxes = state.full ? null : [panel, launcher].filter((el) => !el.hidden && el.offsetWidth).map((el) => {
    const r = el.getBoundingClientRect();
    const round = el === launcher ? r.width / 2 : 16;
    return [r.left - SHADOW, r.top - SHADOW, r.width + 2 * SHADOW, r.height + 2 * SHADOW, round + SHADOW].map(Math.round);
  });
  toHost({ type: "shape", boxes });
}
new ResizeObserver(tellShape).observe(document.documentElement);

// Focus never scrolls: the panel opens while the frame is still the launcher's size, and a
// focus that scrolled it then would leave its header out of view once the frame has grown.
function focusPanel() {
  const target = !confirmBar.hidden ? confirmCancel
    : !leave.el.hidden ? leave.focusTarget()
    : !endedBar.hidden ? newChatButton
    : !prechat.hidden ? prechat.querySelector("[aria-invalid=true]") || prechat.querySelector("input,select")
    : textarea;
  if (target) target.focus({ preventScroll: true });
}

launcher.addEventListener("click", () => setOpen(!state.open));
closeButton.addEventListener("click", () => setOpen(false));
panel.addEventListener("keydown", (e) => {
  if (e.key !== "Escape") return;
  e.preventDefault();
  if (!menu.hidden) {
    toggleMenu(false);
    menuButton.focus();
  } else if (!confirmBar.hidden) {
    hideConfirm();
  } else {
    setOpen(false);
  }
});

function toggleMenu(show = menu.hidden) {
  menu.hidden = !show;
  menuButton.setAttribute("aria-expanded", String(show));
  if (show) menu.querySelector("input,button").focus();
}
menuButton.addEventListener("click", () => toggleMenu());
document.addEventListener("click", (e) => {
  if (!menu.hidden && !menu.contains(e.target) && !menuButton.contains(e.target)) toggleMenu(false);
});

// ---- banner, notices, subtitle ---------------------------------------------------------------

function updateBanner() {
  // The first connection of a chat is not a reconnect: messages can already be sent.
  const down = state.everUp && !state.ended && !!state.session && !crowded.shown && (state.linkDown || state.upstream === "reconnecting");
  clearTimeout(bannerTimer);
  if (down) {
    if (!root.classList.contains("cb-reconnecting")) {
      bannerSince = Date.now();
      root.dataset.reconnects = String(Number(root.dataset.reconnects || 0) + 1);
    }
    banner.textContent = t("reconnecting");
    root.classList.add("cb-reconnecting");
  } else {
    // Shown at least a moment, so a blink of a reconnect is still readable; crowded.js's
    // notice replaces it at once.
    const left = crowded.shown ? 0 : 1200 - (Date.now() - bannerSince);
    if (left > 0) bannerTimer = setTimeout(updateBanner, left);
    else {
      root.classList.remove("cb-reconnecting");
      banner.textContent = "";
    }
  }
}

// A notice (a refused file, a failed start) goes once the visitor moves on: types, picks a file,
// or after a while.
let noticeTimer = null;
function showNotice(text) {
  notice.textContent = text || "";
  clearTimeout(noticeTimer);
  if (text) noticeTimer = setTimeout(() => { notice.textContent = ""; }, 10000);
}

function updateSubtitle() {
  subtitle.textContent = state.agent || (state.session && !state.ended ? t("waiting") : "");
}

// ---- views ---------------------------------------------------------------------------------

function setView(view) {
  root.dataset.view = view;
  prechat.hidden = view !== "prechat";
  log.hidden = view === "prechat";
  composer.hidden = view !== "chat";
  endedBar.hidden = view !== "ended";
  if (view === "ended") aftercare.show(state.session);
  else aftercare.hide();
  leave.el.hidden = view !== "message";
  if (view !== "message") leave.hide();
  endButton.hidden = !state.session || state.ended;
  transcriptButton.hidden = !state.session;
  attachButton.disabled = !state.session;
  updateSubtitle();
}

const formFields = () => (Array.isArray(cfg.prechat_fields) ? cfg.prechat_fields : []).filter((f) => f && f.name);

function buildPrechat() {
  prechat.replaceChildren();
  for (const field of formFields()) {
    const id = `cb-f-${field.name}`;
    const type = ["email", "tel", "select", "textarea"].includes(field.type) ? field.type : "text";
    const known = state.identity[field.name] ?? state.prefill[field.name];
    let control;
    if (type === "select") {
      control = h("select", { id, name: field.name, dir: "auto" },
        h("option", { value: "", text: t("choose") }),
        (field.options || []).map((o) => (typeof o === "object"
          ? h("option", { value: String(o.value ?? o.label), text: String(o.label ?? o.value) })
          : h("option", { value: String(o), text: String(o) }))));
    } else if (type === "textarea") {
      control = h("textarea", { id, name: field.name, dir: "auto", rows: "3", maxlength: "1024" });
    } else {
      control = h("input", { id, name: field.name, type, dir: "auto", maxlength: "256",
        autocomplete: { name: "name", email: "email", tel: "tel", phone: "tel" }[field.name] || (type === "text" ? "off" : type) });
    }
    if (known != null) control.value = String(known);
    if (field.required) control.setAttribute("aria-required", "true");
    const error = h("p", { class: "cb-error", id: `${id}-error` });
    control.setAttribute("aria-describedby", error.id);
    prechat.append(h("div", { class: "cb-field" },
      h("label", { for: id, dir: "auto" }, labelOf(field), field.required ? h("span", { class: "cb-req", "aria-hidden": "true", text: " *" }) : null),
      control, error));
  }
  prechat.append(h("button", { type: "submit", class: "cb-btn cb-primary cb-start", text: t("start") }));
}

function checkField(field, value) {
  if (!value) return field.required ? t("required") : "";
  if (field.type === "email" && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) return t("email");
  if (field.type === "tel" && !/^\+?[0-9][0-9 ().-]{4,22}$/.test(value)) return t("tel");
  return "";
}

function setFieldError(name, message) {
  const control = prechat.elements.namedItem(name);
  if (!control) return false;
  control.setAttribute("aria-invalid", message ? "true" : "false");
  prechat.querySelector(`#cb-f-${CSS.escape(name)}-error`).textContent = message;
  return true;
}

function formAnswers() {
  const answers = {};
  let firstBad = null;
  for (const field of formFields()) {
    const control = prechat.elements.namedItem(field.name);
    const value = control.value.trim();
    const problem = checkField(field, value);
    setFieldError(field.name, problem);
    if (problem && !firstBad) firstBad = control;
    if (value) answers[field.name] = value;
  }
  if (firstBad) {
    firstBad.focus();
    return null;
  }
  return answers;
}

function identityComplete() {
  return formFields().every((f) => !f.required || checkField(f, String(state.identity[f.name] ?? "").trim()) === "");
}

prechat.addEventListener("submit", async (e) => {
  e.preventDefault();
  const answers = formAnswers();
  if (!answers) return;
  if (await startChat(answers)) textarea.focus();
});

async function startChat(answers = {}, initialMessage) {
  const button = prechat.querySelector(".cb-start");
  if (button) button.disabled = true;
  showNotice("");
  const attributes = { ...(state.identity.attributes || {}) };
  for (const [name, value] of Object.entries({ ...pickStrings(state.identity), ...answers })) {
    if (name !== "attributes" && name !== "identity") attributes[name] = value;
  }
  const body = {
    widget_id: cfg.widget_id,
    display_name: answers.name || state.identity.name || t("you"),
    attributes,
  };
  if (initialMessage) body.initial_message = initialMessage;
  if (state.identity.identity) body.identity = state.identity.identity;
  Object.assign(body, customerFields(store));
  state.startKey = state.startKey || uid();
  const stopWatching = watchStartQueue(state.startKey);
  try {
    const started = await api("POST", "/api/v1/chats", { body, idempotencyKey: state.startKey });
    if (stopWatching()) showNotice("");
    state.startKey = null;
    // What the visitor typed fills the form of their next chat ("Start a new chat").
    state.prefill = { ...answers, name: answers.name || state.identity.name || state.prefill.name };
    rememberCustomer(store, started);
    state.session = {
      token: started.session_token, chat_id: started.chat_id,
      participant_id: started.participant_id, display_name: started.display_name,
      email: prechatEmail(formFields(), { ...pickStrings(state.identity), ...answers }),
    };
    store.set("session", state.session);
    connect();
    return true;
  } catch (error) {
    if (error.status && error.status < 500) state.startKey = null;
    const offer = offerFor(error);
    if (offer) {
      showOffer(offer, error.problem.next_open, initialMessage, answers);
      return false;
    }
    if (error.code === "origin_not_allowed") {
      tellRefused(`starting a chat from ${location.origin} was refused (origin_not_allowed): set `
        + `CHATBRIDGE_PUBLIC_ORIGIN to ${location.origin}, or list it under "Where it may run" `
        + `(allowed origins) of widget "${cfg.widget_id}" in ChatBridge's admin.`);
    }
    const field = error.field && (error.field === "display_name" ? "name" : error.field.replace(/^attributes\./, ""));
    stopWatching();
    if (!(field && setFieldError(field, error.message))) showNotice(error.status === 429 ? t("waitAMoment") : t("failed"));
    return false;
  } finally {
    stopWatching();
    if (button) button.disabled = false;
  }
}

// While a start waits its turn (Connect allows only so many chat starts per second), asks
// where it stands and says so. The returned stop() says whether a place was shown.
function watchStartQueue(key) {
  let live = true;
  let shown = false;
  const path = `/api/v1/widgets/${encodeURIComponent(cfg.widget_id)}/starts`;
  const timer = setInterval(async () => {
    const { position } = await api("GET", path, { idempotencyKey: key }).catch(() => ({}));
    if (live && position) {
      shown = true;
      showNotice(t("inQueue", { n: position }));
    }
  }, 2000);
  return () => {
    live = false;
    clearInterval(timer);
    return shown;
  };
}

function showOffer(reason, nextOpen, message, answers = {}) {
  const known = { ...pickStrings(state.identity), ...answers };
  leave.show(reason, { nextOpen, name: known.name, email: known.email, message });
  setView("message");
  if (state.open) focusPanel();
}

function pickStrings(object) {
  const out = {};
  for (const [key, value] of Object.entries(object || {})) if (typeof value === "string") out[key] = value.slice(0, 1024);
  return out;
}

// ---- the chat ------------------------------------------------------------------------------

function boot() {
  state.link?.close();
  crowded.show(false);
  atEnd = true;
  hideJump();
  Object.assign(state, { link: null, lastSeq: 0, ended: false, agent: null, upstream: "connected", linkDown: false, unread: -1, everUp: false });
  events.clear();
  receipts.clear();
  uploads.clear();
  pendingNodes.clear();
  log.replaceChildren();
  pendingBox.replaceChildren();
  setTyping(null);
  const previous = state.session || store.get("session", null);
  if (!state.prefill.name && previous && previous.display_name && previous.display_name !== t("you")) {
    state.prefill.name = previous.display_name;
  }
  state.session = store.get("session", null);
  if (state.session) {
    connect();
  } else if (isClosed(cfg.availability)) {
    outbox.reset();
    showOffer(CLOSED, cfg.availability.next_open);
  } else {
    outbox.reset();
    buildPrechat();
    setView(formFields().length && !identityComplete() ? "prechat" : "chat");
  }
  updateUnread();
  updateBanner();
}

function connect() {
  const session = state.session;
  outbox.reset(store.get(`outbox:${session.chat_id}`, []));
  for (const item of outbox.items) showPending(item);
  setView("chat");
  state.link = new Link({
    token: session.token,
    after: () => state.lastSeq,
    onFrame,
    onStatus(status) {
      // A restarting server is no failure: messages wait, quietly, for the next process.
      state.linkDown = status === "down" || status === "crowded";
      crowded.show(status === "crowded");
      if (status !== "up") outbox.interrupted({ quiet: !state.linkDown });
      updateBanner();
    },
  });
}

function saveOutbox() {
  if (state.session) store.set(`outbox:${state.session.chat_id}`, outbox.stored());
}

function onFrame(frame) {
  switch (frame.type) {
    case "ready":
      state.replaying = true;
      state.session.participant_id = frame.participant_id;
      if (frame.status === "ended") state.ended = true;
      break;
    case "event":
      if (frame.seq > state.lastSeq) state.lastSeq = frame.seq;
      onEvent(frame.event, frame.seq);
      logged(frame.event.id, frame.seq);
      break;
    case "early":  // shown now; its seq comes with a "logged" (or "event") frame
      onEvent(frame.event, 0);
      break;
    case "logged":
      if (frame.seq > state.lastSeq) state.lastSeq = frame.seq;
      logged(frame.id, frame.seq);
      break;
    case "upstream":
      state.upstream = frame.status;
      if (frame.status === "connected") state.everUp = true;
      finishReplay();
      updateBanner();
      break;
    case "typing":
      if (frame.event && frame.event.participant_id !== state.session.participant_id) setTyping(frame.event.display_name || t("someone"));
      break;
    case "ended":
      finishReplay();
      endedNow();
      break;
    case "ack":
      onAck(frame);
      break;
    case "error":
      onError(frame);
      break;
    default:
  }
}

function finishReplay() {
  if (!state.replaying) return;
  state.replaying = false;
  outbox.flush();
  markRead();
  updateUnread();
  if (atEnd) toEnd();
}

function endedNow() {
  const wasEnded = state.ended && root.dataset.view === "ended";
  state.ended = true;
  outbox.reset();
  saveOutbox();
  pendingBox.replaceChildren();
  setTyping(null);
  state.link?.close();
  setView("ended");
  updateBanner();
  if (!wasEnded) emit("ended");
  if (state.open && panel.contains(document.activeElement) === false) newChatButton.focus();
  else if (state.open && (document.activeElement === textarea || document.activeElement === confirmEnd)) newChatButton.focus();
}

// ---- events into the list --------------------------------------------------------------------

const isMine = (event) => state.session && (event.participant_id === state.session.participant_id || (event.earlier && event.participant_role === "CUSTOMER"));
const roleClass = (event) => (isMine(event) ? "me" : event.participant_role === "AGENT" || event.participant_role === "SUPERVISOR" ? "agent" : event.participant_role === "CUSTOMER" ? "agent" : "bot");
const timeFormat = new Intl.DateTimeFormat(t.locale, { hour: "2-digit", minute: "2-digit" });

function onEvent(event, seq) {
  if (event.earlier) return earlierEvent(event, seq);
  if (event.type === "receipt") return applyReceipt(event);
  if (!event.id || events.has(event.id)) return;
  const entry = { event, seq, node: null };
  events.set(event.id, entry);
  if (event.type === "event") return systemEvent(entry);
  entry.node = messageNode(event);
  if (!entry.node) return;
  place(entry);
  if (isMine(event)) {
    for (const [clientId, node] of pendingNodes) {
      if (node.dataset.id === event.id || (node.dataset.initial && node.dataset.content === event.content)) dropPending(clientId);
    }
    for (const attachment of event.attachments || []) {
      uploads.get(attachment.id)?.remove();
      uploads.delete(attachment.id);
    }
    disableAnsweredChoices(entry);
    reveal(entry.node, true);
  } else {
    setTyping(null);
    arrived(event);
    reveal(entry.node);
  }
}

// An event shown before it was logged gets its seq.
function logged(id, seq) {
  const entry = events.get(id);
  if (!entry || entry.seq) return;
  entry.seq = seq;
  if (entry.node) entry.node.dataset.seq = String(seq);
}

// The earlier conversation a continued chat carries over: shown, never acted on.
function earlierEvent(event, seq) {
  if (!isHistory(event) || !event.id || events.has(event.id)) return;
  const entry = { event, seq, node: messageNode(event) };
  events.set(event.id, entry);
  markEarlier(entry.node, log, t);
  place(entry);
}

function systemEvent(entry) {
  const { event } = entry;
  const kind = event.content_type.split(".").slice(-2).join(".");
  const name = event.display_name || t("someone");
  let text = null;
  if (kind === "participant.joined" && OTHERS.has(event.participant_role)) {
    if (event.participant_role === "AGENT") state.agent = name;
    text = t("joined", { name });
  } else if (kind === "participant.left" && OTHERS.has(event.participant_role)) {
    if (state.agent === name) state.agent = null;
    text = t("left", { name });
  } else if (kind === "transfer.succeeded") {
    text = null;
  } else if (kind === "chat.ended") {
    text = t("chatEnded");
  }
  updateSubtitle();
  if (!text) return;
  entry.node = h("div", { class: "cb-system", "data-id": event.id, "data-time": event.absolute_time, "data-seq": String(entry.seq) },
    h("span", { text }));
  entry.text = text;
  place(entry);
  reveal(entry.node);
}

function place(entry) {
  const { node, event, seq } = entry;
  node.dataset.time = event.absolute_time || "";
  node.dataset.seq = String(seq || 0);
  let after = log.lastElementChild;
  while (after && (after.dataset.time > node.dataset.time || (after.dataset.time === node.dataset.time && Number(after.dataset.seq) > seq))) {
    after = after.previousElementSibling;
  }
  if (after) after.after(node);
  else log.prepend(node);
  groupAuthors(node);
  if (node.nextElementSibling) groupAuthors(node.nextElementSibling);
}

function groupAuthors(node) {
  const previous = node.previousElementSibling;
  const same = previous && previous.dataset.author && previous.dataset.author === node.dataset.author;
  node.classList.toggle("cb-continued", !!same);
}

function messageNode(event) {
  const mine = isMine(event);
  const name = mine ? t("you") : event.display_name || t("someone");
  const bubble = h("div", { class: "cb-bubble", dir: "auto" });
  if (event.type === "attachment") {
    for (const attachment of event.attachments || []) bubble.append(attachmentView(attachment));
  } else if (event.content_type === "text/markdown" && !mine) {
    bubble.append(renderMarkdown(event.content || "", t));
  } else if (event.content_type === INTERACTIVE || (event.content_type === "application/json" && parseInteractive(event.content))) {
    const parsed = parseInteractive(event.content);
    if (parsed) bubble.append(renderInteractive(parsed, (choice) => sendMessage(choice.content, choice.content_type)));
    else bubble.textContent = event.content || "";
    bubble.classList.add("cb-rich");
  } else if (event.content_type === INTERACTIVE_RESPONSE) {
    bubble.textContent = responseText(event.content || "");
  } else if (!mine) {
    bubble.append(linkify(event.content || "", t));
  } else {
    bubble.textContent = event.content || "";
  }
  const time = h("time", { datetime: event.absolute_time, text: formatTime(event.absolute_time) });
  const meta = h("div", { class: "cb-meta" }, time);
  const node = h("div", { class: `cb-msg cb-from-${roleClass(event)}`, "data-id": event.id, "data-author": event.participant_id || "" },
    h("div", { class: "cb-author", "aria-hidden": "true", text: name }),
    h("span", { class: "cb-sr", text: `${name}: ` }),
    bubble, meta);
  if (mine) {
    meta.append(h("span", { class: "cb-ticks", role: "img" }));
    setTicks(node, receipts.get(event.id));
  }
  return node;
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : timeFormat.format(date);
}

function setTicks(node, receipt = {}) {
  const ticks = node.querySelector(".cb-ticks");
  if (!ticks) return;
  const status = node.dataset.pending ? node.dataset.pending : receipt.read ? "read" : receipt.delivered ? "delivered" : "sent";
  node.dataset.status = status;
  ticks.replaceChildren(status === "sending" || status === "retrying" ? "" : icon(status === "sent" ? "tick" : "ticks", 16));
  ticks.setAttribute("aria-label", t(status));
  ticks.title = t(status);
  const retry = node.querySelector(".cb-retry");
  if (status === "retrying" && !retry) ticks.after(h("button", { type: "button", class: "cb-retry", text: t("notSent"), onclick: retryNow }));
  else if (status !== "retrying") retry?.remove();
}

function applyReceipt(event) {
  const id = event.message_id;
  if (!id) return;
  const mineNow = state.session && state.session.participant_id;
  const current = receipts.get(id) || {};
  for (const r of event.receipts || []) {
    if (r.participant_id === mineNow) current.mine = current.mine || (r.read_at ? "read" : "delivered");
    else {
      current.delivered = current.delivered || !!(r.delivered_at || r.read_at);
      current.read = current.read || !!r.read_at;
    }
  }
  receipts.set(id, current);
  const entry = events.get(id);
  if (entry && entry.node) setTicks(entry.node, current);
  updateUnread();
}

// The customer's reply answers the latest interactive message before it that is still open and
// offers that choice: only that one is closed, with the choice marked. Others stay open.
function disableAnsweredChoices(entry) {
  const { event } = entry;
  const reply = (event.content_type === INTERACTIVE_RESPONSE ? responseText(event.content || "") : event.content || "").trim();
  if (!reply) return;
  for (let node = entry.node.previousElementSibling; node; node = node.previousElementSibling) {
    const options = [...node.querySelectorAll(".cb-option")];
    const chosen = options.find((button) => button.querySelector(".cb-option-title")?.textContent.trim() === reply);
    if (!chosen || options.every((button) => button.disabled && !button.classList.contains("cb-chosen"))) continue;
    if (options.some((button) => button.classList.contains("cb-chosen") && button !== chosen)) continue;
    for (const button of options) button.disabled = true;
    chosen.classList.add("cb-chosen");
    return;
  }
}

// ---- attachments ---------------------------------------------------------------------------

function attachmentView(attachment) {
  const name = String(attachment.name || "file");
  const isImage = /^image\/(png|jpe?g|gif|webp)$/.test(attachment.content_type || "");
  const download = h("button", { type: "button", class: "cb-file", "aria-label": t("download", { name }) },
    icon("file"), h("span", { class: "cb-file-name", text: name }));
  download.addEventListener("click", () => openAttachment(attachment.id, name));
  if (!isImage) return download;
  const image = h("img", { class: "cb-image", alt: t("image", { name }), hidden: true });
  image.addEventListener("load", () => { image.hidden = false; if (atEnd) toEnd(); });
  image.addEventListener("click", () => zoom(image));
  attachmentUrl(attachment.id).then((url) => { if (url) image.src = url; });
  return h("figure", { class: "cb-figure" }, image, download);
}

// An image preview, clicked, opens larger in a modal view (Escape, the close button or a click
// outside the image closes it); its download stays the button beside the preview.
const zoomImage = h("img", { class: "cb-zoom-image", alt: "" });
const zoomClose = h("button", { type: "button", class: "cb-icon-btn cb-zoom-close", "aria-label": t("closeImage") }, icon("close"));
const zoomView = h("dialog", { class: "cb-zoom" }, zoomClose, zoomImage);
zoomClose.addEventListener("click", () => zoomView.close());
zoomView.addEventListener("click", (e) => { if (e.target === zoomView) zoomView.close(); });
panel.append(zoomView);

function zoom(image) {
  zoomImage.src = image.src;
  zoomImage.alt = image.alt;
  zoomView.setAttribute("aria-label", image.alt);
  zoomView.showModal();
}

async function attachmentUrl(id) {
  try {
    const { url } = await api("GET", `/api/v1/chats/${encodeURIComponent(state.session.chat_id)}/attachments/${encodeURIComponent(id)}`, { token: state.session.token });
    return url;
  } catch {
    return null;
  }
}

async function openAttachment(id, name) {
  const url = await attachmentUrl(id);
  if (!url) return showNotice(t("failed"));
  const a = h("a", { href: url, download: name, target: "_blank", rel: "noopener noreferrer" });
  document.body.append(a);
  a.click();
  a.remove();
}

function checkFile(file) {
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  if (!file.name.includes(".") || !(cfg.attachment_types || []).includes(ext)) return t("badType", { name: file.name });
  if (file.size > MAX_FILE) return t("tooBig", { name: file.name });
  if (file.size === 0) return t("uploadFailed", { name: file.name });
  return "";
}

async function upload(file) {
  const problem = checkFile(file);
  if (problem) return showNotice(problem);
  if (!state.session || state.ended) return;
  showNotice("");
  const bar = h("progress", { max: "100", value: "0", "aria-label": t("uploading", { name: file.name }) });
  const share = new Intl.NumberFormat(t.locale, { style: "percent" });
  const percent = h("span", { class: "cb-upload-share", text: share.format(0) });
  const stop = new AbortController();
  const cancel = h("button", { type: "button", class: "cb-upload-cancel", "aria-label": t("cancelUpload", { name: file.name }) }, icon("close", 16));
  const node = h("div", { class: "cb-msg cb-from-me cb-upload" },
    h("div", { class: "cb-bubble" },
      h("div", { class: "cb-upload-line" }, h("span", { class: "cb-file-name", text: file.name }), percent, cancel), bar));
  cancel.addEventListener("click", () => {
    stop.abort();
    node.remove();
    textarea.focus({ preventScroll: true });
  });
  pendingBox.append(node);
  reveal(node, true);
  const ext = file.name.split(".").pop().toLowerCase();
  const contentType = file.type || MIME[ext] || "application/octet-stream";
  const base = `/api/v1/chats/${encodeURIComponent(state.session.chat_id)}/attachments`;
  const token = state.session.token;
  try {
    const started = await api("POST", base, { token, body: { name: file.name, content_type: contentType, size: file.size } });
    if (stop.signal.aborted) return;
    await putFile(`${base}/${encodeURIComponent(started.attachment_id)}/content`, file, contentType, token, (done) => {
      bar.value = Math.round(done * 100);
      percent.textContent = share.format(done);
    }, stop.signal);
    bar.value = 100;
    percent.textContent = share.format(1);
    cancel.remove();
    await api("POST", `${base}/${encodeURIComponent(started.attachment_id)}/complete`, { token, body: {} });
    if ([...events.values()].some((e) => (e.event.attachments || []).some((a) => a.id === started.attachment_id))) node.remove();
    else uploads.set(started.attachment_id, node);
  } catch (error) {
    node.remove();
    if (stop.signal.aborted) return;
    showNotice(error instanceof ApiError && error.status === 413 ? t("tooBig", { name: file.name }) : t("uploadFailed", { name: file.name }));
  }
}

attachButton.addEventListener("click", () => fileInput.click());
fileInput.addEventListener("change", () => {
  showNotice("");
  for (const file of fileInput.files) upload(file);
  fileInput.value = "";
});
panel.addEventListener("dragover", (e) => {
  if (!state.session || state.ended || ![...e.dataTransfer.types].includes("Files")) return;
  e.preventDefault();
  drop.hidden = false;
});
drop.addEventListener("dragleave", () => { drop.hidden = true; });
panel.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.hidden = true;
  if (state.session && !state.ended) for (const file of e.dataTransfer.files) upload(file);
});

// ---- sending -------------------------------------------------------------------------------

// A message not acknowledged in time, or written while the connection was down, offers to be
// sent again at once: a new connection, then the outbox, each message with its own client_id.
function retryNow() {
  for (const node of pendingNodes.values()) {
    if (node.dataset.pending !== "retrying") continue;
    node.dataset.pending = "sending";
    setTicks(node);
  }
  outbox.interrupted({ quiet: true });
  if (state.link) state.link.retryNow();
  else if (!state.session) showNotice(t("failed"));
}

function showPending(item) {
  const node = h("div", { class: "cb-msg cb-from-me", "data-pending": state.linkDown ? "retrying" : "sending" },
    h("div", { class: "cb-bubble", dir: "auto", text: item.content_type === INTERACTIVE_RESPONSE ? responseText(item.content) : item.content }),
    h("div", { class: "cb-meta" }, h("span", { class: "cb-ticks", role: "img" })));
  if (item.initial) {
    node.dataset.initial = "1";
    node.dataset.content = item.content;
  }
  setTicks(node);
  pendingNodes.set(item.client_id, node);
  pendingBox.append(node);
  reveal(node, true);
}

function dropPending(clientId) {
  pendingNodes.get(clientId)?.remove();
  pendingNodes.delete(clientId);
}

async function sendMessage(content, contentType = "text/plain") {
  if (state.ended) return;
  const item = { client_id: uid(), content, content_type: contentType, at: new Date().toISOString() };
  if (!state.session) {
    item.initial = true;
    showPending(item);
    const started = await startChat({}, content);
    if (!started) dropPending(item.client_id);
    return;
  }
  outbox.push(item);
  saveOutbox();
  showPending(item);
  outbox.flush();
}

function onAck(frame) {
  const item = outbox.acknowledge(frame.ref);
  if (!item) return;
  saveOutbox();
  if (events.has(frame.id)) return dropPending(item.client_id);
  const node = pendingNodes.get(item.client_id);
  if (node) {
    node.dataset.id = frame.id;
    delete node.dataset.pending;
    setTicks(node);
  }
}

function onError(frame) {
  const item = outbox.find(frame.ref);
  if (frame.code === "unknown_chat") {
    store.set("session", null);
    return boot();
  }
  if (frame.code === "chat_ended") return endedNow();
  if (!item) return;
  if (retryable(frame.code)) {
    if (frame.code === "rate_limited") showNotice(t("waitAMoment"));
    return outbox.retryLater(item, frame.retry_after || 2);
  }
  outbox.discard(item);
  saveOutbox();
  dropPending(item.client_id);
  showNotice(frame.message || t("failed"));
}

composer.addEventListener("submit", (e) => {
  e.preventDefault();
  const content = textarea.value.trim();
  if (!content) return;
  textarea.value = "";
  grow();
  showNotice("");
  sendMessage(content);
  textarea.focus();
});
textarea.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    composer.requestSubmit();
  }
});
textarea.addEventListener("input", () => {
  grow();
  if (notice.textContent) showNotice("");
  const now = Date.now();
  if (textarea.value && state.link && now - state.lastTyping > TYPING_EVERY && state.link.send({ type: "typing", ref: "typing" })) {
    state.lastTyping = now;
  }
});
function grow() {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, 120)}px`;
}

// ---- typing, unread, receipts, notifications -------------------------------------------------

function setTyping(name) {
  clearTimeout(typingTimer);
  typingLine.replaceChildren();
  if (!name) return;
  typingLine.append(h("span", { class: "cb-dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")), h("span", { text: t("typing", { name }) }));
  typingTimer = setTimeout(() => setTyping(null), TYPING_CLEARS);
  if (atEnd) toEnd();
}

const visible = () => state.open && document.visibilityState === "visible";

function othersMessages() {
  return [...events.values()].filter((e) => e.node && e.event.type !== "event" && !e.event.earlier && !isMine(e.event) && OTHERS.has(e.event.participant_role));
}

function markRead() {
  if (!visible() || state.replaying || !state.link || state.ended) return;
  for (const entry of othersMessages()) {
    const receipt = receipts.get(entry.event.id) || {};
    if (receipt.mine === "read" || receipt.localRead) continue;
    receipt.localRead = true;
    receipts.set(entry.event.id, receipt);
    state.link.send({ type: "receipt", message_id: entry.event.id, kind: "read", ref: "receipt" });
  }
  updateUnread();
}

// The launcher's name says what it does and, closed, how many messages wait unread.
function labelLauncher() {
  const unread = state.unread > 0 ? t("unread", { n: state.unread }) : "";
  launcherLabel.textContent = state.open ? t("close") : unread ? `${t("open")}, ${unread}` : t("open");
}

function updateUnread() {
  const count = othersMessages().filter((e) => {
    const r = receipts.get(e.event.id);
    return !(r && (r.mine === "read" || r.localRead));
  }).length;
  if (count === state.unread) return;
  state.unread = count;
  badge.hidden = count === 0;
  badge.textContent = count > 99 ? "99+" : String(count);
  labelLauncher();
  emit("unread", { count });
}

function arrived(event) {
  if (state.replaying) return;
  emit("message", { from: roleClass(event), at: event.absolute_time });
  if (visible()) return markRead();
  if (state.link && event.type !== "event") state.link.send({ type: "receipt", message_id: event.id, kind: "delivered", ref: "receipt" });
  updateUnread();
  if (state.prefs.sound) ding();
  if (state.prefs.notify) {
    toHost({ type: "notify", title: titleText, body: t("newMessageFrom", { name: event.display_name || t("someone") }) });
  }
}

let audio = null;
function ding() {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.2, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.3);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.32);
  } catch { /* no audio here */ }
}

soundBox.checked = !!state.prefs.sound;
notifyBox.checked = !!state.prefs.notify;
soundBox.addEventListener("change", () => {
  state.prefs.sound = soundBox.checked;
  store.set("prefs", state.prefs);
  if (soundBox.checked) {
    audio = audio || new AudioContext();
    audio.resume();
  }
});
notifyBox.addEventListener("change", () => {
  state.prefs.notify = notifyBox.checked;
  store.set("prefs", state.prefs);
  if (notifyBox.checked) toHost({ type: "notify", request: true });
});
document.addEventListener("visibilitychange", () => {
  markRead();
  if (document.visibilityState === "visible" && state.link && !state.link.ready && !state.link.stopped) state.link.retryNow();
});

// ---- ending, new chat, transcript ------------------------------------------------------------

function showConfirm() {
  toggleMenu(false);
  confirmBar.hidden = false;
  confirmCancel.focus();
}
function hideConfirm() {
  confirmBar.hidden = true;
  textarea.focus();
}
endButton.addEventListener("click", showConfirm);
confirmCancel.addEventListener("click", hideConfirm);
confirmEnd.addEventListener("click", () => {
  confirmBar.hidden = true;
  endChat();
});

function endChat() {
  if (!state.session || state.ended) return;
  if (!(state.link && state.link.send({ type: "end", ref: "end" }))) {
    api("POST", `/api/v1/chats/${encodeURIComponent(state.session.chat_id)}/end`, { token: state.session.token, body: {} })
      .then(endedNow, () => showNotice(t("failed")));
  }
}

newChatButton.addEventListener("click", () => {
  if (state.session) store.set(`outbox:${state.session.chat_id}`, null);
  store.set("session", null);
  boot();
  focusPanel();
});

function transcriptText() {
  const lines = [`${titleText}`, new Date().toLocaleString(t.locale), ""];
  for (const node of log.children) {
    const entry = events.get(node.dataset.id);
    if (!entry) continue;
    const { event } = entry;
    const stamp = new Date(event.absolute_time).toLocaleString(t.locale);
    if (entry.text) {
      lines.push(`[${stamp}] — ${entry.text}`);
      continue;
    }
    const who = isMine(event) ? state.session.display_name || t("you") : event.display_name || t("someone");
    let text = event.content || "";
    if (event.type === "attachment") text = (event.attachments || []).map((a) => `[${a.name}]`).join(" ");
    else if (event.content_type === INTERACTIVE) text = summary(text);
    else if (event.content_type === INTERACTIVE_RESPONSE) text = responseText(text);
    lines.push(`[${stamp}] ${who}: ${text}`);
  }
  return `${lines.join("\n")}\n`;
}

function downloadTranscript() {
  toggleMenu(false);
  const url = URL.createObjectURL(new Blob([transcriptText()], { type: "text/plain;charset=utf-8" }));
  const a = h("a", { href: url, download: `chat-${(state.session && state.session.chat_id) || "transcript"}.txt` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
transcriptButton.addEventListener("click", downloadTranscript);
endedTranscript.addEventListener("click", downloadTranscript);

// ---- scrolling -------------------------------------------------------------------------------

// New content scrolls into view only while the reader is at the end of the conversation (or
// when it is their own); otherwise a "new message" button says there is more below and jumps
// there. A message taller than the view is shown from its start.
const END = 24;
let atEnd = true;
let unseen = null;
const fromEnd = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
scroller.addEventListener("scroll", () => {
  atEnd = fromEnd() < END;
  if (atEnd) hideJump();
});
// The panel growing, the composer or a banner changing: the reader at the end stays there.
new ResizeObserver(() => { if (atEnd) toEnd(); }).observe(scroller);

function toEnd() {
  scroller.scrollTop = scroller.scrollHeight;
  atEnd = true;
  hideJump();
}

function scrollToStart(node) {
  scroller.scrollTop += node.getBoundingClientRect().top - scroller.getBoundingClientRect().top - 8;
  atEnd = fromEnd() < END;
  if (atEnd) hideJump();
}

function reveal(node, own = false) {
  if (state.replaying) return;
  if (!own && !atEnd) {
    unseen = unseen || node;
    jump.hidden = false;
    return;
  }
  requestAnimationFrame(() => {
    if (node && node.isConnected && node.offsetHeight > scroller.clientHeight - END) scrollToStart(node);
    else toEnd();
  });
}

function hideJump() {
  unseen = null;
  jump.hidden = true;
}

jump.addEventListener("click", () => {
  if (unseen && unseen.isConnected) scrollToStart(unseen);
  else toEnd();
  hideJump();
  if (!composer.hidden) textarea.focus({ preventScroll: true });
});

// ---- host commands -----------------------------------------------------------------------

const commands = {
  open: () => setOpen(true, { restoreFocus: true }),
  close: () => setOpen(false, { restoreFocus: true }),
  toggle: () => setOpen(!state.open, { restoreFocus: true }),
  endChat,
  identify(details) {
    if (!details || typeof details !== "object" || state.session) return;
    const next = { ...pickStrings(details) };
    if (details.attributes && typeof details.attributes === "object") next.attributes = pickStrings(details.attributes);
    state.identity = next;
    if (!state.session) boot();
  },
};

window.addEventListener("message", (e) => {
  if (!framed || e.source !== window.parent || !allowedHosts.has(e.origin)) return;
  const message = e.data;
  if (!message || message.cb !== 1) return;
  if (message.type === "hello") {
    hostOrigin = e.origin;
    setFull(message.full);
    toHost({ type: "ready", side: cfg.position === "left" ? "left" : "right" });
    toHost({ type: "state", open: state.open });
    tellShape();
    // Reopened on a new page of the host site, without taking its focus.
    if (!state.open && wasOpen()) setOpen(true, { restoreFocus: true, quiet: true });
    for (const detail of refusals) toHost({ type: "refused", detail });
    state.unread = -1;
    updateUnread();
    return;
  }
  if (e.origin !== hostOrigin) return;
  if (message.type === "layout") setFull(message.full);
  else if (message.type === "permission" && message.state !== "granted") {
    notifyBox.checked = false;
    state.prefs.notify = false;
    store.set("prefs", state.prefs);
  } else if (message.type === "command" && Object.hasOwn(commands, message.name)) {
    commands[message.name](...(Array.isArray(message.args) ? message.args : []));
  }
});

window.addEventListener("storage", (e) => {
  if (e.key === `${KEY}:session` && JSON.stringify(state.session) !== e.newValue) boot();
});

// ---- colours ---------------------------------------------------------------------------------

function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((m, n) => n - m);
  return (x + 0.05) / (y + 0.05);
}
// The configured text colour, unless it fails WCAG AA on the primary colour.
function readableOn(background, wanted) {
  if (contrast(background, wanted) >= 4.5) return wanted;
  return contrast(background, "#ffffff") >= contrast(background, "#111111") ? "#ffffff" : "#111111";
}

setFull(!framed);
labelLauncher();
boot();
if (!framed) setOpen(true);
