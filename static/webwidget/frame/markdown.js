// A small Markdown renderer for agents' messages that builds DOM nodes: paragraphs, line
// breaks, **bold**, *italic*, ~~strike~~, `code`, fenced code, lists, quotes, headings and
// links. Text becomes text nodes; links keep only http(s) and mailto targets.

import { h, safeUrl } from "./dom.js";

const PUNCT = /[\\`*_~[\]()#>+\-.!|{}]/;

// A bare address, without the sentence's end (a trailing full stop, comma, bracket or quote).
const BARE = /^(?:https?:\/\/|mailto:)[^\s<>"]*[^\s<>".,;:!?)\]'"]/;

function link(label, target, t, schemes) {
  const href = safeUrl(target, schemes);
  if (!href) return document.createTextNode(label || target);
  const a = h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow" }, label || target);
  if (t) a.title = t("link", { text: label || target });
  return a;
}

export function inline(text, out, t, depth = 0) {
  let buf = "";
  let i = 0;
  const flush = () => {
    if (buf) out.append(document.createTextNode(buf));
    buf = "";
  };
  const wrap = (tag, inner) => {
    flush();
    const node = h(tag);
    if (depth < 8) inline(inner, node, t, depth + 1);
    else node.textContent = inner;
    out.append(node);
  };
  while (i < text.length) {
    const c = text[i];
    const rest = text.slice(i);
    let m;
    if (c === "\\" && PUNCT.test(text[i + 1] || "")) {
      buf += text[i + 1];
      i += 2;
      continue;
    }
    if (c === "\n") {
      flush();
      out.append(h("br"));
      i += 1;
      continue;
    }
    if (c === "`" && (m = /^`([^`\n]+)`/.exec(rest))) {
      flush();
      out.append(h("code", { text: m[1] }));
      i += m[0].length;
      continue;
    }
    if ((c === "*" || c === "_" || c === "~") && !(c === "_" && /\w/.test(text[i - 1] || ""))) {
      const pair = c + c;
      if (rest.startsWith(pair)) {
        const end = text.indexOf(pair, i + 2);
        if (end > i + 2) {
          wrap(c === "~" ? "del" : "strong", text.slice(i + 2, end));
          i = end + 2;
          continue;
        }
      } else if (c !== "~" && text[i + 1] && text[i + 1] !== " ") {
        const end = text.indexOf(c, i + 1);
        if (end > i + 1 && text[end - 1] !== " ") {
          wrap("em", text.slice(i + 1, end));
          i = end + 1;
          continue;
        }
      }
    }
    if (c === "[" && (m = /^\[([^\]\n]{0,500})\]\(\s*<?((?:[^()\s<>]|\([^()\s<>]*\)){1,2048})>?\s*\)/.exec(rest))) {
      flush();
      out.append(link(m[1], m[2], t));
      i += m[0].length;
      continue;
    }
    if ((c === "h" || c === "m") && !/\w/.test(text[i - 1] || "") && (m = BARE.exec(rest))) {
      flush();
      out.append(link(m[0], m[0], t));
      i += m[0].length;
      continue;
    }
    buf += c;
    i += 1;
  }
  flush();
  return out;
}

// Plain text with its bare web addresses (http and https only) as links; nothing else is read
// into it: a plain-text message shows every character as it was typed.
export function linkify(text, t) {
  const out = document.createDocumentFragment();
  const source = String(text);
  const found = /(?:^|[^\w])(https?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]'"])/gi;
  let from = 0;
  let m;
  while ((m = found.exec(source))) {
    const start = m.index + m[0].length - m[1].length;
    if (start > from) out.append(document.createTextNode(source.slice(from, start)));
    out.append(link(m[1], m[1], t, ["http:", "https:"]));
    from = start + m[1].length;
  }
  if (from < source.length) out.append(document.createTextNode(source.slice(from)));
  return out;
}

const BLOCK_START = /^\s*(```|#{1,6}\s|[-*+]\s+|\d{1,9}[.)]\s+|>)/;

export function renderMarkdown(source, t, depth = 0) {
  const frag = document.createDocumentFragment();
  const lines = String(source).replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) {
      i += 1;
    } else if (/^\s*```/.test(line)) {
      const body = [];
      i += 1;
      while (i < lines.length && !/^\s*```/.test(lines[i])) body.push(lines[i++]);
      i += 1;
      frag.append(h("pre", {}, h("code", { text: body.join("\n") })));
    } else if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      frag.append(inline(m[2], h("p", { class: "cb-md-h" }), t));
      i += 1;
    } else if (/^\s*([-*+]|\d{1,9}[.)])\s+/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = h(ordered ? "ol" : "ul");
      const item = ordered ? /^\s*\d{1,9}[.)]\s+(.*)$/ : /^\s*[-*+]\s+(.*)$/;
      while (i < lines.length && (m = item.exec(lines[i]))) {
        list.append(inline(m[1], h("li"), t));
        i += 1;
      }
      frag.append(list);
    } else if (/^\s*>/.test(line)) {
      const body = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) body.push(lines[i++].replace(/^\s*>\s?/, ""));
      const quote = h("blockquote");
      if (depth < 3) quote.append(renderMarkdown(body.join("\n"), t, depth + 1));
      else quote.textContent = body.join("\n");
      frag.append(quote);
    } else {
      const body = [line];
      i += 1;
      while (i < lines.length && lines[i].trim() && !BLOCK_START.test(lines[i])) body.push(lines[i++]);
      frag.append(inline(body.join("\n"), h("p"), t));
    }
  }
  return frag;
}
