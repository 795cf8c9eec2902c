// Any other path: authd serves the app only at its own pages, so this is
// seen after an in-app link to a page that does not exist.

import { h } from './dom.js';
import { page, link } from './ui.js';

export const title = 'Page not found';

export function render(ctx) {
  const pg = page({ title, lead: 'There is no page at this address. It may have moved, or the link may be mistyped.' });
  ctx.page = pg;
  pg.body.append(h('div', { class: 'actions' }, link('Go to the start page', '/', { class: 'btn btn-primary' })));
  return pg;
}
