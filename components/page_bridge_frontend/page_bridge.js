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
  window.addEventListener("message", function (event) {
    const data = event.data || {};
    if (data.type !== "streamlit:render") return;
    const args = data.args || {};
    try {
      const root = window.parent.document.documentElement;
      if (args.lang) root.lang = args.lang;
      if (args.dir) root.dir = args.dir;
      closeMenuAfterPageChange(args.page);
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
