// Streamlit's own widget words in the viewer's language, and its icons kept from screen readers
// (components/widget_words.py). Streamlit has no translations: components/page_bridge.py sends
// `words` ({English as Streamlit writes it: translation}, "{name}" marking the part Streamlit
// fills in), and a MutationObserver swaps them in text and in aria-label / placeholder / title
// after every re-render. Material icon ligatures ("error", "check", …) are text a screen reader
// would read aloud as words: every icon gets aria-hidden="true" (unless it is all a control has).
(function () {
  "use strict";
  const ATTRIBUTES = ["aria-label", "placeholder", "title"];
  // What people wrote and the portal's own (translated) text: never touched.
  const OWN_TEXT = [
    '[data-testid="stMarkdown"]',
    '[data-testid="stText"]',
    '[data-testid="stCode"]',
    '[data-testid="stCaptionContainer"]',
    '[data-testid="stTable"]',
    '[data-testid="stDataFrame"]',
    '[data-testid="stSidebarNav"] a',
    '[contenteditable="true"]:not([role="spinbutton"])', // a date field's parts are Streamlit's
    "script",
    "style",
    "textarea",
  ].join(", ");
  // Streamlit 1.67 hides its own Material icons; an older or newer one may not, nor emoji icons.
  const ICONS = '[data-testid="stIconMaterial"], [data-testid="stAlertDynamicIcon"], [data-testid="stIconEmoji"]';
  const CONTROL = 'button, a, [role="button"], [role="link"], [role="tab"]';

  let exact = new Map();
  let patterns = [];
  let signature = "";
  // What was swapped (node or element+attribute -> [English, shown]): when the language changes,
  // the English comes back first, then the new language's word goes in.
  let swappedText = new WeakMap();
  let swappedAttributes = new WeakMap();
  function restoreEnglish(doc) {
    const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const was = swappedText.get(node);
      if (was && node.data === was[1]) node.data = was[0];
    }
    for (const name of ATTRIBUTES) {
      for (const element of doc.querySelectorAll("[" + name + "]")) {
        const was = (swappedAttributes.get(element) || {})[name];
        if (was && element.getAttribute(name) === was[1]) element.setAttribute(name, was[0]);
      }
    }
    swappedText = new WeakMap();
    swappedAttributes = new WeakMap();
  }

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  // "Remove {name}" -> /^Remove (.+?)$/ with the names in order.
  function compile(words) {
    exact = new Map();
    patterns = [];
    for (const [english, translated] of Object.entries(words || {})) {
      const names = [];
      const source = english
        .split(/(\{\w+\})/)
        .map(function (piece) {
          const match = /^\{(\w+)\}$/.exec(piece);
          if (!match) return escapeRegExp(piece);
          names.push(match[1]);
          return "(.+?)";
        })
        .join("");
      if (names.length === 0) exact.set(english, translated);
      else patterns.push({ regex: new RegExp("^" + source + "$", "s"), names: names, translated: translated });
    }
  }
  function translate(text) {
    const core = text.trim();
    if (!core) return null;
    let result = exact.get(core);
    if (result === undefined) {
      for (const pattern of patterns) {
        const match = pattern.regex.exec(core);
        if (!match) continue;
        result = pattern.translated.replace(/\{(\w+)\}/g, function (whole, name) {
          const index = pattern.names.indexOf(name);
          return index < 0 ? whole : match[index + 1];
        });
        break;
      }
    }
    if (result === undefined || result === core) return null;
    const start = text.indexOf(core);
    return text.slice(0, start) + result + text.slice(start + core.length);
  }
  function translateWidgets(doc) {
    if (exact.size || patterns.length) {
      const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (!parent || parent.closest(OWN_TEXT) || parent.closest(ICONS)) continue;
        const swapped = translate(node.data);
        if (swapped === null) continue;
        swappedText.set(node, [node.data, swapped]);
        node.data = swapped;
      }
      for (const name of ATTRIBUTES) {
        for (const element of doc.querySelectorAll("[" + name + "]")) {
          if (element.closest(OWN_TEXT)) continue;
          const english = element.getAttribute(name);
          const swapped = translate(english);
          if (swapped === null) continue;
          const record = swappedAttributes.get(element) || {};
          record[name] = [english, swapped];
          swappedAttributes.set(element, record);
          element.setAttribute(name, swapped);
        }
      }
    }
    hideIcons(doc);
  }
  // An icon inside a control that has no other name (an icon-only button) stays: hiding it would
  // leave the control nameless.
  function hideIcons(doc) {
    for (const icon of doc.querySelectorAll(ICONS)) {
      if (icon.getAttribute("aria-hidden") === "true") continue;
      const control = icon.closest(CONTROL);
      if (control && !control.getAttribute("aria-label") && !control.getAttribute("title")) {
        const rest = control.textContent.replace(icon.textContent, "").trim();
        if (!rest) continue;
      }
      icon.setAttribute("aria-hidden", "true");
    }
  }
  function watch(host) {
    if (host.__clinicWidgetWords) host.__clinicWidgetWords.disconnect(); // a rebuilt frame: one observer
    let queued = false;
    const observer = new MutationObserver(function () {
      if (queued) return;
      queued = true;
      host.requestAnimationFrame(function () {
        queued = false;
        translateWidgets(host.document);
      });
    });
    observer.observe(host.document.body, {
      childList: true,
      subtree: true,
      characterData: true,
      attributes: true,
      attributeFilter: ATTRIBUTES,
    });
    host.__clinicWidgetWords = observer;
  }
  let watching = false;
  window.addEventListener("message", function (event) {
    const data = event.data || {};
    if (data.type !== "streamlit:render") return;
    const words = (data.args || {}).words || {};
    try {
      const host = window.parent;
      const next = JSON.stringify(words);
      if (next !== signature) {
        if (signature) restoreEnglish(host.document); // the language changed
        signature = next;
        compile(words);
      }
      if (!watching) {
        watch(host);
        watching = true;
      }
      translateWidgets(host.document);
    } catch (error) {
      // not same-origin (never in the portal): Streamlit's words stay in English
    }
  });
})();
