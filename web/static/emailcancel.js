// /email/cancel?token=…: the "this was not me" link of the notice mailed
// to the old address when someone asks to change an account's e-mail.
//
// Opening the link uses nothing (mail scanners open links): the token
// leaves the address bar at once and is posted only when the person
// presses the button, which cancels the change (or undoes it) and signs
// out every session of the account.

import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { page, button, bindButton, link } from './ui.js';
import { takeToken } from './recovery.js';

export const title = 'Cancel the e-mail change';

export function render(ctx) {
  const token = takeToken();
  if (!token) {
    const pg = page({ title, lead: 'Open the link in the e-mail we sent to your old address.' });
    ctx.page = pg;
    pg.body.append(h('div', { class: 'links' }, h('p', null, link('Go to your account', '/'))));
    return pg;
  }
  const pg = page({
    title,
    lead: 'If you did not ask to change the address of your account, cancel it here. This also signs out every session of the account, this one included.',
  });
  ctx.page = pg;
  const cancel = button('Cancel the change and sign out everywhere', { variant: 'primary' });
  const box = h('div', { class: 'actions' }, cancel);
  pg.body.append(box);
  bindButton(ctx, cancel, {
    send: (o) => api.cancelEmailChange(token, o),
    done: () => {
      box.replaceChildren(link('Sign in', '/login', { class: 'btn btn-primary' }));
      pg.info('The change is cancelled and every session is signed out. Sign in again, then change your password.');
    },
    failed: (err) => {
      if (!(err instanceof ApiError) || err.status !== 410) return false;
      box.replaceChildren(h('p', { class: 'muted' }, 'This link was used already or has expired.'));
      pg.error('This link does not work any more.');
      return true;
    },
  });
  return pg;
}
