// Verifying the e-mail address: by the mailed link, and by the mailed code.
import {
  button, expectFieldError, expectHome, expectPath, field, heading, link, newUser, onScreen, signUp, status, subjects, testId,
} from '../lib/app.mjs';
import { assert, expectText, expectVisible } from '../lib/expect.mjs';
import { sixDigitCode, tokenLink } from '../lib/mail.mjs';
import { scenario } from '../lib/scenario.mjs';

scenario('2. the verification link from the mail verifies the address', async (w) => {
  const u = newUser('eve');
  const page = await w.newPage();
  await signUp(page, w, u);
  await expectText(testId(page, 'profile-verified'), 'Not verified');

  const mail = await w.mail.waitFor({ to: u.email, subject: subjects.verification });
  const href = tokenLink(mail, w.base, '/verify');
  await page.goto(href);
  await onScreen(page, 'Verify your e-mail');
  await expectVisible(status(page, 'Your e-mail address is verified.'));
  // The token is gone from the address bar (and so from history).
  assert(!page.url().includes('token='), `the token is still in the address bar: ${page.url()}`);
  await expectPath(page, '/verify');
  await w.shot(page, 'verified by link');

  await link(page, 'Continue').click();
  await expectHome(page, u);
  await expectText(testId(page, 'profile-verified'), 'Verified');
  assert(await heading(page, 'Verify your e-mail').count() === 0, 'home still offers to verify the address');
  await w.shot(page, 'home verified');
});

// enterCode submits a code in the home screen's "Verify your e-mail" section.
async function enterCode(page, code) {
  await onScreen(page, 'Verify your e-mail');
  await field(page, 'Verification code').fill(code);
  await button(page, 'Verify').click();
}

scenario('3. the verification code from the mail verifies the address; a new code works too', async (w) => {
  // The code of the sign-up mail.
  const u = newUser('fay');
  const page = await w.newPage();
  await signUp(page, w, u);
  const codeField = field(page, 'Verification code');
  assert(await codeField.getAttribute('autocomplete') === 'one-time-code', 'the code field lacks autocomplete=one-time-code');
  assert(await codeField.getAttribute('inputmode') === 'numeric', 'the code field lacks inputmode=numeric');
  const first = await w.mail.waitFor({ to: u.email, subject: subjects.verification });
  await enterCode(page, sixDigitCode(first));
  await expectText(testId(page, 'profile-verified'), 'Verified');
  await w.shot(page, 'verified by code');
  await page.reload();
  await expectHome(page, u);
  await expectText(testId(page, 'profile-verified'), 'Verified');

  // "Send a new code": a new mail, whose code works (the older one no more).
  const v = newUser('gus');
  const p2 = await w.newPage({ label: 'B' });
  await signUp(p2, w, v);
  const mail1 = await w.mail.waitFor({ to: v.email, subject: subjects.verification });
  const oldCode = sixDigitCode(mail1);
  await button(p2, 'Send a new code').click();
  const mail2 = await w.mail.waitFor({ to: v.email, subject: subjects.verification, exclude: new Set([mail1.id]) });
  const newCode = sixDigitCode(mail2);
  if (newCode !== oldCode) {
    await enterCode(p2, oldCode);
    // A code that is no longer the current one is a wrong code: 422 on the field.
    await expectFieldError(p2, 'Verification code');
    await expectText(testId(p2, 'profile-verified'), 'Not verified');
    await w.shot(p2, 'old code refused');
  }
  await enterCode(p2, newCode);
  await expectText(testId(p2, 'profile-verified'), 'Verified');
  await w.shot(p2, 'verified by new code');
});
