// The page's own settings that only a script can make, from a file the CSP allows (no inline
// script): the language and direction of the portal's <html> (screen readers, Arabic right to
// left), and the request that sets (after log-in) or deletes (after log-out) the HttpOnly
// session cookie. Streamlit serves this frame from the portal's origin, so it may reach its parent.
(function () {
  "use strict";
  function toStreamlit(type, data) {
    window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data), "*");
  }
  let lastNonce = null;
  // Streamlit's own narrow-screen breakpoint ("md"): below it the sidebar menu covers most of the page.
  const NARROW_SCREEN_PX = 768;
  const LAST_PATH_KEY = "clinic.page-bridge.last-path";
  // On a narrow screen, close the menu once a page was chosen (Streamlit closes it only for
  // phone user agents it recognises, and never after a link or a switch in the page itself).
  // The path seen last is kept in the tab's sessionStorage, so this frame being rebuilt does not
  // count as a page change.
  function closeMenuAfterPageChange(page) {
    const host = window.parent;
    const path = page || host.location.pathname;
    const storage = host.sessionStorage;
    const previous = storage.getItem(LAST_PATH_KEY);
    storage.setItem(LAST_PATH_KEY, path);
    if (previous === null || previous === path || host.innerWidth >= NARROW_SCREEN_PX) return;
    const sidebar = host.document.querySelector('[data-testid="stSidebar"]');
    if (!sidebar || sidebar.getAttribute("data-collapsed") !== "false") return;
    const close = host.document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (close) close.click();
  }
  // Field errors tied to their fields (components/field_errors.py): an error sits in a container
  // with the class st-key-field-error-<input key>; its input is the widget with the class
  // st-key-<input key> (or the first whose key starts with <input key>_). While the error shows,
  // the input has aria-invalid="true" and aria-describedby naming the error; when it goes, so do
  // they. Required fields (labels ending in " *") get aria-required="true". A MutationObserver
  // re-applies this after every Streamlit re-render.
  const ERROR_PREFIX = "st-key-field-error-";
  // A widget's control, in this order (a date's first segment; a button, e.g. a photo view's,
  // only where there is no field: a label's help button comes before the field).
  const CONTROLS = [
    '[role="radiogroup"]',
    '[role="spinbutton"]',
    'input:not([type="hidden"])',
    "textarea",
    "select",
    "button",
  ];
  function controlOf(widget) {
    for (const selector of CONTROLS) {
      const control = widget.querySelector(selector);
      if (control && (selector !== "button" || !control.closest('[data-testid="stTooltipIcon"]'))) return control;
    }
    return null;
  }
  function keyedElement(doc, key) {
    const exact = doc.querySelector("." + CSS.escape("st-key-" + key));
    if (exact) return exact;
    const group = "st-key-" + key + "_";
    for (const element of doc.querySelectorAll('[class*="' + group + '"]')) {
      for (const name of element.classList) if (name.startsWith(group)) return element;
    }
    return null;
  }
  function describedBy(control) {
    return (control.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  }
  function setDescribedBy(control, ids) {
    if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
    else control.removeAttribute("aria-describedby");
  }
  function setAttr(element, name, value) {
    if (element.getAttribute(name) !== value) element.setAttribute(name, value);
  }
  function linkFieldErrors(doc) {
    const linked = new Set();
    for (const box of doc.querySelectorAll('[class*="' + ERROR_PREFIX + '"]')) {
      let key = null;
      for (const name of box.classList) if (name.startsWith(ERROR_PREFIX)) key = name.slice(ERROR_PREFIX.length);
      const alert = box.querySelector('[data-testid="stAlertContainer"]') || box;
      const widget = key && keyedElement(doc, key);
      const control = widget && controlOf(widget);
      if (!control || !alert.textContent.trim()) continue;
      const id = "field-error-" + key;
      setAttr(alert, "id", id);
      setAttr(control, "aria-invalid", "true");
      setAttr(control, "data-field-error", id);
      const ids = describedBy(control);
      if (!ids.includes(id)) setDescribedBy(control, ids.concat(id));
      linked.add(control);
    }
    for (const control of doc.querySelectorAll("[data-field-error]")) {
      if (linked.has(control)) continue; // the error was fixed (or its field re-rendered without it)
      const id = control.getAttribute("data-field-error");
      control.removeAttribute("data-field-error");
      control.removeAttribute("aria-invalid");
      setDescribedBy(control, describedBy(control).filter(function (one) { return one !== id; }));
    }
    for (const label of doc.querySelectorAll('[data-testid="stWidgetLabel"]')) {
      if (!label.textContent.trim().endsWith(" *")) continue;
      const widget = label.closest('[data-testid="stElementContainer"]');
      const control = widget && controlOf(widget);
      if (control && control.tagName !== "BUTTON") setAttr(control, "aria-required", "true");
    }
  }
  // Streamlit's own markup where axe-core finds it wrong (tests/browser/test_accessibility*.py):
  // the menu's sections are <div>s inside its <ul> with the <li>s inside them (axe "list",
  // "listitem"): the <ul> is no list, each section is a list named by its heading; a photo's drop
  // zone is role=presentation yet named and focusable ("presentation-role-conflict"): a group; a
  // progress bar is named "progress": its visible words name it.
  function repairStreamlitMarkup(doc) {
    for (const items of doc.querySelectorAll('[data-testid="stSidebarNavItems"]')) {
      setAttr(items, "role", "none");
      let index = 0;
      for (const section of items.children) {
        const header = section.tagName === "DIV" && section.querySelector('[data-testid="stNavSectionHeader"]');
        if (!header) continue;
        setAttr(header, "id", header.id || "clinic-menu-section-" + index);
        setAttr(header, "role", "none");
        setAttr(section, "role", "list");
        setAttr(section, "aria-labelledby", header.id);
        index += 1;
      }
    }
    for (const zone of doc.querySelectorAll('[data-testid="stFileUploaderDropzone"][role="presentation"]')) {
      setAttr(zone, "role", "group");
    }
    for (const progress of doc.querySelectorAll('[data-testid="stProgress"]')) {
      const bar = progress.querySelector('[role="progressbar"]');
      const words = progress.querySelector('[data-testid="stMarkdownContainer"]');
      if (bar && words && words.textContent.trim()) setAttr(bar, "aria-label", words.textContent.trim());
    }
  }
  function watchFieldErrors() {
    const host = window.parent;
    if (host.__clinicFieldErrors) host.__clinicFieldErrors.disconnect(); // a rebuilt frame: one observer
    let queued = false;
    const observer = new MutationObserver(function () {
      if (queued) return;
      queued = true;
      host.requestAnimationFrame(function () {
        queued = false;
        linkFieldErrors(host.document);
        repairStreamlitMarkup(host.document);
      });
    });
    observer.observe(host.document.body, { childList: true, subtree: true, characterData: true });
    host.__clinicFieldErrors = observer;
    linkFieldErrors(host.document);
    repairStreamlitMarkup(host.document);
  }
  // A visible focus ring on every control reached by keyboard: Streamlit's text fields, selects and
  // check/radio boxes only change a border colour. A constructed style sheet (CSSOM), not a
  // <style> element, so the Content-Security-Policy has nothing to allow.
  const FOCUS_RING = "2px solid #1c83e1";
  // Inside the focused element (offset -2px: never cut off by a parent that hides its overflow);
  // a check or radio box's own input is invisible, so its label gets the ring.
  const FOCUS_CSS = [
    ":focus-visible { outline: " + FOCUS_RING + " !important; outline-offset: -2px !important; }",
    "label:has(input:focus-visible) { outline: " + FOCUS_RING + " !important; outline-offset: 2px; }",
    // A date's or time's parts (day, month, hour ...) are targets of at least 24 x 24 px (WCAG 2.5.8).
    '[role="spinbutton"][contenteditable] { display: inline-block; min-width: 24px; min-height: 24px;'
      + " text-align: center; }",
  ].join("\n");
  function addFocusRing(host) {
    if (host.__clinicFocusRing) return;
    const sheet = new host.CSSStyleSheet();
    sheet.replaceSync(FOCUS_CSS);
    host.document.adoptedStyleSheets = host.document.adoptedStyleSheets.concat(sheet);
    host.__clinicFocusRing = sheet;
  }
  // Several app servers (components/room_move.py): Caddy pins a browser to a server with its
  // sticky cookie; pointing it at the server that holds the live consult's room and loading the
  // page again moves the browser there (the HttpOnly session cookie logs it in on arrival).
  let moved = false;
  function moveToServer(host, move) {
    if (moved || !move || !move.cookie || !move.value) return;
    moved = true;
    let cookie = move.cookie + "=" + encodeURIComponent(move.value) + "; path=/; SameSite=Lax";
    if (host.location.protocol === "https:") cookie += "; Secure";
    host.document.cookie = cookie;
    const url = new URL(host.location.href);
    for (const [name, value] of Object.entries(move.query || {})) url.searchParams.set(name, String(value));
    // This frame is sandboxed without allow-top-navigation: it cannot navigate the page itself,
    // but a link in the page's own document can (the page is the one that navigates).
    const link = host.document.createElement("a");
    link.href = url.toString();
    link.hidden = true;
    host.document.body.appendChild(link);
    link.click();
  }
  let watching = false;
  window.addEventListener("message", function (event) {
    const data = event.data || {};
    if (data.type !== "streamlit:render") return;
    const args = data.args || {};
    try {
      const root = window.parent.document.documentElement;
      if (args.lang) root.lang = args.lang;
      if (args.dir) root.dir = args.dir;
      closeMenuAfterPageChange(args.page);
      if (args.server) root.dataset.clinicServer = args.server;
      moveToServer(window.parent, args.move);
      if (!watching) {
        window.frameElement.setAttribute("tabindex", "-1"); // invisible: no stop for the Tab key
        addFocusRing(window.parent);
        watchFieldErrors();
        watching = true;
      }
    } catch (error) {
      // not same-origin (never in the portal): the page keeps its defaults
    }
    const request = args.request;
    if (!request || !args.nonce || args.nonce === lastNonce) return; // once per instruction
    lastNonce = args.nonce;
    fetch(request.path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request.body || {}),
    }).finally(function () {
      toStreamlit("streamlit:setComponentValue", { value: args.nonce, dataType: "json" });
    });
  });
  toStreamlit("streamlit:componentReady", { apiVersion: 1 });
  toStreamlit("streamlit:setFrameHeight", { height: 0 });
})();
