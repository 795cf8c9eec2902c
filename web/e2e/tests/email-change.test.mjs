// "This was not me": the notice mailed to the old address when someone
// asks to change an account's e-mail, and the page its link opens.
import { button, expectHome, expectSignedOut, newUser, onScreen, signIn, signUp, status } from '../lib/app.mjs';
import { assert, expectVisible } from '../lib/expect.mjs';
import { tokenLink } from '../lib/mail.mjs';
import { scenario } from '../lib/scenario.mjs';

scenario('16. an e-mail change is cancelled from the notice to the old address, which signs out everywhere', async (w) => {
  const u = newUser('kim');
  const page = await w.newPage();
  await signUp(page, w, u);
  // The settings screen has no e-mail form yet: the request is the API's.
  const moved = newUser('kim-new').email;
  const status202 = await page.evaluate(async (email) => {
    const r = await fetch('/api/v1/auth/settings', {
      method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ method: 'email', email }),
    });
    return r.status;
  }, moved);
  assert(status202 === 202, `PUT /api/v1/auth/settings (method email) answered ${status202}`);
  const href = tokenLink(await w.mail.waitFor({ to: u.email, subject: /about to change/i }), w.base, '/email/cancel');

  // A mail scanner opens the link and runs the page: nothing is posted.
  const scanner = await w.newPage({ label: 'scanner' });
  const posted = [];
  scanner.on('request', (r) => {
    if (r.method() !== 'GET' && r.url().startsWith(w.base + '/api/')) posted.push(`${r.method()} ${r.url()}`);
  });
  await scanner.goto(href);
  await onScreen(scanner, 'Cancel the e-mail change');
  await scanner.waitForLoadState('networkidle');
  assert(posted.length === 0, `opening the link sent ${posted.join(', ')}`);
  await scanner.context().close();

  // The owner, on another device, presses the button.
  const owner = await w.newPage({ label: 'B' });
  await owner.goto(href);
  await onScreen(owner, 'Cancel the e-mail change');
  assert(!owner.url().includes('token='), `the token is still in the address bar: ${owner.url()}`);
  await button(owner, 'Cancel the change and sign out everywhere').click();
  await expectVisible(status(owner, 'The change is cancelled'));
  await w.shot(owner, 'change cancelled');

  // The browser that asked for the change is signed out; the old address
  // and password still sign in.
  await expectSignedOut(page, w, u);
  await signIn(page, w, u.email, u.password);
  await expectHome(page, u);
});
