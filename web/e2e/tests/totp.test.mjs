// The authenticator app (TOTP) and recovery codes: enrolment with codes
// computed here from the key shown on the screen, sign-ins with a code and
// with recovery codes (each works once), a half-done sign-in, new codes,
// turning it off; and a change after the privileged window has passed.
import fs from 'node:fs';
import {
  alert, button, expectFieldError, expectHome, expectPath, field, goNav, heading, link, newUser, onScreen, signIn, signOut,
  signUp, status, testId,
} from '../lib/app.mjs';
import { assert, eventually, expectCount, expectText, expectVisible } from '../lib/expect.mjs';
import { enrol, readCodes } from '../lib/mfa.mjs';
import { scenario } from '../lib/scenario.mjs';

async function secondStep(page, w, u) {
  await signIn(page, w, u.email, u.password);
  await onScreen(page, 'Two-step verification');
  await expectPath(page, '/second-factor');
}

async function useRecoveryCode(page, code) {
  await button(page, 'Use a recovery code').click();
  await field(page, 'Recovery code').fill(code);
  await button(page, 'Verify').click();
}

async function codesLeft(page, n) {
  await goNav(page, 'Security', 'Security');
  await expectText(testId(page, 'recovery-codes-left'), `${n} recovery codes left.`);
}

scenario('13. authenticator app: enrol, sign in with a code, then with recovery codes; a used code is refused', async (w) => {
  const u = newUser('tom');
  const page = await w.newPage();
  await signUp(page, w, u);
  await goNav(page, 'Security', 'Security');
  await expectText(testId(page, 'security-totp'), 'Off');
  const { app } = await enrol(page, w);
  await w.shot(page, 'authenticator set-up');

  // A wrong code is refused on its field; the right one turns it on.
  await field(page, 'Code from the app').fill(app.wrong());
  await button(page, 'Turn on').click();
  await expectFieldError(page, 'Code from the app');
  await field(page, 'Code from the app').fill(await app.next());
  await button(page, 'Turn on').click();
  const codes = await readCodes(page);
  await w.shot(page, 'recovery codes shown once');

  // Copy: the codes, one a line, on the clipboard.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: w.base });
  await button(page, 'Copy').click();
  await expectVisible(status(page, 'The recovery codes were copied.'));
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert(copied.trim().split('\n').join(' ') === codes.join(' '), `the clipboard holds ${JSON.stringify(copied)}`);

  // Download: a .txt file holding every code.
  const [download] = await Promise.all([page.waitForEvent('download'), link(page, 'Download').click()]);
  assert(download.suggestedFilename().endsWith('.txt'), `the download is named ${download.suggestedFilename()}`);
  const text = fs.readFileSync(await download.path(), 'utf8');
  for (const c of codes) assert(text.includes(c), `the downloaded file lacks ${c}`);

  await button(page, 'I have saved them').click();
  await expectCount(testId(page, 'recovery-code'), 0);
  await expectText(testId(page, 'security-totp'), 'On');
  await expectText(testId(page, 'security-aal'), /aal2/);
  await expectText(testId(page, 'recovery-codes-left'), '10 recovery codes left.');
  // Shown once: not after a reload.
  await page.reload();
  await onScreen(page, 'Security');
  await expectCount(testId(page, 'recovery-code'), 0);

  // Password, then a code of the app. A half-done sign-in sends a
  // signed-in screen to the second step, and comes back to it after.
  await signOut(page);
  await secondStep(page, w, u);
  await w.shot(page, 'second step');
  await page.goto(w.url('/settings'));
  await onScreen(page, 'Two-step verification');
  await expectPath(page, '/second-factor');
  await field(page, 'Authentication code').fill(app.wrong());
  await button(page, 'Verify').click();
  await expectFieldError(page, 'Authentication code');
  await w.shot(page, 'second step, wrong code');
  await field(page, 'Authentication code').fill(await app.next());
  await button(page, 'Verify').click();
  await onScreen(page, 'Settings');
  await expectPath(page, '/settings');
  await goNav(page, 'Home', 'Your account');
  await expectHome(page, u);
  await expectText(testId(page, 'profile-aal'), /aal2/);

  // Password, then a recovery code.
  await signOut(page);
  await secondStep(page, w, u);
  await useRecoveryCode(page, codes[0]);
  await expectHome(page, u);
  await expectVisible(status(page, /9 codes are left/));
  await expectText(testId(page, 'profile-aal'), /aal2/);
  await codesLeft(page, 9);

  // The same recovery code again: refused. Another one (typed in capitals,
  // without its dash) works.
  await signOut(page);
  await secondStep(page, w, u);
  await useRecoveryCode(page, codes[0]);
  await expectFieldError(page, 'Recovery code');
  await onScreen(page, 'Two-step verification');
  await w.shot(page, 'used recovery code refused');
  await field(page, 'Recovery code').fill(codes[1].toUpperCase().replaceAll('-', ''));
  await button(page, 'Verify').click();
  await expectHome(page, u);
  await codesLeft(page, 8);

  await goNav(page, 'Activity', 'Recent activity');
  for (const words of ['Authenticator app turned on', 'Recovery code used', 'Wrong code at the second step of a sign-in']) {
    await expectVisible(page.getByText(words, { exact: true }).first());
  }

  // New recovery codes: the old ones stop working.
  await goNav(page, 'Security', 'Security');
  await button(page, 'Get new recovery codes').click();
  await button(page, 'Get new codes').click();
  const fresh = await readCodes(page);
  assert(!fresh.includes(codes[2]), 'the new set holds an old code');
  await button(page, 'I have saved them').click();
  await expectText(testId(page, 'recovery-codes-left'), '10 recovery codes left.');

  // Turned off, a password alone signs in.
  await button(page, 'Turn off').click();
  await button(page, 'Turn off authenticator app').click();
  await expectText(testId(page, 'security-totp'), 'Off');
  await expectVisible(status(page, 'The authenticator app was turned off.'));
  await signOut(page);
  await signIn(page, w, u.email, u.password);
  await expectHome(page, u);
});

