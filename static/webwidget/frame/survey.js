// The post-chat survey: a rating on the widget's scale (five stars, or a thumb up or down)
// and an optional comment. Radio buttons, so the rating is chosen with the arrow keys too and
// read out by screen readers as one group; the glyphs are decoration, the labels say it.

import { h } from "./dom.js";

export const MAX_COMMENT = 1000;

let forms = 0;

// Drawn rather than typed: not every system has a font with stars and thumbs.
const STAR = "M12 2.5l2.9 6.1 6.6.8-4.9 4.6 1.3 6.6L12 17.3l-5.9 3.3 1.3-6.6-4.9-4.6 6.6-.8z";
const THUMB = "M7 10v11H3V10zM7 10l4-8a3 3 0 0 1 3 3v4h6a2 2 0 0 1 2 2.3l-1.4 8A2 2 0 0 1 18.6 21H7";

function glyph(path, kind) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  for (const [name, value] of Object.entries({ viewBox: "0 0 24 24", width: "28", height: "28", "aria-hidden": "true", focusable: "false" })) svg.setAttribute(name, value);
  svg.classList.add("cb-glyph", `cb-glyph-${kind}`);
  const shape = document.createElementNS(ns, "path");
  shape.setAttribute("d", path);
  svg.append(shape);
  return svg;
}

const CHOICES = {
  stars: (t) => [1, 2, 3, 4, 5].map((n) => ({ value: n, glyph: () => glyph(STAR, "star"), label: t("surveyStars", { n }) })),
  thumbs: (t) => [
    { value: 1, glyph: () => glyph(THUMB, "up"), label: t("surveyUp") },
    { value: 0, glyph: () => glyph(THUMB, "down"), label: t("surveyDown") },
  ],
};

// `submit({rating, comment})` answers a promise; its rejection carries the API's error code.
export function surveyForm({ scale, t, submit }) {
  const n = ++forms;
  const titleId = `cb-survey-${n}-title`;
  const errorId = `cb-survey-${n}-error`;
  const radios = [];
  const choices = (CHOICES[scale] || CHOICES.stars)(t);
  const group = h("fieldset", { class: `cb-rating cb-rating-${scale}`, "aria-describedby": errorId },
    h("legend", { class: "cb-sr", text: t("surveyRating") }),
    choices.flatMap((choice) => {
      const id = `cb-survey-${n}-r${choice.value}`;
      const input = h("input", { type: "radio", name: `cb-rating-${n}`, value: String(choice.value), id, class: "cb-sr" });
      radios.push(input);
      return [input, h("label", { for: id, title: choice.label },
        choice.glyph(), h("span", { class: "cb-sr", text: choice.label }))];
    }));
  const error = h("p", { class: "cb-error", id: errorId, role: "alert" });
  const commentId = `cb-survey-${n}-comment`;
  const comment = h("textarea", { id: commentId, rows: "2", maxlength: String(MAX_COMMENT) });
  const button = h("button", { type: "submit", class: "cb-btn cb-primary", text: t("surveySend") });
  const form = h("form", { class: "cb-survey", "aria-labelledby": titleId, novalidate: true },
    h("h2", { id: titleId, class: "cb-after-title", text: t("surveyTitle") }),
    group, error,
    h("div", { class: "cb-field" }, h("label", { for: commentId, text: t("surveyComment") }), comment),
    button);

  // Stars light up to the chosen one; the chosen thumb alone.
  group.addEventListener("change", () => {
    const chosen = radios.findIndex((r) => r.checked);
    radios.forEach((radio, i) => radio.nextElementSibling.classList.toggle("cb-on", scale === "thumbs" ? i === chosen : i <= chosen));
    error.textContent = "";
    group.removeAttribute("aria-invalid");
  });

  const thank = (text) => form.replaceChildren(h("p", { class: "cb-after-done", role: "status", tabindex: "-1", text }));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const chosen = radios.find((r) => r.checked);
    if (!chosen) {
      error.textContent = t("surveyPick");
      group.setAttribute("aria-invalid", "true");
      radios[0].focus();
      return;
    }
    button.disabled = true;
    error.textContent = "";
    try {
      await submit({ rating: Number(chosen.value), comment: comment.value.trim().slice(0, MAX_COMMENT) });
      thank(t("surveyThanks"));
      form.firstChild.focus();
    } catch (failure) {
      if (failure.code === "survey_already_answered") return thank(t("surveyThanks"));
      error.textContent = failure.status === 429 ? t("waitAMoment") : t("failed");
      button.disabled = false;
    }
  });
  return form;
}
