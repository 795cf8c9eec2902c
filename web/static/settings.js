// /settings: change the password, edit the profile.

import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { page, field, formView, bindForm, clientCheck, stepGate } from './ui.js';

export const title = 'Settings';
export const signedIn = true;

function passwordCard(ctx, profile, gate) {
  // The account's e-mail, for password managers: it tells them whose
  // password the new one is. Not shown, not sent.
  const account = field({ label: 'Account', name: 'account', type: 'email', autocomplete: 'username', value: profile.email });
  account.wrap.hidden = true;
  account.input.readOnly = true;
  account.input.tabIndex = -1;

  const current = field({
    label: 'Current password', name: 'current_password', type: 'password', autocomplete: 'current-password',
  });
  const next = field({
    label: 'New password', name: 'password', type: 'password', autocomplete: 'new-password', required: true,
    hint: 'Other devices are signed out when the password changes.',
  });
  const { form, submit } = formView({ fields: [account, current, next], submitLabel: 'Change password' });

  bindForm(ctx, {
    form,
    submit,
    fields: { current_password: current, password: next },
    check: () => clientCheck([[next, 'Choose a new password.']]),
    send: (o) => {
      gate.hide();
      return api.changePassword(next.input.value, current.input.value, o);
    },
    done: () => {
      current.input.value = '';
      next.input.value = '';
      ctx.page.info('Your password was changed.');
    },
    failed: (err) => {
      if (err instanceof ApiError && err.code === 'reauth_required') {
        // The session is too old to change the password on its own.
        current.setError(err.detail);
        ctx.page.error(err.detail);
        current.input.focus();
        return true;
      }
      if (err instanceof ApiError && err.code === 'second_factor_required') {
        // The account has a second factor this session has not shown: the
        // current password cannot stand in for it. The typed passwords are
        // not kept across the second step.
        gate.handle(err);
        return true;
      }
      return false;
    },
  });

  return h('section', { class: 'card' },
    h('h2', null, 'Change password'),
    h('p', { class: 'muted' }, 'Enter the password you use now, then the new one.'),
    form);
}

function profileCard(ctx, profile) {
  const username = field({
    label: 'Username', name: 'username', autocomplete: 'nickname', autocapitalize: 'none', spellcheck: 'false',
    value: profile.username || '', hint: '3 to 32 letters, digits, dots, dashes or underscores. Leave empty for none.',
  });
  const location = field({
    label: 'Location', name: 'geo_location', autocomplete: 'address-level2', value: profile.geo_location || '',
  });
  const { form, submit } = formView({ fields: [username, location], submitLabel: 'Save profile' });

  bindForm(ctx, {
    form,
    submit,
    fields: {
      username, 'traits.username': username, geo_location: location, 'traits.geo_location': location,
    },
    send: (o) => api.updateProfile({
      // An empty field clears the trait.
      username: username.input.value.trim() || null,
      geo_location: location.input.value.trim() || null,
    }, o),
    done: (res) => {
      const saved = res.data || {};
      username.input.value = saved.username || '';
      location.input.value = saved.geo_location || '';
      ctx.page.info('Profile saved.');
    },
  });

  return h('section', { class: 'card' }, h('h2', null, 'Profile'), form);
}

export function render(ctx) {
  const pg = page({ title, layout: 'wide', lead: `Signed in as ${ctx.profile.email}.` });
  ctx.page = pg;
  const gate = stepGate(ctx);
  pg.body.append(gate.root, passwordCard(ctx, ctx.profile, gate), profileCard(ctx, ctx.profile),
    h('section', { class: 'card' }, h('h2', null, 'Two-step verification and passkeys'),
      h('p', null, 'Set up an authenticator app, recovery codes and passkeys in ', h('a', { href: '/security' }, 'Security'), '.')));
  return pg;
}
