// /activity: the latest security events of the account.

import { api } from './api.js';
import { h } from './dom.js';
import { page } from './ui.js';
import { timeEl, browserName, eventName, isWarning } from './format.js';

export const title = 'Recent activity';
export const signedIn = true;

export async function load(ctx, o) {
  const res = await api.activity(o);
  return (res.data && Array.isArray(res.data.events)) ? res.data.events : [];
}

export function render(ctx, events) {
  const pg = page({
    title, layout: 'wide',
    lead: 'Sign-ins, changes and other security events of your account, newest first. Something you do not recognise? Change your password and end your other sessions.',
  });
  ctx.page = pg;

  let content;
  if (events.length === 0) {
    content = h('p', { class: 'muted empty' }, 'No activity yet.');
  } else {
    content = h('ul', { class: 'list' }, events.map((e) => h('li', { class: isWarning(e.event) ? 'item item-warn' : 'item' },
      h('div', { class: 'item-main' },
        h('p', { class: 'item-title' }, eventName(e.event)),
        h('p', { class: 'item-meta' },
          h('span', null, timeEl(e.created_at)),
          h('span', null, 'IP ', h('span', { class: 'mono' }, e.ip || 'unknown')),
          h('span', null, browserName(e.user_agent)))))));
  }
  pg.body.append(h('section', { class: 'card card-flush' }, content));
  return pg;
}
