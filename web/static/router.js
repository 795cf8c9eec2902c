// The router: one screen per path, History API navigation, and the rule
// that a signed-in screen is drawn only from a fresh GET /auth/me (a 401
// goes to sign in, a 403 second_factor_required to the second step).
//
// Each render gets a context: an AbortSignal that ends when the person
// leaves the screen (pending requests and Retry-After waits stop with it),
// navigate(), and on signed-in screens the profile and sessionEnded().
// Nothing private outlives its screen: the profile lives in the context
// and in the screen's DOM, both dropped at the next render.

import { api, ApiError, isAbort } from './api.js';
import { h } from './dom.js';
import { page, button, describe, waitMessage } from './ui.js';
import { navView } from './nav.js';
import * as login from './login.js';
import * as register from './register.js';
import * as home from './home.js';
import * as settings from './settings.js';
import * as sessions from './sessions.js';
import * as activity from './activity.js';
import * as recovery from './recovery.js';
import * as verify from './verify.js';
import * as emailCancel from './emailcancel.js';
import * as notFound from './notfound.js';
import * as secondFactor from './secondfactor.js';
import * as security from './security.js';

const routes = new Map([
  ['/', home],
  ['/login', login],
  ['/register', register],
  ['/recovery', recovery],
  ['/verify', verify],
  ['/email/cancel', emailCancel],
  ['/second-factor', secondFactor],
  ['/settings', settings],
  ['/security', security],
  ['/sessions', sessions],
  ['/activity', activity],
]);

const appName = 'authd';

let controller = null; // the current screen's; aborted when it is left
let current = null; // { screen, page }
let pendingNotice = null; // a message for the next screen
let returnTo = null; // where to go after signing in
let loginHint = ''; // the e-mail for the sign-in screen, when signing in again

// isAppPath tells the paths this app draws (authd serves these pages).
export function isAppPath(pathname) {
  return routes.has(pathname);
}

function mainEl() {
  return document.getElementById('app');
}

function navSlot() {
  return document.getElementById('nav-slot');
}

// navigate shows the screen of `to` (a path with an optional query).
//   replace: replace the current history entry instead of adding one
//   notice:  { info } or { error }, shown by the next screen
export function navigate(to, { replace = false, notice = null } = {}) {
  const url = new URL(to, window.location.origin);
  const target = url.pathname + url.search;
  const here = window.location.pathname + window.location.search;
  pendingNotice = notice;
  if (replace || target === here) window.history.replaceState(null, '', target);
  else window.history.pushState(null, '', target);
  render({ focus: true, scroll: !replace });
}

// takeReturnTo is where the person was going before they had to sign in.
export function takeReturnTo() {
  const to = returnTo;
  returnTo = null;
  return to && isAppPath(new URL(to, window.location.origin).pathname) ? to : '/';
}

// takeLoginHint is the address to put in the sign-in screen's e-mail field
// (once), when the person was asked to sign in again.
export function takeLoginHint() {
  const hint = loginHint;
  loginHint = '';
  return hint;
}

// forget drops everything private: the screen and its data, the pending
// requests, the navigation. Used on sign out and when the session ends.
export function forget() {
  if (controller) controller.abort();
  controller = null;
  current = null;
  returnTo = null;
  loginHint = '';
  home.dropPasskeyOffer();
  secondFactor.dropExpected();
  navSlot().replaceChildren();
  mainEl().replaceChildren();
}

function here() {
  return window.location.pathname + window.location.search;
}

// signInAgain is the answer to 403 reauth_required: the last sign-in is too
// old for this change. The person signs in again (with a second step if
// the account has one) and comes back to this screen.
export function signInAgain({ email = '', keepReturn = false } = {}) {
  if (!keepReturn) returnTo = here();
  loginHint = email;
  navigate('/login', { notice: { info: 'Sign in again to continue. You will come back to the page you were on.' } });
}

// toSecondStep is the answer to 403 second_factor_required: the session
// has proved one factor and the account has two. The second step screen
// asks for the other one, then comes back here.
export function toSecondStep({ replace = false, notice = null } = {}) {
  returnTo = here();
  navigate('/second-factor', { replace, notice });
}

// sessionEnded is what a signed-in screen does on a 401: the session was
// ended elsewhere or expired.
function sessionEnded() {
  const here = window.location.pathname + window.location.search;
  forget();
  returnTo = here;
  navigate('/login', { replace: true, notice: { info: 'Your session has ended. Sign in again to continue.' } });
}

