// Passkeys, with Chromium's virtual authenticator: one is created in
// Security, listed, renamed; the person signs in with it and no password,
// by the "Sign in with a passkey" button and by the e-mail field's
// autofill; a password sign-in then asks for it as the second step; it is
// deleted.
import {
  button, expectHome, expectPath, field, goNav, mainNav, newUser, onScreen, signIn, signOut, signUp, status, testId,
} from '../lib/app.mjs';
import { assert, expectCount, expectText, expectVisible } from '../lib/expect.mjs';
import { setPasskeyAutofill, virtualAuthenticator } from '../lib/mfa.mjs';
import { scenario } from '../lib/scenario.mjs';

const passkeys = (page) => testId(page, 'passkey');

scenario('12. passkey: created in Security, then a sign-in with it and no password (aal2)', async (w) => {
  const u = newUser('pia');
  const page = await w.newPage();
  const auth = await virtualAuthenticator(page);
  const posts = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().startsWith(w.base + '/api/')) posts.push(new URL(r.url()).pathname);
  });

  await signUp(page, w, u);
  await signOut(page);
  await signIn(page, w, u.email, u.password);
  await expectHome(page, u);
  await expectText(testId(page, 'profile-aal'), /aal1/);

  // After a password sign-in, home offers a passkey, once.
  const offer = testId(page, 'passkey-offer');
  await expectVisible(offer);
  await w.shot(page, 'passkey offered');
  await button(offer, 'Not now').click();
  await expectCount(offer, 0);
  await page.reload();
  await expectHome(page, u);
  assert(await offer.count() === 0, 'the passkey offer came back after a reload');

  await goNav(page, 'Security', 'Security');
  await expectPath(page, '/security');
  await expectText(testId(page, 'security-aal'), /aal1/);
  await expectText(testId(page, 'security-passkeys'), '0');
  await field(page, 'Passkey name').fill('E2E laptop');
  await button(page, 'Add a passkey').click();
  await expectVisible(status(page, /Passkey “E2E laptop” added/));
  await expectCount(passkeys(page), 1);
  await expectText(testId(page, 'passkey-name'), 'E2E laptop');
  await expectText(testId(page, 'security-passkeys'), '1');
  await w.shot(page, 'passkey added');

  // The authenticator holds it as a resident (discoverable) credential
  // for this relying party.
  const creds = await auth.credentials();
  assert(creds.length === 1, `the virtual authenticator holds ${creds.length} credentials, want 1`);
  assert(creds[0].isResidentCredential === true, 'the passkey is not a resident credential');
  assert(creds[0].rpId === 'localhost', `the passkey's RP ID is ${creds[0].rpId}, want localhost`);

  // Rename.
  await button(passkeys(page), 'Rename').click();
  await field(page, 'New name for “E2E laptop”').fill('Work laptop');
  await button(page, 'Save name').click();
  await expectText(testId(page, 'passkey-name'), 'Work laptop');
  await expectVisible(status(page, 'Passkey renamed to “Work laptop”.'));
  await page.reload();
  await onScreen(page, 'Security');
  await expectText(testId(page, 'passkey-name'), 'Work laptop');

  // Sign out, then in with the passkey alone, by the button: no password
  // is sent. (The autofill is off for this, or it would sign in first.)
  await setPasskeyAutofill(page, false);
  await signOut(page);
  await expectVisible(button(page, 'Sign in with a passkey'));
  assert(await field(page, 'E-mail').getAttribute('autocomplete') === 'username webauthn',
    'the e-mail field lacks autocomplete="username webauthn"');
  await w.shot(page, 'sign in with a passkey');
  posts.length = 0;
  await button(page, 'Sign in with a passkey').click();
  await expectHome(page, u);
  await expectText(testId(page, 'profile-aal'), /aal2/);
  assert(!posts.includes('/api/v1/auth/login'), `a passkey sign-in posted ${posts.join(', ')}`);
  assert(posts.includes('/api/v1/auth/passkeys/login/finish'), `no passkey sign-in was posted: ${posts.join(', ')}`);
  await w.shot(page, 'signed in with the passkey');

  // And by the autofill of the e-mail field: the sign-in screen asks the
  // browser at once (mediation "conditional"), and the virtual
  // authenticator answers by itself, as a person picking the passkey in
  // the field's suggestions would.
  await setPasskeyAutofill(page, true);
  const [finish] = await Promise.all([
    page.waitForResponse((r) => r.url() === w.url('/api/v1/auth/passkeys/login/finish')),
    button(mainNav(page), 'Sign out').click(),
  ]);
  assert(finish.status() === 200, `the autofill sign-in got ${finish.status()}`);
  await expectHome(page, u);
  await expectText(testId(page, 'profile-aal'), /aal2/);
  await setPasskeyAutofill(page, false);

  await goNav(page, 'Security', 'Security');
  await expectText(testId(page, 'security-aal'), /aal2/);
  await expectText(passkeys(page), /Last used/);
  await goNav(page, 'Activity', 'Recent activity');
  await expectVisible(page.getByText('Signed in with a passkey', { exact: true }).first());
  await expectVisible(page.getByText('Passkey added', { exact: true }).first());
  await expectVisible(page.getByText('Passkey renamed', { exact: true }).first());

  // Now that the account has a passkey, a password sign-in asks for it.
  await signOut(page);
  await signIn(page, w, u.email, u.password);
  await onScreen(page, 'Two-step verification');
  await expectPath(page, '/second-factor');
  await w.shot(page, 'second step with a passkey');
  await button(page, 'Use a passkey').click();
  await expectHome(page, u);
  await expectText(testId(page, 'profile-aal'), /aal2/);

  // Delete it (asked first).
  await goNav(page, 'Security', 'Security');
  await button(passkeys(page), 'Delete').click();
  await button(page, 'Delete passkey').click();
  await expectCount(passkeys(page), 0);
  await expectText(testId(page, 'security-passkeys'), '0');
  await expectVisible(status(page, 'Passkey “Work laptop” deleted.'));
  await w.shot(page, 'passkey deleted');

  // A password alone signs in again.
  await button(mainNav(page), 'Sign out').click();
  await onScreen(page, 'Sign in');
  await signIn(page, w, u.email, u.password);
  await expectHome(page, u);
});
