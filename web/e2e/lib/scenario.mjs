// scenario(): one test with its own authd (e2eenv), any number of browser
// contexts in the file's one Chromium, a screenshot helper, and at the end a
// check that no page of authd logged an error or a CSP violation.
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { Guard, STEP_TIMEOUT_MS, ensureDir, launchBrowser, screenshotsDir } from './browser.mjs';
import { slug, startEnv } from './env.mjs';
import { Mailbox } from './mail.mjs';

const TEST_TIMEOUT_MS = 90_000;

let browserPromise;
function browser() {
  browserPromise ??= launchBrowser();
  return browserPromise;
}
after(async () => {
  if (browserPromise) await (await browserPromise).close();
});

// removeShots deletes a scenario's screenshots of an earlier run.
function removeShots(name) {
  const prefix = `${slug(name)}--`;
  for (const f of fs.existsSync(screenshotsDir) ? fs.readdirSync(screenshotsDir) : []) {
    if (f.startsWith(prefix)) fs.rmSync(path.join(screenshotsDir, f));
  }
}

export class World {
  constructor(name, env, browser) {
    this.name = name;
    this.env = env;
    this.browser = browser;
    this.base = env.baseURL;
    this.mail = new Mailbox(env.mailpitURL);
    this.contexts = [];
    this.pages = [];
    this.guards = [];
    this.shots = 0;
  }

  // newPage opens a page in a new browser context (its own cookie jar: a
  // second device), watched by a Guard.
  async newPage({ label = 'A', colorScheme = 'light', userAgent, viewport = { width: 1024, height: 800 } } = {}) {
    const ctx = await this.browser.newContext({ colorScheme, userAgent, viewport, locale: 'en-US', timezoneId: 'UTC' });
    ctx.setDefaultTimeout(STEP_TIMEOUT_MS);
    ctx.setDefaultNavigationTimeout(15_000);
    this.contexts.push(ctx);
    const watch = (page, l) => {
      this.pages.push({ page, label: l });
      this.guards.push(new Guard(page, this.base, l));
    };
    let n = 0;
    ctx.on('page', (p) => watch(p, `${label}#${++n}`));
    const page = await ctx.newPage();
    return page;
  }

  // url is a path of this authd.
  url(p = '/') {
    return this.base + p;
  }

  async shot(page, label) {
    ensureDir(screenshotsDir);
    const file = path.join(screenshotsDir, `${slug(this.name)}--${String(++this.shots).padStart(2, '0')}-${slug(label)}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }

  problems() {
    return this.guards.flatMap((g) => g.problems);
  }

  assertClean() {
    const docs = this.guards.reduce((n, g) => n + g.documents, 0);
    const p = this.problems();
    if (p.length) throw new Error(`errors on authd's pages:\n  ${p.join('\n  ')}`);
    if (docs === 0) throw new Error('no page of authd was loaded');
  }

  async describeFailure() {
    const out = [];
    for (const { page, label } of this.pages) {
      if (page.isClosed()) continue;
      try {
        const file = await this.shot(page, `FAILED-${label}`);
        const text = (await page.locator('body').innerText({ timeout: 2000 })).replace(/\s+/g, ' ').slice(0, 600);
        out.push(`page ${label} at ${page.url()} shows: "${text}" (screenshot ${path.relative(process.cwd(), file)})`);
      } catch (err) {
        out.push(`page ${label} at ${page.url()}: ${err.message}`);
      }
    }
    const p = this.problems();
    if (p.length) out.push(`errors on authd's pages:\n  ${p.join('\n  ')}`);
    out.push(`authd log: ${this.env.logPath}`);
    return out.join('\n');
  }

  async close() {
    for (const c of this.contexts) await c.close().catch(() => {});
    await this.env.stop();
    const messages = this.guards.flatMap((g) => g.messages);
    fs.writeFileSync(this.env.logPath.replace(/\.log$/, '.console.txt'), messages.join('\n') + (messages.length ? '\n' : ''));
  }
}

// scenario(name, fn, {env}) runs fn(world, t) against a fresh authd started
// with the extra settings env (an object, or a function giving one when the
// test starts).
export function scenario(name, fn, { env = {}, timeout = TEST_TIMEOUT_MS } = {}) {
  test(name, { timeout }, async (t) => {
    removeShots(name);
    const [b, e] = await Promise.all([browser(), startEnv({ name, env: typeof env === 'function' ? env() : env })]);
    const w = new World(name, e, b);
    try {
      await fn(w, t);
      w.assertClean();
      const notes = w.guards.flatMap((g) => g.notes);
      if (notes.length) t.diagnostic(`HTTP error replies the app handled: ${notes.length}`);
    } catch (err) {
      const diag = `--- ${name}\n${await w.describeFailure()}`;
      if (err instanceof Error) {
        err.message += `\n${diag}`;
        if (err.stack) err.stack += `\n${diag}`;
      }
      throw err;
    } finally {
      await w.close();
    }
  });
}
