// The web app's screens as the UI contract names them (headings, labels,
// buttons, test ids): the only handles the tests use.
import crypto from 'node:crypto';
import { assert, expectText, expectVisible, eventually } from './expect.mjs';

export const heading = (page, name) => page.getByRole('heading', { name, exact: true });
export const button = (scope, name) => scope.getByRole('button', { name, exact: true });
export const link = (scope, name) => scope.getByRole('link', { name, exact: true });
export const field = (scope, label) => scope.getByLabel(label, { exact: true });
export const testId = (page, id) => page.getByTestId(id);
export const mainNav = (page) => page.getByRole('navigation', { name: 'Main', exact: true });
// The page's alert region, holding some text.
export const alert = (page) => page.getByRole('alert').filter({ hasText: /\S/ });
export const status = (page, text) => page.getByRole('status').filter({ hasText: text });

export async function onScreen(page, name, opts) {
  await expectVisible(heading(page, name), opts);
}

export function pathOf(page) {
  return new URL(page.url()).pathname;
}

export async function expectPath(page, p) {
  await eventually(`the address to be ${p}`, () => {
    const got = pathOf(page);
    if (got !== p) throw new Error(`it is ${page.url()}`);
  });
}

let n = 0;
export function newUser(tag = 'user') {
  const r = crypto.randomBytes(4).toString('hex');
  n++;
  return {
    email: `${tag}-${r}@example.com`,
    password: `Plum ${r} orchard ${n} lantern`,
    username: `${tag}${n}x${r.slice(0, 4)}`,
    location: `Lisbon ${n}`,
  };
}

export async function signUp(page, w, u) {
  await page.goto(w.url('/register'));
  await onScreen(page, 'Create an account');
  await field(page, 'E-mail').fill(u.email);
  await field(page, 'Password').fill(u.password);
  if (u.username) await field(page, 'Username (optional)').fill(u.username);
  if (u.location) await field(page, 'Location (optional)').fill(u.location);
  await button(page, 'Create account').click();
  await onScreen(page, 'Your account');
  await expectPath(page, '/');
  await expectText(testId(page, 'profile-email'), u.email);
}

// signIn signs in from /login; with enter, by pressing Enter in the password
// field (keyboard use).
export async function signIn(page, w, email, password, { enter = false } = {}) {
  await page.goto(w.url('/login'));
  await onScreen(page, 'Sign in');
  await submitLogin(page, email, password, { enter });
}

export async function submitLogin(page, email, password, { enter = false } = {}) {
  await field(page, 'E-mail').fill(email);
  await field(page, 'Password').fill(password);
  if (enter) await field(page, 'Password').press('Enter');
  else await button(page, 'Sign in').click();
}

export async function expectHome(page, u) {
  await onScreen(page, 'Your account');
  await expectPath(page, '/');
  await expectText(testId(page, 'profile-email'), u.email);
}

export async function signOut(page) {
  await button(mainNav(page), 'Sign out').click();
  await onScreen(page, 'Sign in');
  await expectPath(page, '/login');
}

// expectSignedOut: a fresh load of a private page lands on sign in and
// shows none of the user's data.
export async function expectSignedOut(page, w, u, p = '/') {
  await page.goto(w.url(p));
  await onScreen(page, 'Sign in');
  await expectPath(page, '/login');
  await expectNoPrivateData(page, u);
}

export async function expectNoPrivateData(page, u) {
  const html = await page.content();
  for (const v of [u.email, u.username, u.location].filter(Boolean)) {
    assert(!html.includes(v), `the page ${page.url()} still holds "${v}"`);
  }
  assert(await testId(page, 'profile-email').count() === 0, `the page ${page.url()} still has profile-email`);
}

export async function goNav(page, name, headingName) {
  await link(mainNav(page), name).click();
  await onScreen(page, headingName);
}

// requestReset asks for a reset link from the Forgot password screen.
export async function requestReset(page, email) {
  await onScreen(page, 'Forgot password');
  await field(page, 'E-mail').fill(email);
  await button(page, 'Send reset link').click();
  await expectVisible(status(page, 'If an account exists for that address, we have sent a link to reset the password.'));
}

export const subjects = {
  verification: /verify your e-mail/i,
  recovery: /reset your .* password/i,
};

// expectFieldError: the field is marked invalid and described by a visible
// .field-error beside it (UI contract, "Field errors"). Resolves with its text.
export async function expectFieldError(page, label) {
  const input = field(page, label);
  let text;
  await eventually(`a field error on "${label}"`, async () => {
    const invalid = await input.getAttribute('aria-invalid');
    if (invalid !== 'true') throw new Error(`aria-invalid is ${invalid}`);
    const ids = (await input.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
    const texts = [];
    for (const id of ids) {
      const el = page.locator(`[id="${id}"]`);
      if (await el.count() === 1 && await el.evaluate((e) => e.classList.contains('field-error')) && await el.isVisible()) {
        texts.push((await el.textContent()).trim());
      }
    }
    if (!texts.some(Boolean)) throw new Error(`aria-describedby="${ids.join(' ')}" names no visible .field-error with text`);
    text = texts.join(' ');
  });
  return text;
}
