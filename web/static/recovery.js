// /recovery: ask for a reset link; /recovery?token=…: set a new password.
//
// Opening the mailed link only shows the form: the token is posted when
// the person presses the button, so that a mail scanner that opens links
// burns nothing. The token leaves the address bar (and the history) at
// once, and lives only in this screen.

import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { page, field, emailField, formView, bindForm, clientCheck, link } from './ui.js';

export const title = 'Forgot password';

// takeToken reads ?token= and removes it from the address bar.
export function takeToken() {
  const params = new URLSearchParams(window.location.search);
  const token = params.get('token');
  if (params.has('token')) {
    params.delete('token');
    const rest = params.toString();
    window.history.replaceState(window.history.state, '', window.location.pathname + (rest ? `?${rest}` : ''));
  }
  return token;
}

function requestView(ctx) {
  const pg = page({ title, lead: 'Enter the e-mail address of your account and we will send you a link to choose a new password.' });
  ctx.page = pg;
  const email = emailField({ name: 'email', enterkeyhint: 'send' });
  const { form, submit } = formView({ fields: [email], submitLabel: 'Send reset link' });
  bindForm(ctx, {
    form,
    submit,
    fields: { email },
    check: () => clientCheck([[email, 'Enter your e-mail address.']]),
    send: (o) => api.requestRecovery(email.input.value.trim(), o),
    done: () => {
      const address = email.input.value.trim();
      form.replaceWith(h('p', { class: 'muted' },
        'The link works for one hour. Did not get it? Check the spelling of ', h('strong', null, address),
        ' and your spam folder, or ', link('try again', '/recovery'), '.'));
      pg.heading.focus();
      pg.info('If an account exists for that address, we have sent a link to reset the password.');
    },
  });
  pg.body.append(form, h('div', { class: 'links' }, h('p', null, 'Remembered it? ', link('Sign in', '/login'))));
  return pg;
}

function completeView(ctx, token) {
  const pg = page({ title: 'Choose a new password', lead: 'Choose the new password of your account. Every device signed in to it will be signed out.' });
  ctx.page = pg;
  const password = field({
    label: 'New password', name: 'password', type: 'password', autocomplete: 'new-password', required: true,
    hint: 'A long passphrase of a few unrelated words works well. Common passwords are refused.',
  });
  const { form, submit } = formView({ fields: [password], submitLabel: 'Set password' });
  bindForm(ctx, {
    form,
    submit,
    fields: { password },
    check: () => clientCheck([[password, 'Choose a new password.']]),
    send: (o) => api.completeRecovery(token, password.input.value, o),
    done: () => {
      form.replaceWith(h('div', { class: 'actions' }, link('Sign in', '/login', { class: 'btn btn-primary' })));
      if (pg.lead) pg.lead.hidden = true;
      pg.heading.focus();
      pg.info('Your password was changed. Sign in with your new password.');
    },
    failed: (err) => {
      if (err instanceof ApiError && err.status === 410) {
        // Unknown, used or expired: one message for all three.
        form.replaceWith(h('div', { class: 'actions' }, link('Request a new link', '/recovery', { class: 'btn btn-primary' })));
        if (pg.lead) pg.lead.hidden = true;
        pg.heading.focus();
        pg.error(err.detail);
        return true;
      }
      return false;
    },
  });
  pg.body.append(form);
  return pg;
}

export function render(ctx) {
  const token = takeToken();
  return token ? completeView(ctx, token) : requestView(ctx);
}
