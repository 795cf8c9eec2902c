// A page of another origin cannot change state with the user's cookie,
// unless authd trusts that origin (CSRF_TRUSTED_ORIGINS, CORS_ALLOWED_ORIGINS).
import { after, before } from 'node:test';
import { expectHome, newUser, signUp, testId } from '../lib/app.mjs';
import { assert, expectText } from '../lib/expect.mjs';
import { startForeignSite } from '../lib/foreign.mjs';
import { scenario } from '../lib/scenario.mjs';

// The foreign site listens before authd starts: the trusting authd needs its
// origin in its settings.
let site;
before(async () => { site = await startForeignSite(); });
after(async () => { await site?.close(); });

// visit opens the foreign page in the user's browser and resolves with what
// its script reports, and the statuses authd answered the browser.
async function visit(page, w, params) {
  const replies = [];
  const onResponse = (r) => {
    if (r.url().startsWith(w.base + '/api/')) replies.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
  };
  page.on('response', onResponse);
  await page.goto(site.pageURL({ target: w.base, ...params }));
  await page.locator('#result[data-done="yes"]').waitFor();
  const result = (await page.locator('#result').textContent()).trim();
  await page.waitForLoadState('networkidle');
  page.off('response', onResponse);
  return { result, replies };
}

async function profileShown(page, w, u, username, location) {
  await page.goto(w.url('/'));
  await expectHome(page, u);
  await expectText(testId(page, 'profile-username'), new RegExp(username));
  await expectText(testId(page, 'profile-location'), new RegExp(location));
}

scenario('8a. cross-origin: a page of another origin cannot change the profile or sign out', async (w) => {
  const u = newUser('kim');
  const page = await w.newPage();
  await signUp(page, w, u);

  const { result, replies } = await visit(page, w, { action: 'profile', username: 'attacker', location: 'Elsewhere' });
  await w.shot(page, 'foreign page, profile attempt');
  // Refused by the browser (no CORS grant) or by authd (403): never a 2xx.
  assert(/^error:|^status:403$/.test(result), `the foreign page's PUT /settings got ${result} (authd answered: ${replies.join(', ')})`);
  const puts = replies.filter((r) => r.startsWith('PUT '));
  assert(puts.every((r) => r.endsWith(' 403')), `authd answered the foreign PUT with ${puts.join(', ')}`);

  // A no-cors POST carries the cookie without a preflight: authd itself
  // must refuse it.
  const logout = await visit(page, w, { action: 'logout' });
  assert(logout.result.startsWith('sent:') || logout.result.startsWith('error:'), `logout attempt: ${logout.result}`);

  await profileShown(page, w, u, u.username, u.location);
  assert(!(await testId(page, 'profile-username').textContent()).includes('attacker'), 'the foreign page changed the username');
  await w.shot(page, 'profile unchanged, still signed in');
});

scenario('8b. cross-origin: an origin in CSRF_TRUSTED_ORIGINS and CORS_ALLOWED_ORIGINS can change the profile', async (w) => {
  const u = newUser('lee');
  const page = await w.newPage();
  await signUp(page, w, u);

  const { result, replies } = await visit(page, w, { action: 'profile', username: 'trustedsite', location: 'Trusted Town' });
  await w.shot(page, 'trusted page, profile change');
  assert(result === 'status:200', `the trusted page's PUT /settings got ${result} (authd answered: ${replies.join(', ')})`);

  await profileShown(page, w, u, 'trustedsite', 'Trusted Town');
  await w.shot(page, 'profile changed by the trusted origin');
}, {
  // Read when the test starts: the foreign site's origin.
  env: () => ({ CSRF_TRUSTED_ORIGINS: site.origin, CORS_ALLOWED_ORIGINS: site.origin }),
});
