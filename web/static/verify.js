// /verify?token=…: redeem the link of a verification mail.
//
// The token is posted once, by a browser that has loaded and drawn the
// page (after DOMContentLoaded and an animation frame), never by merely
// fetching the URL. It leaves the address bar at once.

import { api, ApiError, isAbort } from './api.js';
import { h } from './dom.js';
import { page, emailField, formView, bindForm, clientCheck, describe, waitMessage, link } from './ui.js';
import { takeToken } from './recovery.js';

export const title = 'Verify your e-mail';

// Tokens already posted by this document: a second render (back, forward,
// a restored page) never posts one again.
const posted = new Set();

// resendView lets someone without a (working) link ask for a new one.
function resendForm(ctx) {
  const email = emailField({ name: 'email', enterkeyhint: 'send' });
  const { form, submit } = formView({ fields: [email], submitLabel: 'Send a new link' });
  bindForm(ctx, {
    form,
    submit,
    fields: { email },
    check: () => clientCheck([[email, 'Enter your e-mail address.']]),
    send: (o) => api.resendVerificationLink(email.input.value.trim(), o),
    done: () => {
      form.reset();
      ctx.page.info('If that address has an account that is not verified yet, we have sent a new link.');
    },
  });
  return form;
}

function noTokenView(ctx) {
  const pg = page({
    title,
    lead: 'Open the link in the e-mail we sent you, or enter its 6-digit code on your account page. To get a new link, enter your address.',
  });
  ctx.page = pg;
  pg.body.append(resendForm(ctx), h('div', { class: 'links' }, h('p', null, link('Go to your account', '/'))));
  return pg;
}

export function render(ctx) {
  const token = takeToken();
  if (!token || posted.has(token)) return noTokenView(ctx);

  const pg = page({ title });
  ctx.page = pg;
  const progress = h('p', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Checking your link…');
  const box = h('div', { 'aria-busy': 'true' }, progress);
  pg.body.append(box);

  const finish = (...nodes) => {
    box.removeAttribute('aria-busy');
    box.replaceChildren(...nodes);
  };

  async function redeem() {
    if (ctx.signal.aborted || posted.has(token)) return;
    posted.add(token);
    try {
      await api.verifyToken(token, { signal: ctx.signal, onWait: (err) => pg.error(waitMessage(err, true)) });
      finish(h('div', { class: 'actions' }, link('Continue', '/', { class: 'btn btn-primary' })));
      pg.info('Your e-mail address is verified.');
    } catch (err) {
      if (isAbort(err) || ctx.signal.aborted) return;
      if (err instanceof ApiError && err.status === 410) {
        finish(h('p', { class: 'muted' }, 'Links work once and for a limited time. Ask for a new one:'), resendForm(ctx));
      } else {
        finish(h('p', { class: 'muted' }, 'Open the link from the e-mail again to retry.'));
      }
      pg.error(describe(err));
    }
  }

  // Post once the page is drawn: the router starts after DOMContentLoaded,
  // and the frame makes sure the page is rendered in a real browser first.
  requestAnimationFrame(() => { redeem(); });
  return pg;
}
