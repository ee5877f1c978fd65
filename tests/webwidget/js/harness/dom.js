// Looking at what a module built: a DOM tree described as plain data for the test to compare,
// and a watch on every way a page can turn a string into markup.

// The tree under `root` (a node or a fragment): its markup as the browser serialises it, its
// text, and every element, attribute and link target, in document order.
export function describe(root) {
  const box = document.createElement("div");
  box.append(root.cloneNode(true));
  const elements = [...box.querySelectorAll("*")];
  return {
    html: box.innerHTML,
    text: box.textContent,
    tags: elements.map((el) => el.localName),
    attributes: elements.flatMap((el) => [...el.attributes].map((a) => `${el.localName} ${a.name}=${a.value}`)),
    hrefs: elements.filter((el) => el.hasAttribute("href")).map((el) => el.getAttribute("href")),
    titles: elements.filter((el) => el.title).map((el) => el.title),
    fragment: root instanceof DocumentFragment,
  };
}

// Records each call of an HTML parsing API (innerHTML and outerHTML set, insertAdjacentHTML,
// createContextualFragment, DOMParser, document.write, setHTMLUnsafe, iframe srcdoc); returns
// the list the calls go into, as "API: first characters of the markup".
export function watchHtmlParsing() {
  const calls = [];
  const note = (name, markup) => calls.push(`${name}: ${String(markup).slice(0, 40)}`);
  const setter = (proto, name) => {
    const own = Object.getOwnPropertyDescriptor(proto, name);
    if (!own || !own.set) return;
    Object.defineProperty(proto, name, {
      ...own,
      set(value) {
        note(name, value);
        return own.set.call(this, value);
      },
    });
  };
  const method = (proto, name, markupArg = 0) => {
    const own = proto && proto[name];
    if (typeof own !== "function") return;
    proto[name] = function (...args) {
      note(name, args[markupArg]);
      return own.apply(this, args);
    };
  };
  setter(Element.prototype, "innerHTML");
  setter(Element.prototype, "outerHTML");
  setter(ShadowRoot.prototype, "innerHTML");
  setter(HTMLIFrameElement.prototype, "srcdoc");
  method(Element.prototype, "insertAdjacentHTML", 1);
  method(Element.prototype, "setHTMLUnsafe");
  method(ShadowRoot.prototype, "setHTMLUnsafe");
  method(Range.prototype, "createContextualFragment");
  method(DOMParser.prototype, "parseFromString");
  method(Document.prototype, "write");
  method(Document.prototype, "writeln");
  return calls;
}
