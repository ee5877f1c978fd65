// When no chat can start (the widget is outside its business hours, or Amazon Connect is at
// capacity), the panel says why and when the team is back, and offers a form to leave a
// message (POST /api/v1/widgets/<id>/messages) instead of a dead end.

import { h } from "./dom.js";
import { STRINGS } from "./i18n.js";

export const CLOSED = "outside_business_hours";
export const AT_CAPACITY = "at_capacity";
const MAX_MESSAGE = 4000;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// setTimeout's longest delay; a later opening is looked at again then.
const MAX_DELAY = 2 ** 31 - 1;

const TEXTS = {
  en: {
    awayTitle: "We're away right now", backAt: "We're back {when}.",
    busyTitle: "All our agents are busy", busyText: "No one can take a new chat right now.",
    leaveIntro: "Leave a message and we'll get back to you by e-mail.",
    yourName: "Name", yourEmail: "E-mail", yourMessage: "Your message", sendMessage: "Send message",
    messageSent: "Thank you! We received your message and will reply to {email}.",
    tryAgain: "Try the chat again", tooLong: "Please keep it under {n} characters.",
  },
  fr: {
    awayTitle: "Nous sommes absents pour le moment", backAt: "Nous serons de retour {when}.",
    busyTitle: "Tous nos conseillers sont occupés", busyText: "Personne ne peut prendre un nouveau chat pour le moment.",
    leaveIntro: "Laissez-nous un message, nous vous répondrons par e-mail.",
    yourName: "Nom", yourEmail: "E-mail", yourMessage: "Votre message", sendMessage: "Envoyer le message",
    messageSent: "Merci ! Nous avons bien reçu votre message et répondrons à {email}.",
    tryAgain: "Réessayer le chat", tooLong: "Pas plus de {n} caractères, s'il vous plaît.",
  },
  ar: {
    awayTitle: "نحن غير متاحين الآن", backAt: "سنعود {when}.",
    busyTitle: "جميع موظفينا مشغولون", busyText: "لا يمكن لأحد استقبال محادثة جديدة الآن.",
    leaveIntro: "اترك لنا رسالة وسنرد عليك بالبريد الإلكتروني.",
    yourName: "الاسم", yourEmail: "البريد الإلكتروني", yourMessage: "رسالتك", sendMessage: "أرسل الرسالة",
    messageSent: "شكرًا! وصلتنا رسالتك وسنرد على {email}.",
    tryAgain: "حاول المحادثة مرة أخرى", tooLong: "يرجى ألا تتجاوز {n} حرفًا.",
  },
};
for (const [lang, table] of Object.entries(TEXTS)) if (STRINGS[lang]) Object.assign(STRINGS[lang], table);

// Which offer a refused chat start calls for: the widget closed, Connect at capacity, or none.
export function offerFor(error) {
  if (!error) return null;
  if (error.code === CLOSED) return CLOSED;
  if (error.status === 503 && error.code === AT_CAPACITY) return AT_CAPACITY;
  return null;
}

export function isClosed(availability) {
  return !!availability && availability.open === false;
}

// When the team is back, in the visitor's own time zone and language: the time alone today,
// the weekday and time within the week, the date and time beyond.
export function formatWhen(iso, locale, now = new Date()) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const days = (at - now) / 86400000;
  const sameDay = at.toDateString() === now.toDateString();
  const options = sameDay ? { hour: "numeric", minute: "2-digit" }
    : days < 6 ? { weekday: "long", hour: "numeric", minute: "2-digit" }
    : { dateStyle: "medium", timeStyle: "short" };
  return new Intl.DateTimeFormat(locale, options).format(at);
}

export function checkMessage({ name, email, message }, t) {
  const problems = {};
  if (!name) problems.name = t("required");
  if (!email) problems.email = t("required");
  else if (!EMAIL.test(email)) problems.email = t("email");
  if (!message) problems.message = t("required");
  else if (message.length > MAX_MESSAGE) problems.message = t("tooLong", { n: MAX_MESSAGE });
  return problems;
}

export class MessageForm {
  // `api` is net.js's; `onReopen` is called once the widget takes chats again (or the
  // customer asks to try again at capacity).
  constructor({ t, widgetId, api, onReopen }) {
    Object.assign(this, { t, widgetId, api, onReopen });
    this.reason = null;
    this.timer = null;
    this.title = h("h2", { class: "cb-leave-title", id: "cb-leave-title", tabindex: "-1" });
    this.when = h("p", { class: "cb-leave-when" });
    this.notice = h("p", { class: "cb-leave-notice", role: "alert" });
    this.done = h("p", { class: "cb-leave-done", role: "status", tabindex: "-1", hidden: true });
    this.retry = h("button", { type: "button", class: "cb-btn cb-quiet", text: t("tryAgain"), hidden: true });
    this.send = h("button", { type: "submit", class: "cb-btn cb-primary", text: t("sendMessage") });
    this.form = h("form", { class: "cb-leave-form", novalidate: true, "aria-labelledby": "cb-leave-title" });
    this.el = h("section", { class: "cb-leave", "aria-labelledby": "cb-leave-title", hidden: true },
      this.title, this.when, h("p", { class: "cb-leave-intro", text: t("leaveIntro") }),
      this.form, this.done, this.retry);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.retry.addEventListener("click", () => this.reopen());
  }

