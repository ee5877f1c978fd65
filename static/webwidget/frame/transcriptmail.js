// "E-mail me this transcript", at the end of a chat: ChatBridge sends it from its archive. The
// address starts as the one the pre-chat form asked for, if it asked.

import { h } from "./dom.js";

let forms = 0;

const looksLikeAddress = (value) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);

// `submit(address)` answers a promise; its rejection carries the API's error code.
export function transcriptMailForm({ t, email = "", submit }) {
  const n = ++forms;
  const inputId = `cb-mail-${n}-to`;
  const errorId = `cb-mail-${n}-error`;
  const input = h("input", { id: inputId, type: "email", autocomplete: "email", maxlength: "254", "aria-describedby": errorId });
  input.value = email;
  const error = h("p", { class: "cb-error", id: errorId, role: "alert" });
  const button = h("button", { type: "submit", class: "cb-btn cb-quiet", text: t("mailSend") });
  const status = h("p", { class: "cb-after-done", role: "status" });
  const form = h("form", { class: "cb-mailer", novalidate: true },
    h("div", { class: "cb-field" }, h("label", { for: inputId, text: t("mailLabel") }),
      h("div", { class: "cb-mail-row" }, input, button), error),
    status);

  const refuse = (text) => {
    error.textContent = text;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const address = input.value.trim();
    status.textContent = "";
    if (!looksLikeAddress(address)) return refuse(t("email"));
    error.textContent = "";
    input.setAttribute("aria-invalid", "false");
    button.disabled = true;
    try {
      await submit(address);
      status.textContent = t("mailQueued", { email: address });
    } catch (failure) {
      if (failure.code === "invalid_input") refuse(t("email"));
      else refuse(failure.status === 429 ? t("mailTooMany") : t("failed"));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
