// axe-core on every screen of the app, in light mode on a desktop and in
// dark mode at 360 px wide. Fails on any violation of impact serious or
// critical; prints every violation found, of any impact.
import fs from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import {
  alert, button, expectFieldError, expectHome, field, goNav, link, newUser, onScreen, requestReset, signOut,
  status, subjects, submitLogin, testId,
} from '../lib/app.mjs';
import { Report, runAxe } from '../lib/axe.mjs';
import { ensureDir } from '../lib/browser.mjs';
import { resultsDir } from '../lib/env.mjs';
import { assert, expectText, expectVisible } from '../lib/expect.mjs';
import { tokenLink } from '../lib/mail.mjs';
import { enrol, readCodes, setPasskeyAutofill, virtualAuthenticator, withoutWebAuthnJSON } from '../lib/mfa.mjs';
import { scenario } from '../lib/scenario.mjs';

const report = new Report();

after(() => {
  const text = report.text();
  console.log(text);
  ensureDir(resultsDir);
  fs.writeFileSync(path.join(resultsDir, 'axe.json'), JSON.stringify(report.screens, null, 2));
  fs.writeFileSync(path.join(resultsDir, 'axe.txt'), text + '\n');
});

async function expectAttrs(locator, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    const got = await locator.getAttribute(k);
    assert(got === v, `${locator} has ${k}="${got}", want "${v}"`);
  }
}

