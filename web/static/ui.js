// Building blocks shared by the screens: the page frame with its two live
// regions, labelled fields with their errors, and forms and buttons that
// send one request at a time and report how it went.

import { h, nextId } from './dom.js';
import { ApiError, isAbort } from './api.js';

// ---- live regions --------------------------------------------------------

const regionTurn = new WeakMap();

// say puts text in a live region at once. A message equal to the one
// already there (the same failure twice) is emptied and put back a moment
// later: a region whose text does not change is not announced again.
function say(region, text) {
  const turn = (regionTurn.get(region) || 0) + 1;
  regionTurn.set(region, turn);
  const same = Boolean(text) && region.textContent === text;
  region.textContent = '';
  if (!text) return;
  if (!same) {
    region.textContent = text;
    revealIfHidden(region);
    return;
  }
  setTimeout(() => {
    if (regionTurn.get(region) !== turn || !region.isConnected) return;
    region.textContent = text;
    revealIfHidden(region);
  }, 60);
}

// revealIfHidden scrolls a message into view when it is off screen (a form
// low on a long page reports at the top).
function revealIfHidden(el) {
  const box = el.getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) {
    el.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }
}

// ---- page frame ----------------------------------------------------------

// page builds a screen's frame: a heading (focused after a navigation), the
// page's one alert region (errors, role=alert) and one status region
// (success, role=status, polite), and a body for the content.
//   narrow: a single centred card (sign in, sign up, recovery, ...)
//   wide:   a heading over several cards (the signed-in screens)
export function page({ title, lead, layout = 'narrow' }) {
  const headingId = nextId('title');
  const heading = h('h1', { id: headingId, tabindex: '-1' }, title);
  const alert = h('div', { role: 'alert', class: 'message message-error' });
  const status = h('div', { role: 'status', class: 'message message-ok' });
  const body = h('div', { class: 'page-body' });
  const intro = lead ? h('p', { class: 'lead' }, lead) : null;
  let root;
  if (layout === 'wide') {
    root = h('div', { class: 'page page-wide' },
      h('div', { class: 'page-head' }, heading, intro), alert, status, body);
  } else {
    root = h('div', { class: 'page page-narrow' },
      h('div', { class: 'card' }, heading, intro, alert, status, body));
  }
  return {
    root,
    heading,
    lead: intro,
    body,
    title,
    alertRegion: alert,
    statusRegion: status,
    // error shows a failure in the alert region and clears the status.
    error(text) {
      say(status, '');
      say(alert, text);
    },
    // info shows a success or notice in the status region and clears the alert.
    info(text) {
      say(alert, '');
      say(status, text);
    },
    clearMessages() {
      say(alert, '');
      say(status, '');
    },
  };
}

// ---- messages for failures ----------------------------------------------

// waitMessage is what a 429 or 503 says: how long, and whether the app
// tries again by itself.
export function waitMessage(err, retrying) {
  const wait = err.retryAfter === 1 ? '1 second' : `${err.retryAfter} seconds`;
  if (err.status === 429) return `Too many attempts. Try again in ${wait}.`;
  return retrying
    ? `The service is busy. Trying again in ${wait}.`
    : `The service is busy. Try again in ${wait}.`;
}

// describe is the general message of a failure for the alert region.
export function describe(err) {
  if (!(err instanceof ApiError)) return 'Something went wrong in this page. Reload it and try again.';
  if (err.busy) return waitMessage(err, false);
  if (err.status >= 500 && err.requestId) {
    return `${err.detail} If it keeps happening, quote reference ${err.requestId}.`;
  }
  return err.detail;
}

// ---- fields --------------------------------------------------------------

