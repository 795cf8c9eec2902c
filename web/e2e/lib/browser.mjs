// Debian's headless Chromium through playwright-core, and the watch kept on
// every page of authd: its CSP header, console errors, CSP violations and
// uncaught errors.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { e2eDir } from './env.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
];
export const screenshotsDir = path.join(e2eDir, 'screenshots');

// Actions and waits of a step; a test's own limit is in lib/scenario.mjs.
export const STEP_TIMEOUT_MS = 10_000;

export function launchBrowser() {
  // Never downloads a browser: playwright-core has none, and this is the
  // system's Chromium.
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
}

// What the CSP of every page must say (and must not).
export function cspProblems(csp) {
  const p = [];
  if (!csp) return ['no Content-Security-Policy header'];
  const dirs = Object.fromEntries(csp.split(';').map((d) => d.trim()).filter(Boolean)
    .map((d) => { const [k, ...v] = d.split(/\s+/); return [k.toLowerCase(), v.join(' ')]; }));
  if (dirs['script-src'] !== "'self'") p.push(`script-src is "${dirs['script-src']}", want 'self'`);
  if (dirs['frame-ancestors'] !== "'none'") p.push(`frame-ancestors is "${dirs['frame-ancestors']}", want 'none'`);
  if (/unsafe-inline|unsafe-eval/i.test(csp)) p.push('the CSP allows unsafe-inline or unsafe-eval');
  return p.map((m) => `${m} (CSP: ${csp})`);
}

// Chromium itself logs every HTTP error reply as a console error ("Failed to
// load resource: the server responded with a status of 401"). For the API,
// such replies are answers the app handles (401 before sign-in, 401 for a
// wrong password, 410 for a used token, 422 for a field): noted, not failed.
// Anything else on the console at level error fails the test.
const NETWORK_LOG = /^Failed to load resource: the server responded with a status of (4\d\d)\b/;

// Guard watches one page of authd.
export class Guard {
  constructor(page, baseURL, label) {
    this.page = page;
    this.baseURL = baseURL;
    this.label = label;
    this.problems = [];
    this.notes = [];
    this.messages = []; // every console message of authd's pages
    this.documents = 0;
    page.on('console', (msg) => this.#console(msg));
    page.on('pageerror', (err) => this.problems.push(`[${label}] uncaught error at ${page.url()}: ${err.stack || err}`));
    page.on('crash', () => this.problems.push(`[${label}] the page crashed at ${page.url()}`));
    page.on('response', (r) => this.#response(r));
  }

  #console(msg) {
    const text = msg.text();
    const where = msg.location()?.url || this.page.url();
    // Only authd's pages are watched (not a foreign site open in the tab).
    if (!this.page.url().startsWith(this.baseURL)) return;
    this.messages.push(`[${this.label}] ${msg.type()} at ${this.page.url()}: ${text}`);
    if (/Content Security Policy|Content-Security-Policy/i.test(text)) {
      this.problems.push(`[${this.label}] CSP violation at ${this.page.url()}: ${text}`);
      return;
    }
    if (msg.type() !== 'error') return;
    if (NETWORK_LOG.test(text) && where.startsWith(this.baseURL + '/api/')) {
      this.notes.push(`${where}: ${text}`);
      return;
    }
    this.problems.push(`[${this.label}] console error at ${this.page.url()} (${where}): ${text}`);
  }

  #response(r) {
    const req = r.request();
    if (!r.url().startsWith(this.baseURL)) return;
    if (req.resourceType() === 'document') {
      this.documents++;
      for (const p of cspProblems(r.headers()['content-security-policy'])) {
        this.problems.push(`[${this.label}] ${r.url()}: ${p}`);
      }
    }
  }
}

export function ensureDir(d) {
  fs.mkdirSync(d, { recursive: true });
  return d;
}