// checker runs axe on the page as it is, and at 360 px checks that it does
// not scroll sideways.
function checker(w, t, page, { viewport, tag }, failures) {
  return async (screen) => {
    const name = `${screen} [${tag}]`;
    await page.waitForLoadState('networkidle');
    await w.shot(page, name);
    const violations = await runAxe(page);
    report.add(name, violations);
    t.diagnostic(`${name}: ${violations.map((v) => `${v.impact} ${v.id} ×${v.nodes.length}`).join(', ') || 'no violation'}`);
    if (viewport.width <= 360) {
      const { sw, cw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
      if (sw > cw) failures.push(`${name}: the page is ${sw} px wide in a ${cw} px viewport (it scrolls sideways)`);
    }
  };
}

function assertNoProblems(tag, failures) {
  const serious = report.failing().filter((f) => f.includes(`[${tag}]`));
  assert(failures.length + serious.length === 0,
    `accessibility problems:\n  ${[...serious, ...failures].join('\n  ')}`);
}

// walk visits every screen and runs axe on each.
async function walk(w, t, { colorScheme, viewport, tag }) {
  const page = await w.newPage({ label: tag, colorScheme, viewport });
  const failures = [];
  const check = checker(w, t, page, { viewport, tag }, failures);

  const u = newUser(`a11y${tag}`);
  await page.goto(w.url('/login'));
  await onScreen(page, 'Sign in');
  await expectAttrs(field(page, 'E-mail'), { type: 'email', autocomplete: 'username webauthn', name: 'identifier' });
  await expectAttrs(field(page, 'Password'), { type: 'password', autocomplete: 'current-password' });
  await check('login');
  await submitLogin(page, u.email, u.password);
  await expectText(alert(page), /\S/);
  await check('login, failed');

  await link(page, 'Create an account').click();
  await onScreen(page, 'Create an account');
  await expectAttrs(field(page, 'E-mail'), { autocomplete: 'email' });
  await expectAttrs(field(page, 'Password'), { autocomplete: 'new-password' });
  await expectAttrs(field(page, 'Username (optional)'), { autocomplete: 'username' });
  await check('register');
  // A password holding the address: refused by the server, on that field.
  await field(page, 'E-mail').fill(u.email);
  await field(page, 'Password').fill(`${u.email} 2024 xyz`);
  await button(page, 'Create account').click();
  await expectFieldError(page, 'Password');
  await check('register, field error');
  await field(page, 'Password').fill(u.password);
  await field(page, 'Username (optional)').fill(u.username);
  await field(page, 'Location (optional)').fill(u.location);
  await button(page, 'Create account').click();
  await expectHome(page, u);
  await expectText(testId(page, 'profile-verified'), 'Not verified');
  await onScreen(page, 'Verify your e-mail');
  await check('home, unverified');

  await goNav(page, 'Settings', 'Settings');
  await check('settings');
  await goNav(page, 'Sessions', 'Sessions');
  await expectText(page.getByRole('listitem').filter({ hasText: 'This device' }), /This device/);
  await check('sessions');
  await goNav(page, 'Activity', 'Recent activity');
  await check('activity');

  const verifyMail = await w.mail.waitFor({ to: u.email, subject: subjects.verification });
  await page.goto(tokenLink(verifyMail, w.base, '/verify'));
  await onScreen(page, 'Verify your e-mail');
  await expectVisible(status(page, 'Your e-mail address is verified.'));
  await check('verify');
  await link(page, 'Continue').click();
  await expectHome(page, u);
  await expectText(testId(page, 'profile-verified'), 'Verified');
  await check('home, verified');

  await signOut(page);
  await link(page, 'Forgot password?').click();
  await onScreen(page, 'Forgot password');
  await expectAttrs(field(page, 'E-mail'), { autocomplete: 'email' });
  await check('forgot password');
  await requestReset(page, u.email);
  await check('forgot password, sent');
  const resetMail = await w.mail.waitFor({ to: u.email, subject: subjects.recovery });
  await page.goto(tokenLink(resetMail, w.base, '/recovery'));
  await onScreen(page, 'Choose a new password');
  await expectAttrs(field(page, 'New password'), { autocomplete: 'new-password' });
  await check('reset password');
  assertNoProblems(tag, failures);
}

// walkSecurity visits the screens of second factors and passkeys: the
// passkey offer, Security in each of its states, the second step of a
// sign-in, and the activity they leave. Its browser lacks the WebAuthn JSON
// helpers (parse*FromJSON, toJSON), so the passkey it creates and uses goes
// through the app's own conversion.
async function walkSecurity(w, t, { colorScheme, viewport, tag }) {
  const page = await w.newPage({ label: tag, colorScheme, viewport });
  await withoutWebAuthnJSON(page);
  await virtualAuthenticator(page);
  const failures = [];
  const check = checker(w, t, page, { viewport, tag }, failures);
  const u = newUser(`mfa${tag}`);

  await page.goto(w.url('/register'));
  await onScreen(page, 'Create an account');
  // The sign-in screens are checked as they are, not signed in by the
  // virtual authenticator's answer to their autofill request.
  await setPasskeyAutofill(page, false);
  assert(await page.evaluate(() => window.__e2eNoWebAuthnJSON === true), 'the WebAuthn JSON helpers are still there');
  await field(page, 'E-mail').fill(u.email);
  await field(page, 'Password').fill(u.password);
  await button(page, 'Create account').click();
  await expectHome(page, u);
  await signOut(page);
  await expectVisible(button(page, 'Sign in with a passkey'));
  await check('login, with passkeys');
  await submitLogin(page, u.email, u.password);
  await expectHome(page, u);
  await expectVisible(testId(page, 'passkey-offer'));
  await check('home, passkey offer');

  await goNav(page, 'Security', 'Security');
  await expectAttrs(field(page, 'Passkey name'), { autocomplete: 'off' });
  await check('security, nothing set up');
  const { app } = await enrol(page);
  await expectAttrs(field(page, 'Code from the app'), { autocomplete: 'one-time-code', inputmode: 'numeric' });
  await check('security, authenticator set-up');
  await field(page, 'Code from the app').fill(app.wrong());
  await button(page, 'Turn on').click();
  await expectFieldError(page, 'Code from the app');
  await check('security, set-up wrong code');
  await field(page, 'Code from the app').fill(await app.next());
  await button(page, 'Turn on').click();
  await readCodes(page);
  await check('security, recovery codes');
  await button(page, 'I have saved them').click();

  await field(page, 'Passkey name').fill(`Key ${tag}`);
  await button(page, 'Add a passkey').click();
  await expectVisible(testId(page, 'passkey'));
  await check('security, with factors');
  await button(testId(page, 'passkey'), 'Rename').click();
  await check('security, rename passkey');
  await button(page, 'Cancel').click();
  await button(testId(page, 'passkey'), 'Delete').click();
  await check('security, delete passkey asked');
  await button(page, 'Cancel').click();
  await button(page, 'Turn off').click();
  await check('security, turn off asked');
  await button(page, 'Keep it').click();

  await signOut(page);
  await submitLogin(page, u.email, u.password);
  await onScreen(page, 'Two-step verification');
  await expectAttrs(field(page, 'Authentication code'), { autocomplete: 'one-time-code', inputmode: 'numeric' });
  await check('second step');
  await field(page, 'Authentication code').fill(app.wrong());
  await button(page, 'Verify').click();
  await expectFieldError(page, 'Authentication code');
  await check('second step, wrong code');
  await button(page, 'Use a recovery code').click();
  await expectVisible(field(page, 'Recovery code'));
  await check('second step, recovery code');
  await button(page, 'Use a passkey').click();
  await expectHome(page, u);
  await expectText(testId(page, 'profile-aal'), /aal2/);
  await check('home, two factors');
  await goNav(page, 'Activity', 'Recent activity');
  await check('activity, second factors');
  assertNoProblems(tag, failures);
}

scenario('accessibility: every screen, light, desktop', (w, t) =>
  walk(w, t, { colorScheme: 'light', viewport: { width: 1280, height: 900 }, tag: 'light' }));

scenario('accessibility: every screen, dark, 360 px wide', (w, t) =>
  walk(w, t, { colorScheme: 'dark', viewport: { width: 360, height: 780 }, tag: 'dark-360' }));

scenario('accessibility: second factors and passkeys, light, desktop', (w, t) =>
  walkSecurity(w, t, { colorScheme: 'light', viewport: { width: 1280, height: 900 }, tag: 'mfa-light' }));

scenario('accessibility: second factors and passkeys, dark, 360 px wide', (w, t) =>
  walkSecurity(w, t, { colorScheme: 'dark', viewport: { width: 360, height: 780 }, tag: 'mfa-dark-360' }));