// field builds a labelled input. Its error, when it has one, is an element
// of class field-error right below the input, which the input points at
// with aria-describedby and marks with aria-invalid="true".
export function field({
  label, name, type = 'text', autocomplete, inputmode, hint, value, required = false,
  autocapitalize, spellcheck, enterkeyhint,
}) {
  const id = nextId(name || 'field');
  const labelEl = h('label', { for: id }, label);
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const input = h('input', {
    id,
    name,
    type,
    autocomplete,
    inputmode,
    required,
    autocapitalize,
    spellcheck,
    enterkeyhint,
    'aria-describedby': hintEl ? hintEl.id : null,
  });
  if (value !== undefined && value !== null) input.value = value;
  const wrap = h('div', { class: 'field' }, labelEl, hintEl, input);
  let errorEl = null;

  function clearError() {
    if (errorEl) errorEl.remove();
    errorEl = null;
    input.removeAttribute('aria-invalid');
    if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
    else input.removeAttribute('aria-describedby');
  }

  function setError(message) {
    if (!errorEl) {
      errorEl = h('p', { class: 'field-error', id: `${id}-error` });
      input.after(errorEl);
    }
    errorEl.textContent = message;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', errorEl.id);
  }

  // Typing in a field takes back its error: it is about the old value.
  input.addEventListener('input', () => {
    if (errorEl) clearError();
  });

  return { wrap, input, label: labelEl, setError, clearError, hasError: () => errorEl !== null };
}

// emailField is the e-mail input every screen uses.
export function emailField(props = {}) {
  return field({
    label: 'E-mail',
    type: 'email',
    autocomplete: 'email',
    autocapitalize: 'none',
    spellcheck: 'false',
    required: true,
    ...props,
  });
}

// button builds a button; type defaults to "button" so that only the one
// submit button of a form submits it.
export function button(text, { type = 'button', variant = 'secondary', ...props } = {}) {
  return h('button', { type, class: `btn btn-${variant}`, ...props }, text);
}

// formView lays out fields and actions in a form. The browser's own
// validation bubbles are off (novalidate): errors are shown beside the
// fields, the same way the server's are.
export function formView({ fields, submitLabel, actions = [] }) {
  const submit = button(submitLabel, { type: 'submit', variant: 'primary' });
  const form = h('form', { class: 'form', novalidate: true },
    fields.map((f) => f.wrap),
    h('div', { class: 'actions' }, submit, actions));
  return { form, submit };
}

// ---- requests from forms and buttons ------------------------------------

// setBusy marks a form (or a lone button) as waiting for the server: the
// submit button is disabled and the form says aria-busy. Focus that sat on
// the disabled button comes back to it afterwards.
function setBusy(form, submit, busy) {
  if (busy) {
    submit.dataset.hadFocus = document.activeElement === submit ? 'yes' : '';
    submit.disabled = true;
    if (form) form.setAttribute('aria-busy', 'true');
    submit.classList.add('is-busy');
  } else {
    submit.disabled = false;
    if (form) form.removeAttribute('aria-busy');
    submit.classList.remove('is-busy');
    const lost = document.activeElement === null || document.activeElement === document.body;
    if (submit.dataset.hadFocus === 'yes' && lost && submit.isConnected) submit.focus();
    delete submit.dataset.hadFocus;
  }
}

// showFailure reports a failed request: field errors beside their fields
// (the first one focused), the general message in the alert region. A lost
// session on a signed-in screen sends the person to sign in.
export function showFailure(ctx, err, fieldsByName = {}) {
  if (isAbort(err)) return;
  if (err instanceof ApiError && err.status === 401 && err.code !== 'invalid_credentials' && ctx.sessionEnded) {
    ctx.sessionEnded();
    return;
  }
  const unplaced = [];
  let first = null;
  if (err instanceof ApiError) {
    for (const fe of err.errors) {
      if (!fe || typeof fe.message !== 'string') continue;
      const target = fieldsByName[fe.field];
      if (target && !target.hasError()) {
        target.setError(fe.message);
        if (!first) first = target;
      } else if (!target) {
        unplaced.push(fe.message);
      }
    }
  }
  let message = describe(err);
  for (const extra of unplaced) {
    if (!message.includes(extra)) message = `${message} ${extra}`;
  }
  ctx.page.error(message);
  if (first) first.input.focus();
}

// clientCheck marks the required fields left empty. It returns true when
// the form may be sent. Everything else is the server's to judge, so the
// person sees its exact rule.
export function clientCheck(checks) {
  let first = null;
  for (const [f, message] of checks) {
    if (f.input.value.trim() === '') {
      f.setError(message);
      if (!first) first = f;
    }
  }
  if (first) first.input.focus();
  return first === null;
}

