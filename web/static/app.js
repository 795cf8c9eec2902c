// The app's entry point: it starts the router once the document has
// loaded, routes clicks on in-app links through the History API, and draws
// the screen again whenever the page comes back (back/forward, or from
// the back/forward cache), so that no screen is ever shown from memory.

import { render, navigate, isAppPath, leaving } from './router.js';

// followLink turns a click on an in-app <a href> into a navigation without
// a page load. Modified clicks (new tab, download, ...) are the browser's.
function followLink(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target instanceof Element ? event.target.closest('a[href]') : null;
  if (!a || (a.target && a.target !== '_self') || a.hasAttribute('download')) return;
  if (a.classList.contains('skip-link')) {
    event.preventDefault();
    const heading = document.querySelector('#app h1');
    if (heading) heading.focus();
    return;
  }
  const url = new URL(a.href, window.location.href);
  if (url.origin !== window.location.origin || !isAppPath(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}

let started = false;

function start() {
  if (started) return;
  started = true;
  document.addEventListener('click', followLink);
  window.addEventListener('popstate', () => render({ focus: true }));
  // A page restored from the back/forward cache runs no script on its
  // own: check the session again before showing anything.
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) render({ focus: false });
  });
  window.addEventListener('pagehide', (event) => {
    if (event.persisted) leaving();
  });
  render({ focus: false });
}

// The screens start after DOMContentLoaded (a module script runs just
// before it), so a page such as /verify acts only in a browser that has
// loaded the document; `load` is a fallback should that moment be past.
if (document.readyState === 'complete') {
  start();
} else {
  document.addEventListener('DOMContentLoaded', start, { once: true });
  window.addEventListener('load', start, { once: true });
}
