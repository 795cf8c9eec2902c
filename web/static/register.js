// /register: create an account (and, in the default mode, sign in).

import { api } from './api.js';
import { h } from './dom.js';
import { page, field, emailField, formView, bindForm, clientCheck, link } from './ui.js';

export const title = 'Create an account';

export function render(ctx) {
  const pg = page({ title });
  ctx.page = pg;

  const email = emailField({ name: 'identifier', enterkeyhint: 'next' });
  const password = field({
    label: 'Password', name: 'password', type: 'password', autocomplete: 'new-password', required: true,
    hint: 'A long passphrase of a few unrelated words works well. Common passwords are refused.',
  });
  const username = field({
    label: 'Username (optional)', name: 'username', autocomplete: 'username', autocapitalize: 'none',
    spellcheck: 'false', hint: '3 to 32 letters, digits, dots, dashes or underscores.',
  });
  const location = field({ label: 'Location (optional)', name: 'geo_location', autocomplete: 'address-level2' });
  const { form, submit } = formView({ fields: [email, password, username, location], submitLabel: 'Create account' });
  const signIn = h('p', null, 'Already have an account? ', link('Sign in', '/login'));

  bindForm(ctx, {
    form,
    submit,
    fields: { identifier: email, email, password, username, geo_location: location },
    check: () => clientCheck([
      [email, 'Enter your e-mail address.'],
      [password, 'Choose a password.'],
    ]),
    send: (o) => {
      const body = { identifier: email.input.value.trim(), password: password.input.value };
      const name = username.input.value.trim();
      const place = location.input.value.trim();
      if (name) body.username = name;
      if (place) body.geo_location = place;
      return api.register(body, o);
    },
    done: (res) => {
      if (res.status === 202) {
        // Strict mode: nobody is signed in until the address is verified;
        // the reply is the same for a new and a taken address.
        form.replaceWith(h('p', { class: 'muted' },
          'Open the link in the e-mail we sent to finish. It may take a minute to arrive; check your spam folder too.'));
        pg.heading.focus();
        pg.info('Check your inbox to finish signing up.');
        return;
      }
      ctx.navigate('/');
    },
  });

  pg.body.append(form, h('div', { class: 'links' }, signIn));
  return pg;
}
