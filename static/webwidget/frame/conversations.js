// Continuity and the customer's previous conversations. The frame keeps the customer token
// a start answers (this browser's proof of its own chats) and sends it with the next start,
// so that ChatBridge continues the last chat; an earlier conversation that a chat carries
// over is shown first, dimmed, under a divider; and the menu's "Previous conversations" reads
// the customer's ended chats from the archive, read-only.

import { h } from "./dom.js";
import { STRINGS } from "./i18n.js";
import { api } from "./net.js";

Object.assign(STRINGS.en, {
  earlier: "Earlier conversation", previous: "Previous conversations", back: "Back",
  noPrevious: "No previous conversations yet.", more: "Show more", messages: "{n} messages",
});
Object.assign(STRINGS.fr, {
  earlier: "Conversation précédente", previous: "Conversations précédentes", back: "Retour",
  noPrevious: "Aucune conversation précédente.", more: "Afficher plus", messages: "{n} messages",
});
Object.assign(STRINGS.ar, {
  earlier: "المحادثة السابقة", previous: "المحادثات السابقة", back: "رجوع",
  noPrevious: "لا توجد محادثات سابقة بعد.", more: "عرض المزيد", messages: "{n} رسائل",
});

const CUSTOMER = "customer";
// Pages of a previous conversation's transcript read at most (200 events each).
const MAX_PAGES = 10;

// What a start sends so that the new chat belongs to this browser's customer.
export function customerFields(store) {
  const token = store.get(CUSTOMER, null);
  return typeof token === "string" && token ? { customer_token: token } : {};
}

// Keeps the customer token a start answered (null for a customer proven by identity).
export function rememberCustomer(store, started) {
  if (typeof started.customer_token === "string") store.set(CUSTOMER, started.customer_token);
}

// Earlier events are history: messages and files are shown, what happened around them
// (joins, leaves, the earlier chat's end, receipts) is not acted on.
export const isHistory = (event) => event.type === "message" || event.type === "attachment";

// Marks a message node as the earlier conversation, with one divider above them all.
export function markEarlier(node, log, t) {
  node.classList.add("cb-earlier");
  if (log.querySelector(".cb-earlier-divider")) return;
  log.prepend(h("div", { class: "cb-earlier-divider", role: "separator", "data-time": "", "data-seq": "0" },
    h("span", { text: t("earlier") })));
}

// The "Previous conversations" view: a menu item and a read-only panel over the chat.
export function installPrevious({ menu, panel, t, widgetId, store, identity, closeMenu }) {
  const button = h("button", { type: "button", class: "cb-menu-item cb-previous-item", text: t("previous") });
  menu.insertBefore(button, menu.querySelector(".cb-danger"));
  const heading = h("h2", { class: "cb-previous-title", id: "cb-previous-title", text: t("previous") });
  const back = h("button", { type: "button", class: "cb-btn cb-quiet cb-previous-back", text: t("back") });
  const body = h("div", { class: "cb-previous-body" });
  const view = h("section", { class: "cb-previous", hidden: true, role: "region", "aria-labelledby": heading.id },
    h("div", { class: "cb-previous-head" }, back, heading), body);
  panel.append(view);
  let listing = null;

  const token = () => identity() || customerFields(store).customer_token || null;
  const base = `/api/v1/widgets/${encodeURIComponent(widgetId)}/conversations`;
  const timeFormat = new Intl.DateTimeFormat(t.locale, { dateStyle: "medium", timeStyle: "short" });
  const when = (iso) => (iso ? timeFormat.format(new Date(iso)) : "");

  function close() {
    view.hidden = true;
    button.focus();
  }

  async function showList(cursor) {
    heading.textContent = t("previous");
    if (!cursor) body.replaceChildren();
    listing = body;
    const bearer = token();
    let page = { conversations: [], next_cursor: null };
    if (bearer) {
      try {
        page = await api("GET", `${base}?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token: bearer });
      } catch {
        body.replaceChildren(h("p", { class: "cb-previous-empty", text: t("failed") }));
        return;
      }
    }
    body.querySelector(".cb-previous-more")?.remove();
    if (!cursor && !page.conversations.length) {
      body.append(h("p", { class: "cb-previous-empty", text: t("noPrevious") }));
      return;
    }
    const list = body.querySelector(".cb-previous-list") || body.appendChild(h("ul", { class: "cb-previous-list" }));
    for (const chat of page.conversations) {
      const open = h("button", { type: "button", class: "cb-previous-chat", "data-chat": chat.chat_id },
        h("span", { class: "cb-previous-when", text: when(chat.started_at) }),
        h("span", { class: "cb-previous-who", text: [chat.agent_name, t("messages", { n: chat.message_count })].filter(Boolean).join(" · ") }));
      open.addEventListener("click", () => showChat(chat));
      list.append(h("li", {}, open));
    }
    if (page.next_cursor) {
      const more = h("button", { type: "button", class: "cb-btn cb-quiet cb-previous-more", text: t("more") });
      more.addEventListener("click", () => showList(page.next_cursor));
      body.append(more);
    }
  }

  async function showChat(chat) {
    listing = null;
    heading.textContent = when(chat.started_at);
    const lines = h("ol", { class: "cb-previous-transcript" });
    body.replaceChildren(lines);
    let cursor = null;
    try {
      for (let n = 0; n < MAX_PAGES; n += 1) {
        const query = `?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
        const page = await api("GET", `${base}/${encodeURIComponent(chat.chat_id)}/transcript${query}`, { token: token() });
        for (const { event } of page.events) if (isHistory(event)) lines.append(line(event));
        cursor = page.next_cursor;
        if (!cursor) break;
      }
    } catch {
      body.append(h("p", { class: "cb-previous-empty", text: t("failed") }));
    }
  }

  function line(event) {
    const mine = event.participant_role === "CUSTOMER";
    const text = event.type === "attachment"
      ? (event.attachments || []).map((a) => `[${a.name}]`).join(" ")
      : event.content || "";
    return h("li", { class: `cb-previous-line${mine ? " cb-previous-mine" : ""}${event.earlier ? " cb-earlier" : ""}` },
      h("span", { class: "cb-previous-author", text: mine ? t("you") : event.display_name || t("someone") }),
      h("span", { class: "cb-previous-text", text }),
      h("time", { datetime: event.absolute_time, text: when(event.absolute_time) }));
  }

  button.addEventListener("click", () => {
    closeMenu();
    view.hidden = false;
    back.focus();
    showList(null);
  });
  back.addEventListener("click", () => (listing ? close() : showList(null)));
}