  field(name, type, label, attrs) {
    const id = `cb-leave-${name}`;
    const control = type === "textarea"
      ? h("textarea", { id, name, ...attrs })
      : h("input", { id, name, type, ...attrs });
    control.setAttribute("aria-required", "true");
    control.setAttribute("aria-describedby", `${id}-error`);
    return h("div", { class: "cb-field" },
      h("label", { for: id }, label, h("span", { class: "cb-req", "aria-hidden": "true", text: " *" })),
      control, h("p", { class: "cb-error", id: `${id}-error` }));
  }

  // Shows the offer: why (CLOSED or AT_CAPACITY), when the team is back, and the form with
  // what is already known of the customer.
  show(reason, { nextOpen = null, name = "", email = "", message = "" } = {}) {
    const t = this.t;
    this.reason = reason;
    const closed = reason === CLOSED;
    this.title.textContent = closed ? t("awayTitle") : t("busyTitle");
    const when = closed && nextOpen ? formatWhen(nextOpen, t.locale) : "";
    this.when.textContent = closed ? (when ? t("backAt", { when }) : "") : t("busyText");
    this.retry.hidden = closed;
    this.build();
    this.form.hidden = false;
    this.done.hidden = true;
    this.notice.textContent = "";
    for (const [key, value] of Object.entries({ name, email, message })) {
      const control = this.form.elements.namedItem(key);
      if (value && !control.value) control.value = String(value);
    }
    this.watch(closed ? nextOpen : null);
  }

  // The fields exist only while the offer is shown: the chat's own form and composer have
  // fields named alike, and one label should name one field.
  build() {
    if (this.form.elements.length) return;
    const t = this.t;
    this.form.replaceChildren(
      this.field("name", "text", t("yourName"), { autocomplete: "name", maxlength: "120" }),
      this.field("email", "email", t("yourEmail"), { autocomplete: "email", maxlength: "254" }),
      this.field("message", "textarea", t("yourMessage"), { rows: "4", maxlength: String(MAX_MESSAGE) }),
      this.notice, this.send);
  }

  hide() {
    clearTimeout(this.timer);
    this.timer = null;
    this.form.replaceChildren();
  }

  focusTarget() {
    if (!this.done.hidden) return this.done;
    return this.form.querySelector("[aria-invalid=true]") || this.form.querySelector("input,textarea");
  }

  values() {
    const get = (name) => this.form.elements.namedItem(name).value.trim();
    return { name: get("name"), email: get("email"), message: get("message") };
  }

  setError(name, text) {
    const control = this.form.elements.namedItem(name);
    if (!control) return false;
    control.setAttribute("aria-invalid", text ? "true" : "false");
    this.form.querySelector(`#cb-leave-${name}-error`).textContent = text;
    return true;
  }

  async submit() {
    const t = this.t;
    const values = this.values();
    const problems = checkMessage(values, t);
    for (const name of ["name", "email", "message"]) this.setError(name, problems[name] || "");
    if (Object.keys(problems).length) {
      this.focusTarget().focus();
      return false;
    }
    this.send.disabled = true;
    this.notice.textContent = "";
    try {
      await this.api("POST", `/api/v1/widgets/${encodeURIComponent(this.widgetId)}/messages`,
        { body: { ...values, reason: this.reason || "other" } });
      this.form.hidden = true;
      this.form.reset();
      this.done.textContent = t("messageSent", { email: values.email });
      this.done.hidden = false;
      this.done.focus();
      return true;
    } catch (error) {
      if (!(error.field && this.setError(error.field, error.message))) {
        this.notice.textContent = error.status === 429 ? t("waitAMoment") : t("failed");
      }
      return false;
    } finally {
      this.send.disabled = false;
    }
  }

  // At the next opening, asks ChatBridge whether the widget is open again (hours may have
  // changed meanwhile) and goes back to the chat if so.
  watch(nextOpen) {
    clearTimeout(this.timer);
    this.timer = null;
    const at = nextOpen ? new Date(nextOpen).getTime() : NaN;
    if (Number.isNaN(at)) return;
    this.timer = setTimeout(() => this.recheck(), Math.min(Math.max(at - Date.now(), 0) + 1000, MAX_DELAY));
  }

  async recheck() {
    try {
      const config = await this.api("GET", `/api/v1/widgets/${encodeURIComponent(this.widgetId)}/config`);
      if (isClosed(config.availability)) this.watch(config.availability.next_open);
      else this.reopen(config.availability);
    } catch {
      this.timer = setTimeout(() => this.recheck(), 60000);
    }
  }

  reopen(availability = { open: true }) {
    this.hide();
    this.onReopen(availability);
  }
}
