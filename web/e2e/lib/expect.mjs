// Waiting for what a person would see, with a deadline: playwright-core has
// no expect(), so these poll locators until the deadline.
import { STEP_TIMEOUT_MS } from './browser.mjs';

const POLL_MS = 100;

export async function eventually(what, fn, { timeout = STEP_TIMEOUT_MS } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v !== false) return v;
      last = new Error('not yet');
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const e = new Error(`timed out after ${timeout} ms waiting for ${what}: ${last?.message ?? last}`);
      e.cause = last;
      throw e;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function matches(text, want) {
  return want instanceof RegExp ? want.test(text) : text === want;
}

const norm = (s) => (s ?? '').replace(/\s+/g, ' ').trim();

// expectText waits until the (single) element's text is want (a string,
// compared whitespace-normalised, or a RegExp).
export async function expectText(locator, want, opts) {
  let seen;
  await eventually(`${locator} to read ${want}`, async () => {
    seen = norm(await locator.textContent({ timeout: POLL_MS * 5 }));
    if (!matches(seen, want)) throw new Error(`it reads "${seen}"`);
  }, opts);
  return seen;
}

// expectVisible waits until the locator's (single) element is visible.
export async function expectVisible(locator, opts) {
  await locator.waitFor({ state: 'visible', timeout: opts?.timeout ?? STEP_TIMEOUT_MS });
}

export async function expectCount(locator, n, opts) {
  await eventually(`${locator} to match ${n} element(s)`, async () => {
    const c = await locator.count();
    if (c !== n) throw new Error(`it matches ${c}`);
  }, opts);
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}
