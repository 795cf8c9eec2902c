// Signing up, in and out; the session across reloads and after sign out.
import {
  alert, expectHome, expectNoPrivateData, expectPath, goNav, heading, link, newUser, onScreen, signIn,
  signOut, signUp, submitLogin, testId,
} from '../lib/app.mjs';
import { assert, expectText } from '../lib/expect.mjs';
import { scenario } from '../lib/scenario.mjs';

scenario('1. sign up, home shows the e-mail, sign out, sign in', async (w) => {
  const u = newUser('ada');
  const page = await w.newPage();
  // From the sign-in screen to registration by its link.
  await page.goto(w.url('/login'));
  await onScreen(page, 'Sign in');
  await link(page, 'Create an account').click();
  await onScreen(page, 'Create an account');
  await expectPath(page, '/register');

  await signUp(page, w, u);
  await expectText(testId(page, 'profile-verified'), 'Not verified');
  await expectText(testId(page, 'profile-username'), new RegExp(u.username));
  await expectText(testId(page, 'profile-location'), new RegExp(u.location));
  await w.shot(page, 'home after sign up');

  await signOut(page);
  await expectNoPrivateData(page, u);
  await w.shot(page, 'signed out');

  // Keyboard: Enter in the password field submits.
  await signIn(page, w, u.email, u.password, { enter: true });
  await expectHome(page, u);
  await w.shot(page, 'home after sign in');
});

scenario('7. a wrong password and an unknown account show the same message', async (w) => {
  const u = newUser('bob');
  const page = await w.newPage();
  await signUp(page, w, u);
  await signOut(page);

  await submitLogin(page, u.email, u.password + ' wrong');
  const wrongPassword = await expectText(alert(page), /\S/);
  await expectPath(page, '/login');
  await w.shot(page, 'wrong password');

  // A fresh page, so that the message read is the new one.
  await page.goto(w.url('/login'));
  await onScreen(page, 'Sign in');
  await submitLogin(page, newUser('nobody').email, u.password);
  const unknown = await expectText(alert(page), /\S/);
  await expectPath(page, '/login');
  await w.shot(page, 'unknown account');
  assert(wrongPassword === unknown,
    `a wrong password shows "${wrongPassword}" but an unknown account "${unknown}": they must be the same`);
  assert(await testId(page, 'profile-email').count() === 0, 'a failed sign-in shows a profile');

  // And the right password still works after both.
  await submitLogin(page, u.email, u.password);
  await expectHome(page, u);
});

scenario('9. a reload keeps the session', async (w) => {
  const u = newUser('cy');
  const page = await w.newPage();
  await signUp(page, w, u);
  await page.reload();
  await expectHome(page, u);

  await goNav(page, 'Settings', 'Settings');
  await expectPath(page, '/settings');
  await page.reload();
  await onScreen(page, 'Settings');
  await expectPath(page, '/settings');
  await w.shot(page, 'settings after reload');

  // A new tab of the same browser is signed in too.
  const tab = await page.context().newPage();
  await tab.goto(w.url('/'));
  await expectHome(tab, u);
  await tab.close();
});

scenario('10. the back button after sign out shows no private data', async (w) => {
  const u = newUser('dee');
  const page = await w.newPage();
  await signUp(page, w, u);
  await goNav(page, 'Settings', 'Settings');
  await goNav(page, 'Home', 'Your account');
  await expectText(testId(page, 'profile-email'), u.email);
  await signOut(page);

  // Back through the history the signed-in screens left (same-document
  // History API entries or whole loads): none may show the e-mail, not even
  // before the app has re-checked the session, and none may keep it in the
  // page.
  for (let i = 1; i <= 3; i++) {
    await page.goBack();
    if (new URL(page.url()).origin !== w.base) break;
    assert(!(await page.getByText(u.email).isVisible()), `the e-mail is visible after going back (${i}) at ${page.url()}`);
    await page.waitForLoadState('networkidle');
    await expectNoPrivateData(page, u);
    await w.shot(page, `after back ${i}`);
    // Back at the sign-up page the test started from: history is used up.
    if (await heading(page, 'Create an account').isVisible()) break;
    // A signed-in screen's entry: the app finds no session and signs in.
    await onScreen(page, 'Sign in');
    await expectNoPrivateData(page, u);
  }
});
