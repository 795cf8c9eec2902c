// Forgot password: the mailed link, the reset screen, and that opening the
// link alone uses nothing up.
import {
  alert, button, expectHome, expectPath, field, link, newUser, onScreen, requestReset, signIn, signOut, signUp,
  status, subjects, submitLogin, testId,
} from '../lib/app.mjs';
import { assert, expectText, expectVisible } from '../lib/expect.mjs';
import { tokenLink } from '../lib/mail.mjs';
import { scenario } from '../lib/scenario.mjs';

const CHANGED = 'Your password was changed. Sign in with your new password.';

async function setPassword(page, password) {
  await onScreen(page, 'Choose a new password');
  await field(page, 'New password').fill(password);
  await button(page, 'Set password').click();
}

scenario('4. forgot password: mail, reset page, sign in with the new password, the old one refused', async (w) => {
  const u = newUser('hal');
  const page = await w.newPage();
  await signUp(page, w, u);
  await signOut(page);

  await link(page, 'Forgot password?').click();
  await expectPath(page, '/recovery');
  await requestReset(page, u.email);
  await w.shot(page, 'reset link sent');

  const mail = await w.mail.waitFor({ to: u.email, subject: subjects.recovery });
  const href = tokenLink(mail, w.base, '/recovery');
  await page.goto(href);
  await onScreen(page, 'Choose a new password');
  assert(!page.url().includes('token='), `the token is still in the address bar: ${page.url()}`);
  await expectPath(page, '/recovery');
  await w.shot(page, 'choose a new password');

  const newPassword = `${u.password} renewed`;
  await setPassword(page, newPassword);
  await expectVisible(status(page, CHANGED));
  await w.shot(page, 'password changed');
  await link(page, 'Sign in').click();
  await onScreen(page, 'Sign in');
  await expectPath(page, '/login');

  await submitLogin(page, u.email, u.password);
  await expectText(alert(page), /\S/);
  await expectPath(page, '/login');
  assert(await testId(page, 'profile-email').count() === 0, 'the old password signed in');
  await w.shot(page, 'old password refused');

  await signIn(page, w, u.email, newPassword);
  await expectHome(page, u);
  await w.shot(page, 'signed in with the new password');
});

scenario('11. opening a recovery link does not use the token', async (w) => {
  const u = newUser('ivy');
  const page = await w.newPage();
  await signUp(page, w, u);
  await signOut(page);
  await page.goto(w.url('/recovery'));
  await requestReset(page, u.email);
  const href = tokenLink(await w.mail.waitFor({ to: u.email, subject: subjects.recovery }), w.base, '/recovery');

  // A mail scanner (another browser) opens the link, runs the page, and
  // leaves without pressing anything: no token is posted.
  const scanner = await w.newPage({ label: 'scanner' });
  const posted = [];
  scanner.on('request', (r) => {
    if (r.method() !== 'GET' && r.url().startsWith(w.base + '/api/')) posted.push(`${r.method()} ${r.url()}`);
  });
  await scanner.goto(href);
  await onScreen(scanner, 'Choose a new password');
  await scanner.waitForLoadState('networkidle');
  await scanner.goto(href);
  await onScreen(scanner, 'Choose a new password');
  await scanner.waitForLoadState('networkidle');
  await w.shot(scanner, 'scanner opened the link');
  assert(posted.length === 0, `opening the link sent ${posted.join(', ')}`);
  await scanner.context().close();

  // Later the person opens it and sets a password: the token still works.
  await page.goto(href);
  const newPassword = `${u.password} later`;
  await setPassword(page, newPassword);
  await expectVisible(status(page, CHANGED));
  await w.shot(page, 'token still worked');
  await signIn(page, w, u.email, newPassword);
  await expectHome(page, u);
  await signOut(page);

  // Now it is used: the same link is refused, with a way to ask again.
  await page.goto(href);
  await setPassword(page, `${u.password} once more`);
  await expectText(alert(page), /\S/);
  await link(page, 'Request a new link').click();
  await onScreen(page, 'Forgot password');
  await expectPath(page, '/recovery');
  await w.shot(page, 'used link refused');
});
