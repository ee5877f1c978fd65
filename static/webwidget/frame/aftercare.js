// What the ended state offers: the survey (if the widget asks one) and the transcript by
// e-mail. Both speak to ChatBridge with the ended chat's session token, which outlives the
// chat for a while (CHATBRIDGE_ENDED_SESSION_TTL); their words join the widget's i18n.

import { h } from "./dom.js";
import { addStrings } from "./i18n.js";
import { surveyForm } from "./survey.js";
import { transcriptMailForm } from "./transcriptmail.js";

addStrings({
  en: {
    surveyTitle: "How was this chat?", surveyRating: "Your rating", surveyStars: "{n} of 5 stars",
    surveyUp: "Good", surveyDown: "Not good", surveyComment: "Anything to add? (optional)",
    surveySend: "Send feedback", surveyPick: "Choose a rating first.", surveyThanks: "Thank you for your feedback!",
    mailLabel: "E-mail me this transcript", mailSend: "Send",
    mailQueued: "The transcript is on its way to {email}.", mailTooMany: "Too many e-mails for this chat or address; try later.",
  },
  fr: {
    surveyTitle: "Comment s'est passé ce chat ?", surveyRating: "Votre note", surveyStars: "{n} étoiles sur 5",
    surveyUp: "Bien", surveyDown: "Pas bien", surveyComment: "Un mot à ajouter ? (facultatif)",
    surveySend: "Envoyer mon avis", surveyPick: "Choisissez d'abord une note.", surveyThanks: "Merci pour votre avis !",
    mailLabel: "Recevoir la conversation par e-mail", mailSend: "Envoyer",
    mailQueued: "La conversation part vers {email}.", mailTooMany: "Trop d'e-mails pour ce chat ou cette adresse ; réessayez plus tard.",
  },
  ar: {
    surveyTitle: "كيف كانت هذه المحادثة؟", surveyRating: "تقييمك", surveyStars: "{n} من 5 نجوم",
    surveyUp: "جيدة", surveyDown: "غير جيدة", surveyComment: "هل لديك ما تضيفه؟ (اختياري)",
    surveySend: "أرسل رأيك", surveyPick: "اختر تقييمًا أولًا.", surveyThanks: "شكرًا على رأيك!",
    mailLabel: "أرسل لي نص المحادثة بالبريد الإلكتروني", mailSend: "إرسال",
    mailQueued: "نص المحادثة في طريقه إلى {email}.", mailTooMany: "رسائل كثيرة لهذه المحادثة أو هذا العنوان؛ حاول لاحقًا.",
  },
});

// The address the pre-chat form (or the host page's identify()) gave, for the e-mail form.
export function prechatEmail(fields, answers) {
  const named = (fields || []).find((f) => f && f.type === "email" && answers[f.name]);
  const value = named ? answers[named.name] : answers.email;
  return typeof value === "string" ? value.trim() : "";
}

export class Aftercare {
  // `store` is the frame's localStorage helper: it remembers the last chat answered, so that a
  // reload in the ended state thanks rather than asks again.
  constructor({ cfg, t, api, store }) {
    Object.assign(this, { cfg, t, api, store, chatId: null });
    this.node = h("section", { class: "cb-aftercare", hidden: true, "aria-label": t("ended") });
  }

  // Shows the forms of this ended chat (once per chat: answers typed so far stay).
  show(session) {
    if (!session || !session.token) return this.hide();
    this.node.hidden = false;
    if (this.chatId === session.chat_id) return;
    this.chatId = session.chat_id;
    const path = `/api/v1/chats/${encodeURIComponent(session.chat_id)}`;
    const post = (suffix, body) => this.api("POST", path + suffix, { token: session.token, body });
    const scale = this.cfg.survey_scale;
    const answered = this.store && this.store.get("answered", null) === session.chat_id;
    const submit = async (answer) => {
      try {
        await post("/survey", answer);
      } catch (failure) {
        if (failure.code !== "survey_already_answered") throw failure;
      }
      if (this.store) this.store.set("answered", session.chat_id);
    };
    let survey = null;
    if (answered) survey = h("p", { class: "cb-after-done cb-survey", role: "status", text: this.t("surveyThanks") });
    else if (scale === "stars" || scale === "thumbs") survey = surveyForm({ scale, t: this.t, submit });
    this.node.replaceChildren(
      survey,
      transcriptMailForm({ t: this.t, email: session.email || "",
        submit: (email) => post("/transcript-email", { email, locale: this.t.locale }) }));
  }

  hide() {
    this.node.hidden = true;
    this.node.replaceChildren();
    this.chatId = null;
  }
}