scenario('14. after the privileged window, Security asks to sign in again and comes back', async (w) => {
  const u = newUser('una');
  const page = await w.newPage();
  await signUp(page, w, u);
  await goNav(page, 'Security', 'Security');
  // PRIVILEGED_WINDOW is 4 s here.
  await page.waitForTimeout(4500);
  await button(page, 'Set up authenticator app').click();
  await expectVisible(testId(page, 'step-gate'));
  await w.shot(page, 'sign in again asked');
  await button(page, 'Sign in again').click();
  await onScreen(page, 'Sign in');
  await expectPath(page, '/login');
  // The address is filled in; the password is typed again.
  assert(await field(page, 'E-mail').inputValue() === u.email, 'the e-mail is not filled in');
  await field(page, 'Password').fill(u.password);
  await button(page, 'Sign in').click();
  await onScreen(page, 'Security');
  await expectPath(page, '/security');
  await button(page, 'Set up authenticator app').click();
  await onScreen(page, 'Set up your authenticator app');
  assert(await heading(page, 'Set up your authenticator app').isVisible(), 'the set-up did not start');
}, { env: { PRIVILEGED_WINDOW: '4s' } });

scenario('15. too many wrong codes at the second step: the wait is shown, nothing is retried', async (w) => {
  const u = newUser('vic');
  const page = await w.newPage();
  await signUp(page, w, u);
  await goNav(page, 'Security', 'Security');
  const { app } = await enrol(page);
  await field(page, 'Code from the app').fill(await app.next());
  await button(page, 'Turn on').click();
  await readCodes(page);
  await signOut(page);
  await secondStep(page, w, u);

  const posted = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/login/second-factor')) posted.push(r.url());
  });
  let message = '';
  for (let i = 0; i < 8 && !/Too many attempts\. Try again in \d+ (second|minute)/.test(message); i++) {
    const before = posted.length;
    await field(page, 'Authentication code').fill(app.wrong());
    await button(page, 'Verify').click();
    await eventually('the code to be answered', async () => {
      if (posted.length === before) throw new Error('not sent');
      if (await page.getByRole('button', { name: 'Verify', exact: true }).isDisabled()) throw new Error('still sending');
    });
    message = (await alert(page).textContent().catch(() => '')) || '';
  }
  assert(/Too many attempts\. Try again in \d+/.test(message), `after ${posted.length} wrong codes the page says "${message}"`);
  await w.shot(page, 'too many wrong codes');
  // The refused code is not sent again by itself.
  const sent = posted.length;
  await page.waitForTimeout(1500);
  assert(posted.length === sent, `the app sent ${posted.length - sent} more code(s) by itself`);
  await onScreen(page, 'Two-step verification');
}, { env: { LOGIN_ACCOUNT_FREE_ATTEMPTS: '3' } });
