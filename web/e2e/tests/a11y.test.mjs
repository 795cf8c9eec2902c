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

// walk visits every screen and runs axe on each.
async function walk(w, t, { colorScheme, viewport, tag }) {
  const page = await w.newPage({ label: tag, colorScheme, viewport });
  const failures = [];
  const check = async (screen) => {
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

  const u = newUser(`a11y${tag}`);
  await page.goto(w.url('/login'));
  await onScreen(page, 'Sign in');
  await expectAttrs(field(page, 'E-mail'), { type: 'email', autocomplete: 'email', name: 'identifier' });
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

  const serious = report.failing().filter((f) => f.includes(`[${tag}]`));
  assert(failures.length + serious.length === 0,
    `accessibility problems:\n  ${[...serious, ...failures].join('\n  ')}`);
}

scenario('accessibility: every screen, light, desktop', (w, t) =>
  walk(w, t, { colorScheme: 'light', viewport: { width: 1280, height: 900 }, tag: 'light' }));

scenario('accessibility: every screen, dark, 360 px wide', (w, t) =>
  walk(w, t, { colorScheme: 'dark', viewport: { width: 360, height: 780 }, tag: 'dark-360' }));