// bindForm runs send() when the form is submitted, one request at a time.
//   check():  client-side checks; false stops the submission
//   send(o):  the request, given {signal, onWait}; its result goes to done()
//   fields:   the API's field names → fields, for the server's errors
//   failed(err): return true when the screen has handled the failure itself
export function bindForm(ctx, { form, submit, fields = {}, check, send, done, failed }) {
  let running = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (running) return;
    for (const f of Object.values(fields)) f.clearError();
    if (check && !check()) {
      ctx.page.clearMessages();
      return;
    }
    running = true;
    setBusy(form, submit, true);
    ctx.page.clearMessages();
    try {
      const result = await send({ signal: ctx.signal, onWait: (err) => ctx.page.error(waitMessage(err, true)) });
      if (ctx.signal.aborted) return;
      running = false;
      setBusy(form, submit, false);
      await done(result);
    } catch (err) {
      if (isAbort(err) || ctx.signal.aborted) return;
      running = false;
      setBusy(form, submit, false);
      if (failed && failed(err)) return;
      showFailure(ctx, err, fields);
    } finally {
      if (running && !ctx.signal.aborted) {
        running = false;
        setBusy(form, submit, false);
      }
    }
  });
}

// bindButton is bindForm for a lone button outside a submission.
export function bindButton(ctx, btn, { send, done, failed }) {
  let running = false;
  btn.addEventListener('click', async () => {
    if (running) return;
    running = true;
    setBusy(btn.closest('form'), btn, true);
    ctx.page.clearMessages();
    try {
      const result = await send({ signal: ctx.signal, onWait: (err) => ctx.page.error(waitMessage(err, true)) });
      if (ctx.signal.aborted) return;
      running = false;
      setBusy(btn.closest('form'), btn, false);
      await done(result);
    } catch (err) {
      if (isAbort(err) || ctx.signal.aborted) return;
      running = false;
      if (btn.isConnected) setBusy(btn.closest('form'), btn, false);
      if (failed && failed(err)) return;
      showFailure(ctx, err);
    } finally {
      if (running && !ctx.signal.aborted) {
        running = false;
        if (btn.isConnected) setBusy(btn.closest('form'), btn, false);
      }
    }
  });
}

// link is an in-app link: a real <a href>, which the router intercepts.
export function link(text, href, props = {}) {
  return h('a', { href, ...props }, text);
}

// ---- a change that needs a fresh or stronger sign-in --------------------

// stepGate is the answer to a privileged change refused with 403
// reauth_required (the last sign-in is too old) or second_factor_required
// (the session has not shown the account's second factor). It says so in
// the alert region and offers the way on in a callout, and leaves
// everything typed in the screen as it is until the person goes.
export function stepGate(ctx) {
  const text = h('p');
  const go = button('Continue', { variant: 'primary' });
  const root = h('div', { class: 'callout callout-gate', hidden: true, dataset: { testid: 'step-gate' } },
    text, h('div', { class: 'actions' }, go));
  let action = null;
  go.addEventListener('click', () => {
    if (action) action();
  });
  return {
    root,
    // handle returns true when err was one of the two refusals.
    handle(err) {
      if (!(err instanceof ApiError)) return false;
      if (err.code === 'reauth_required' && ctx.signInAgain) {
        ctx.page.error(`${err.detail || 'Sign in again to make this change.'}`);
        text.textContent = 'For your security, this change needs a recent sign-in. Nothing was changed. '
          + 'Sign in again and you come back to this page; then make the change again.';
        go.textContent = 'Sign in again';
        action = ctx.signInAgain;
      } else if (err.code === 'second_factor_required' && ctx.toSecondStep) {
        ctx.page.error(`${err.detail || 'This change needs your second factor.'}`);
        text.textContent = 'This change needs your second factor as well: your authenticator app, a passkey or a '
          + 'recovery code. Nothing was changed. Confirm it is you and you come back to this page; then make the change again.';
        go.textContent = 'Confirm with your second factor';
        action = ctx.toSecondStep;
      } else {
        return false;
      }
      root.hidden = false;
      go.focus();
      return true;
    },
    hide() {
      root.hidden = true;
    },
  };
}
