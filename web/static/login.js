// /login: sign in with e-mail and password.

import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { page, field, emailField, formView, bindForm, bindButton, clientCheck, button, link } from './ui.js';
import { takeReturnTo } from './router.js';

export const title = 'Sign in';

export function render(ctx) {
  const pg = page({ title });
  ctx.page = pg;

  const email = emailField({ name: 'identifier', enterkeyhint: 'next' });
  const password = field({
    label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password',
    required: true, enterkeyhint: 'go',
  });
  const { form, submit } = formView({ fields: [email, password], submitLabel: 'Sign in' });

  // Shown when the server wants a verified address before signing in.
  const resend = button('Send a new link');
  const unverified = h('div', { class: 'callout', hidden: true },
    h('p', null, 'Did not get the e-mail, or is the link too old?'), h('div', { class: 'actions' }, resend));

  bindForm(ctx, {
    form,
    submit,
    fields: { identifier: email, email, password },
    check: () => clientCheck([
      [email, 'Enter your e-mail address.'],
      [password, 'Enter your password.'],
    ]),
    send: (o) => {
      unverified.hidden = true;
      return api.login({ identifier: email.input.value.trim(), password: password.input.value }, o);
    },
    done: () => ctx.navigate(takeReturnTo()),
    failed: (err) => {
      if (!(err instanceof ApiError)) return false;
      if (err.status === 401) {
        // One message for an unknown e-mail and a wrong password.
        pg.error(err.detail);
        password.input.focus();
        password.input.select();
        return true;
      }
      if (err.code === 'email_not_verified') {
        pg.error(err.detail);
        unverified.hidden = false;
        return true;
      }
      return false;
    },
  });

  bindButton(ctx, resend, {
    send: (o) => api.resendVerificationLink(email.input.value.trim(), o),
    done: () => {
      unverified.hidden = true;
      pg.info('If an account exists for that address and it is not verified yet, we have sent a new link.');
    },
  });

  pg.body.append(
    form,
    unverified,
    h('div', { class: 'links' },
      h('p', null, link('Forgot password?', '/recovery')),
      h('p', null, 'New here? ', link('Create an account', '/register'))),
  );
  return pg;
}