// signOut ends the session on the server, then forgets it here.
export async function signOut(btn) {
  btn.disabled = true;
  const signal = controller ? controller.signal : undefined;
  const pg = current ? current.page : null;
  try {
    await api.logout({ signal, onWait: (err) => pg && pg.error(waitMessage(err, true)) });
  } catch (err) {
    if (isAbort(err)) return;
    // 401: the session had already ended, which is what was asked.
    if (!(err instanceof ApiError && err.status === 401)) {
      btn.disabled = false;
      if (pg) pg.error(`You are still signed in. ${describe(err)}`);
      return;
    }
  }
  forget();
  navigate('/login', { replace: true, notice: { info: 'You have signed out.' } });
}

function setTitle(title) {
  document.title = `${title} · ${appName}`;
}

// loadingView is shown while a signed-in screen checks the session.
function loadingView() {
  const pg = page({ title: 'Loading…', layout: 'wide' });
  pg.root.classList.add('is-loading');
  pg.heading.classList.add('visually-hidden');
  pg.body.append(h('p', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading…'));
  return pg;
}

// failedView is a signed-in screen that could not load.
function failedView(screen, err) {
  const pg = page({ title: screen.title, layout: 'wide' });
  const retry = button('Try again', { variant: 'primary' });
  retry.addEventListener('click', () => render({ focus: true }));
  pg.body.append(h('div', { class: 'card' }, h('p', null, 'This page could not be loaded.'), h('div', { class: 'actions' }, retry)));
  pg.error(describe(err));
  return pg;
}

function show(pg, { focus }) {
  const main = mainEl();
  main.removeAttribute('aria-busy');
  main.replaceChildren(pg.root);
  setTitle(pg.title);
  if (focus) pg.heading.focus({ preventScroll: true });
}

// render draws the screen of the current URL.
export async function render({ focus = false, scroll = false } = {}) {
  if (controller) controller.abort();
  controller = new AbortController();
  const { signal } = controller;
  const path = window.location.pathname;
  const screen = routes.get(path) || notFound;
  const notice = pendingNotice;
  pendingNotice = null;
  const ctx = {
    signal, navigate, page: null, profile: null, sessionEnded: null, signInAgain: null, toSecondStep: null,
  };
  const main = mainEl();
  let data;
  if (scroll) window.scrollTo(0, 0);

  if (screen.signedIn) {
    // Nothing of the last screen stays up while the session is checked.
    navSlot().replaceChildren();
    const waiting = loadingView();
    main.setAttribute('aria-busy', 'true');
    main.replaceChildren(waiting.root);
    setTitle(screen.title);
    ctx.page = waiting;
    ctx.sessionEnded = sessionEnded;
    ctx.signInAgain = () => signInAgain({ email: ctx.profile ? ctx.profile.email : '' });
    ctx.toSecondStep = () => toSecondStep();
    const onWait = (err) => waiting.error(waitMessage(err, true));
    try {
      const me = await api.me({ signal, onWait });
      ctx.profile = me.data;
      data = screen.load ? await screen.load(ctx, { signal, onWait }) : undefined;
    } catch (err) {
      if (isAbort(err) || signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) {
        forget();
        returnTo = path === '/' ? null : path + window.location.search;
        navigate('/login', { replace: true, notice });
        return;
      }
      if (err instanceof ApiError && err.code === 'second_factor_required') {
        // A sign-in that still owes its second step: finish it first.
        forget();
        secondFactor.expect(err.methods);
        returnTo = path === '/' ? null : path + window.location.search;
        navigate('/second-factor', { replace: true, notice });
        return;
      }
      ctx.page = failedView(screen, err);
      navSlot().replaceChildren(navView(path));
      current = { screen, page: ctx.page };
      show(ctx.page, { focus });
      return;
    }
    if (signal.aborted) return;
    navSlot().replaceChildren(navView(path));
  } else {
    navSlot().replaceChildren();
  }

  let pg;
  try {
    pg = screen.render(ctx, data);
  } catch (err) {
    console.error(err);
    pg = page({ title: 'Something went wrong' });
    pg.error('This page could not be shown. Reload it and try again.');
  }
  ctx.page = pg;
  current = { screen, page: pg };
  show(pg, { focus });
  if (notice && notice.info) pg.info(notice.info);
  if (notice && notice.error) pg.error(notice.error);
  if (screen.mounted) screen.mounted(ctx);
}

// leaving is called when the page goes into the back/forward cache: a
// signed-in screen is wiped first, so that the cached copy holds nothing
// private; pageshow draws it again from a fresh GET /auth/me.
export function leaving() {
  if (current && current.screen.signedIn) forget();
}
