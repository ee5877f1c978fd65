// Amazon Connect's interactive messages (application/vnd.amazonaws.connect.message.interactive):
// QuickReply, ListPicker and Panel rendered as buttons. Choosing an option answers with its
// title as plain text, as Connect's own chat widget does (Lex matches on the text); the
// "show more"/"previous options" action buttons answer with an interactive response.

import { h, safeUrl } from "./dom.js";

export const INTERACTIVE = "application/vnd.amazonaws.connect.message.interactive";
export const INTERACTIVE_RESPONSE = "application/vnd.amazonaws.connect.message.interactive.response";
const LISTS = new Set(["ListPicker", "Panel", "QuickReply"]);
const clip = (value, max) => (typeof value === "string" ? value.slice(0, max) : "");

export function parseInteractive(content) {
  let message;
  try {
    message = JSON.parse(content);
  } catch {
    return null;
  }
  if (!message || typeof message !== "object" || !LISTS.has(message.templateType)) return null;
  const body = (message.data && message.data.content) || {};
  const elements = Array.isArray(body.elements) ? body.elements.slice(0, 20) : [];
  return {
    type: message.templateType,
    title: clip(body.title, 400),
    subtitle: clip(body.subtitle, 400),
    image: body.imageType === "URL" ? safeUrl(body.imageData, ["https:"]) : null,
    imageAlt: clip(body.imageDescription, 200),
    elements: elements
      .filter((el) => el && typeof el.title === "string" && el.title.trim())
      .map((el) => ({
        title: clip(el.title, 200),
        subtitle: clip(el.subtitle, 200),
        image: el.imageType === "URL" ? safeUrl(el.imageData, ["https:"]) : null,
        action: el.actionDetail === "SHOW_MORE" || el.actionDetail === "PREVIOUS_OPTIONS" ? el.actionDetail : null,
      })),
    raw: body,
  };
}

export function summary(content) {
  const parsed = parseInteractive(content);
  if (!parsed) return content;
  return [parsed.title, ...parsed.elements.map((el) => `• ${el.title}`)].filter(Boolean).join("\n");
}

export function responseText(content) {
  try {
    const data = JSON.parse(content).data || {};
    return String(data.title || data.actionName || content);
  } catch {
    return content;
  }
}

function answer(parsed, element) {
  if (!element.action) return { content: element.title, content_type: "text/plain" };
  const raw = parsed.raw;
  return {
    content_type: INTERACTIVE_RESPONSE,
    content: JSON.stringify({
      version: "1.0",
      data: {
        actionName: element.action, preIndex: raw.preIndex, nextIndex: raw.nextIndex,
        listId: raw.listId, templateType: parsed.type, referenceId: raw.referenceId,
      },
      action: element.action,
    }),
  };
}

export function renderInteractive(parsed, onChoose) {
  const box = h("div", { class: `cb-interactive cb-tpl-${parsed.type.toLowerCase()}` });
  if (parsed.image) box.append(h("img", { class: "cb-interactive-image", src: parsed.image, alt: parsed.imageAlt, loading: "lazy" }));
  if (parsed.title) box.append(h("p", { class: "cb-interactive-title", text: parsed.title }));
  if (parsed.subtitle) box.append(h("p", { class: "cb-interactive-subtitle", text: parsed.subtitle }));
  const options = h("div", { class: "cb-options", role: "group", "aria-label": parsed.title || null });
  for (const element of parsed.elements) {
    const button = h("button", { type: "button", class: "cb-option" },
      element.image ? h("img", { src: element.image, alt: "", loading: "lazy" }) : null,
      h("span", { class: "cb-option-title", text: element.title }),
      element.subtitle ? h("span", { class: "cb-option-subtitle", text: element.subtitle }) : null);
    button.addEventListener("click", () => {
      for (const other of options.querySelectorAll("button")) other.disabled = true;
      button.classList.add("cb-chosen");
      onChoose(answer(parsed, element));
    });
    options.append(button);
  }
  box.append(options);
  return box;
}
