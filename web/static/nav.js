// The navigation of the signed-in screens.

import { h } from './dom.js';
import { button } from './ui.js';
import { signOut } from './router.js';

const items = [
  ['Home', '/'],
  ['Settings', '/settings'],
  ['Security', '/security'],
  ['Sessions', '/sessions'],
  ['Activity', '/activity'],
];

// navView is the "Main" navigation, with the link of `path` marked current.
export function navView(path) {
  const out = button('Sign out', { variant: 'quiet', class: 'btn btn-quiet nav-signout' });
  out.addEventListener('click', () => signOut(out));
  return h('nav', { 'aria-label': 'Main', class: 'nav' },
    h('ul', { class: 'nav-links' },
      items.map(([text, href]) => h('li', null,
        h('a', { href, 'aria-current': href === path ? 'page' : null }, text)))),
    out);
}
