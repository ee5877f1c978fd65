// What the customer reads when ChatBridge refuses this tab's connection because the chat is
// open in as many tabs or windows as it may be (too_many_connections): why, what to do, and a
// button to try again at once. Meanwhile the link waits the server's retry_after (closes.js),
// the conversation stays on screen, and the tab coming back into view tries again too.

import { h } from "./dom.js";
import { addStrings } from "./i18n.js";

addStrings({
  en: { crowded: "This chat is open in too many tabs or windows. Close one to continue here.", crowdedRetry: "Continue here" },
  fr: { crowded: "Ce chat est ouvert dans trop d'onglets ou de fenêtres. Fermez-en un pour continuer ici.", crowdedRetry: "Continuer ici" },
  ar: { crowded: "هذه المحادثة مفتوحة في عدد كبير من علامات التبويب أو النوافذ. أغلق واحدة لتتابع هنا.", crowdedRetry: "تابع هنا" },
});

// The notice, hidden until shown; onRetry reconnects at once.
export class CrowdedNotice {
  constructor({ t, onRetry }) {
    this.el = h("div", { class: "cb-crowded", role: "alert", hidden: true },
      h("p", { text: t("crowded") }),
      h("button", { type: "button", class: "cb-btn cb-primary", text: t("crowdedRetry"), onclick: onRetry }));
  }

  get shown() {
    return !this.el.hidden;
  }

  show(on) {
    this.el.hidden = !on;
  }
}
