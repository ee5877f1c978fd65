// Agent console for the Amazon Connect emulator: polls the control API and acts as the agent.
"use strict";

const api = "/_emulator";
let selected = null;

function $(id) {
  return document.getElementById(id);
}

async function call(method, path, body) {
  const response = await fetch(api + path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json();
  if (!response.ok) {
    throw new Error(data.error || response.statusText);
  }
  return data;
}

function show(error) {
  $("status").textContent = error ? error.message : "";
}

function describe(item) {
  const kind = (item.ContentType || "").split(".").pop();
  switch (item.Type) {
    case "MESSAGE":
      return item.Content;
    case "ATTACHMENT":
      return "attachment: " + (item.Attachments || []).map((a) => a.AttachmentName).join(", ");
    case "MESSAGEMETADATA":
      return "receipts for " + item.MessageMetadata.MessageId.slice(0, 8) + ": " +
        item.MessageMetadata.Receipts.map((r) => (r.ReadTimestamp ? "read" : "delivered")).join(", ");
    default:
      return kind.replace(/[.]/g, " ");
  }
}

function renderContacts(contacts) {
  const list = $("contact-list");
  list.replaceChildren();
  $("no-contacts").hidden = contacts.length > 0;
  for (const contact of contacts.slice().reverse()) {
    const customer = contact.participants.find((p) => p.role === "CUSTOMER");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = (customer ? customer.display_name : "?") + " · " +
      contact.contact_id.slice(0, 8) + " · " + contact.status;
    button.className = contact.status === "ENDED" ? "ended" : "";
    button.setAttribute("aria-current", String(contact.contact_id === selected));
    button.addEventListener("click", () => {
      selected = contact.contact_id;
      refresh();
    });
    const entry = document.createElement("li");
    entry.append(button);
    list.append(entry);
  }
}

function renderChat(contact) {
  $("chat-title").textContent = "Chat " + contact.contact_id;
  $("chat-meta").textContent = contact.status + " · " + contact.participants
    .map((p) => p.display_name + " (" + p.role + ", " + p.state + ")").join(", ");
  const list = $("items");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.replaceChildren();
  for (const item of contact.items) {
    const entry = document.createElement("li");
    entry.className = (item.Type === "MESSAGE" || item.Type === "ATTACHMENT" ? "" : "event ") +
      (item.ParticipantRole === "AGENT" ? "agent" : "");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = item.DisplayName || item.ParticipantRole || "system";
    const text = document.createElement("span");
    text.textContent = describe(item);
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = item.AbsoluteTime.slice(11, 19);
    entry.append(who, text, when);
    if (item.Type === "MESSAGE" && item.ParticipantRole === "CUSTOMER" && contact.status === "ACTIVE") {
      for (const kind of ["delivered", "read"]) {
        const receipt = document.createElement("button");
        receipt.type = "button";
        receipt.textContent = kind;
        receipt.addEventListener("click", () =>
          act("agent/receipt", { message_id: item.Id, kind }));
        entry.append(receipt);
      }
    }
    list.append(entry);
  }
  if (atBottom) {
    list.scrollTop = list.scrollHeight;
  }
}

async function refresh() {
  try {
    const contacts = await call("GET", "/contacts");
    renderContacts(contacts);
    if (selected) {
      renderChat(await call("GET", "/contacts/" + selected));
    }
  } catch (error) {
    show(error);
  }
}

async function act(action, body) {
  if (!selected) {
    show(new Error("Select a chat first."));
    return;
  }
  try {
    await call("POST", "/contacts/" + selected + "/" + action, body || {});
    show(null);
  } catch (error) {
    show(error);
  }
  refresh();
}

const actions = {
  join: () => act("agent/join", { display_name: "Agent (console)" }),
  typing: () => act("agent/typing"),
  transfer: () => act("transfer"),
  leave: () => act("agent/leave"),
  end: () => act("end"),
};

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-action]")) {
    button.addEventListener("click", actions[button.dataset.action]);
  }
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const content = $("message").value;
    if (!content.trim()) {
      return;
    }
    act("agent/message", { content, content_type: $("content-type").value }).then(() => {
      $("message").value = "";
    });
  });
  refresh();
  setInterval(refresh, 1000);
});
