// /sessions: where the account is signed in; end one or all others.

import { api, ApiError } from './api.js';
import { h, nextId } from './dom.js';
import { page, button, bindButton } from './ui.js';
import { timeEl, agoEl, browserName } from './format.js';

export const title = 'Sessions';
export const signedIn = true;

export async function load(ctx, o) {
  const res = await api.sessions(o);
  return (res.data && Array.isArray(res.data.sessions)) ? res.data.sessions : [];
}

// The current session first, then the most recently seen.
function order(list) {
  return [...list].sort((a, b) => {
    if (a.current !== b.current) return a.current ? -1 : 1;
    return String(b.last_seen_at).localeCompare(String(a.last_seen_at));
  });
}

function item(ctx, s, onEnded) {
  const nameId = nextId('session');
  const name = h('p', { class: 'item-title', id: nameId }, browserName(s.user_agent));
  if (s.current) name.append(' ', h('span', { class: 'badge badge-ok' }, 'This device'));
  const li = h('li', { class: 'item' },
    h('div', { class: 'item-main' },
      name,
      h('p', { class: 'item-meta' },
        h('span', null, 'IP ', h('span', { class: 'mono' }, s.ip || 'unknown')),
        h('span', null, 'Signed in ', timeEl(s.created_at)),
        h('span', null, 'Last seen ', agoEl(s.last_seen_at))),
      h('p', { class: 'item-ua' }, s.user_agent || 'No user agent')));
  if (!s.current) {
    const end = button('End session', { variant: 'danger', 'aria-describedby': nameId });
    li.append(h('div', { class: 'item-actions' }, end));
    bindButton(ctx, end, {
      send: (o) => api.endSession(s.id, o),
      done: () => onEnded(li, 'The session was ended.'),
      failed: (err) => {
        if (err instanceof ApiError && err.status === 404) {
          // Ended already (expired, or from another device).
          onEnded(li, 'That session had already ended.');
          return true;
        }
        return false;
      },
    });
  }
  return li;
}

export function render(ctx, sessions) {
  const pg = page({
    title, layout: 'wide',
    lead: 'The browsers and devices signed in to your account. End any you do not recognise, then change your password.',
  });
  ctx.page = pg;

  const list = h('ul', { class: 'list' });
  const none = h('p', { class: 'muted empty', hidden: true }, 'You are not signed in anywhere else.');
  const endAll = button('End all other sessions', { variant: 'danger' });
  const endAllRow = h('div', { class: 'actions actions-end' }, endAll);

  function refreshControls() {
    const others = list.querySelectorAll('li.item:not(.is-current)').length;
    endAllRow.hidden = others === 0;
    none.hidden = others !== 0;
  }

  function onEnded(li, message) {
    const items = [...list.children];
    const next = items[items.indexOf(li) + 1] || items[items.indexOf(li) - 1];
    const hadFocus = li.contains(document.activeElement);
    li.remove();
    refreshControls();
    if (hadFocus) {
      const target = next && next.querySelector('button');
      if (target) target.focus();
      else pg.heading.focus();
    }
    pg.info(message);
  }

  for (const s of order(sessions)) {
    const li = item(ctx, s, onEnded);
    if (s.current) li.classList.add('is-current');
    list.append(li);
  }

  bindButton(ctx, endAll, {
    send: (o) => api.endOtherSessions(o),
    done: () => {
      for (const li of [...list.querySelectorAll('li.item:not(.is-current)')]) li.remove();
      refreshControls();
      pg.heading.focus();
      pg.info('All other sessions were ended.');
    },
  });

  refreshControls();
  pg.body.append(h('section', { class: 'card card-flush' }, list, none, endAllRow));
  return pg;
}
