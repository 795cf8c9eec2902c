// Two devices (browser contexts) of one user: a password change ends the
// other's session; the sessions page lists both and ends the other.
import {
  button, expectHome, expectPath, expectSignedOut, field, goNav, newUser, onScreen, signIn, signUp, status,
} from '../lib/app.mjs';
import { assert, expectCount, expectText, expectVisible } from '../lib/expect.mjs';
import { scenario } from '../lib/scenario.mjs';

const OTHER_UA_TAG = 'E2E-Second-Device';

async function twoDevices(w) {
  const u = newUser('jo');
  const a = await w.newPage({ label: 'A' });
  await signUp(a, w, u);
  const ua = await a.evaluate(() => navigator.userAgent);
  const b = await w.newPage({ label: 'B', userAgent: `${ua} ${OTHER_UA_TAG}` });
  await signIn(b, w, u.email, u.password);
  await expectHome(b, u);
  return { u, a, b };
}

scenario('5. a password change in settings signs out the other browser', async (w) => {
  const { u, a, b } = await twoDevices(w);
  await goNav(a, 'Settings', 'Settings');
  await expectPath(a, '/settings');
  await onScreen(a, 'Change password');
  const newPassword = `${u.password} changed`;
  await field(a, 'Current password').fill(u.password);
  await field(a, 'New password').fill(newPassword);
  await button(a, 'Change password').click();
  await expectVisible(status(a, 'Your password was changed.'));
  await w.shot(a, 'password changed');

  // This browser stays signed in (its session got a new id)...
  await a.reload();
  await onScreen(a, 'Settings');
  await goNav(a, 'Home', 'Your account');
  await expectHome(a, u);
  // ...the other one's next page load goes to sign in.
  await expectSignedOut(b, w, u, '/');
  await w.shot(b, 'other browser signed out');
  // And there the new password works.
  await signIn(b, w, u.email, newPassword);
  await expectHome(b, u);
});

// sessionItems: the list items of the sessions list (not those of the nav).
function items(page) {
  return page.getByRole('listitem').filter({
    has: page.getByRole('button', { name: 'End session', exact: true }),
  }).or(page.getByRole('listitem').filter({ hasText: 'This device' }));
}
const current = (page) => page.getByRole('listitem').filter({ hasText: 'This device' });
const others = (page) => page.getByRole('listitem').filter({
  has: page.getByRole('button', { name: 'End session', exact: true }),
});

scenario('6. the sessions page lists both browsers and ends the other', async (w) => {
  const { u, a, b } = await twoDevices(w);
  await goNav(a, 'Sessions', 'Sessions');
  await expectPath(a, '/sessions');
  await expectCount(items(a), 2);
  await expectCount(current(a), 1);
  await expectCount(others(a), 1);
  assert(await current(a).getByRole('button', { name: 'End session', exact: true }).count() === 0,
    'the current session has an "End session" button');
  for (const li of [current(a), others(a)]) {
    await expectText(li, /127\.0\.0\.1/);
  }
  await expectText(others(a), new RegExp(OTHER_UA_TAG));
  await expectVisible(button(a, 'End all other sessions'));
  await w.shot(a, 'two sessions');

  await button(others(a), 'End session').click();
  await expectCount(others(a), 0);
  await expectCount(current(a), 1);
  await expectCount(button(a, 'End all other sessions'), 0);
  await w.shot(a, 'other session ended');
  await expectSignedOut(b, w, u, '/');
  await w.shot(b, 'other browser signed out');

  // "End all other sessions" does the same.
  await signIn(b, w, u.email, u.password);
  await expectHome(b, u);
  await a.reload();
  await onScreen(a, 'Sessions');
  await expectCount(others(a), 1);
  await button(a, 'End all other sessions').click();
  await expectCount(others(a), 0);
  await expectSignedOut(b, w, u, '/sessions');
  // This browser is still signed in.
  await a.reload();
  await onScreen(a, 'Sessions');
  await expectCount(current(a), 1);
});
