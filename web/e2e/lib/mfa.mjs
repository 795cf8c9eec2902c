// Second factors for the tests: an RFC 6238 authenticator app (TOTP,
// HMAC-SHA1, 6 digits, 30 s) computed here from the key the screen shows,
// and Chromium's virtual WebAuthn authenticator through the DevTools
// protocol, which stands in for a device's passkeys.
import crypto from 'node:crypto';
import { button, onScreen, testId } from './app.mjs';
import { assert, expectText, expectVisible } from './expect.mjs';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(text) {
  const clean = text.toUpperCase().replace(/[\s=-]+/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const i = BASE32.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${JSON.stringify(text)}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

// hotp is RFC 4226's code of counter for key.
export function hotp(key, counter, digits = 6) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = crypto.createHmac('sha1', key).update(msg).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 10 ** digits).padStart(digits, '0');
}

export const PERIOD = 30;
export const stepAt = (ms = Date.now()) => Math.floor(ms / 1000 / PERIOD);

// totp is RFC 6238's code of a base32 secret at time ms.
export function totp(secret, ms = Date.now()) {
  return hotp(base32Decode(secret), stepAt(ms));
}

// Authenticator is the person's app: each code it gives is of a time step
// never given before (authd takes a step once), and within the ±1 step
// authd allows; it waits only when it is two steps ahead of the clock.
export class Authenticator {
  constructor(secret) {
    this.secret = secret;
    this.key = base32Decode(secret);
    this.last = -Infinity;
  }

  async next() {
    let step = Math.max(this.last + 1, stepAt());
    while (step > stepAt() + 1) await new Promise((r) => setTimeout(r, 250));
    this.last = step;
    return hotp(this.key, step);
  }

  // wrong is a code that no step near now has.
  wrong() {
    const now = stepAt();
    const near = new Set([-2, -1, 0, 1, 2].map((d) => hotp(this.key, now + d)));
    let n = Number(hotp(this.key, now));
    let code;
    do {
      n = (n + 111111) % 1_000_000;
      code = String(n).padStart(6, '0');
    } while (near.has(code));
    return code;
  }
}

// The sign-in screen asks for a passkey through the e-mail field's autofill
// (conditional mediation) as soon as it is up, and the virtual
// authenticator, which says yes by itself, answers that request at once:
// with the autofill on, opening the sign-in screen with a passkey on the
// authenticator signs in. A test that wants the sign-in screen itself turns
// it off for the tab (setPasskeyAutofill(page, false)): the page then sees a
// browser without passkey autofill.
const AUTOFILL_SWITCH = () => {
  const PKC = window.PublicKeyCredential;
  if (!PKC || typeof PKC.isConditionalMediationAvailable !== 'function') return;
  const real = PKC.isConditionalMediationAvailable.bind(PKC);
  PKC.isConditionalMediationAvailable = () => (sessionStorage.getItem('e2e-passkey-autofill') === 'off'
    ? Promise.resolve(false) : real());
};

export async function setPasskeyAutofill(page, on) {
  await page.evaluate((v) => sessionStorage.setItem('e2e-passkey-autofill', v), on ? 'on' : 'off');
}

// withoutWebAuthnJSON makes the page's browser one without
// PublicKeyCredential.parseCreationOptionsFromJSON, parseRequestOptionsFromJSON
// and PublicKeyCredential.prototype.toJSON (older browsers), so that the
// app's own base64url conversion is what runs. Before the page's first load.
export async function withoutWebAuthnJSON(page) {
  await page.addInitScript(() => {
    const PKC = window.PublicKeyCredential;
    if (!PKC) return;
    delete PKC.parseCreationOptionsFromJSON;
    delete PKC.parseRequestOptionsFromJSON;
    delete PKC.prototype.toJSON;
    window.__e2eNoWebAuthnJSON = typeof PKC.parseRequestOptionsFromJSON === 'undefined' && typeof PKC.prototype.toJSON === 'undefined';
  });
}

// virtualAuthenticator gives the page's browser context a platform
// authenticator that keeps resident keys (passkeys), verifies the user and
// says yes by itself. Call it before the page's first load.
export async function virtualAuthenticator(page) {
  await page.addInitScript(AUTOFILL_SWITCH);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    cdp,
    authenticatorId,
    async credentials() {
      const r = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      return r.credentials;
    },
  };
}

// ---- the screens of Security ----------------------------------------------

// Groups of letters and digits joined by dashes (the contract shows
// xxxxx-xxxxx; authd gives xxxx-xxxx-xxxx).
const RECOVERY_CODE = /^[a-z0-9]{4,5}(?:-[a-z0-9]{4,5})+$/i;

// enrol turns the authenticator app on from Security; resolves with the
// app and the recovery codes shown.
export async function enrol(page) {
  await button(page, 'Set up authenticator app').click();
  await onScreen(page, 'Set up your authenticator app');
  const qr = page.getByRole('img', { name: 'QR code to add this account to an authenticator app', exact: true });
  await expectVisible(qr);
  assert((await qr.getAttribute('src')).startsWith('data:image/png;base64,'), 'the QR code is not a PNG data URL');
  const secret = (await testId(page, 'totp-secret').textContent()).replace(/\s+/g, '');
  assert(/^[A-Z2-7]{16,}$/.test(secret), `the key shown is not base32: ${secret}`);
  const app = new Authenticator(secret);
  return { app, secret };
}

export async function readCodes(page) {
  await onScreen(page, 'Your new recovery codes');
  await expectVisible(testId(page, 'codes-once'));
  await expectText(testId(page, 'codes-once'), /shown only once/);
  const codes = (await testId(page, 'recovery-code').allTextContents()).map((c) => c.trim());
  assert(codes.length === 10, `${codes.length} recovery codes shown, want 10`);
  assert(new Set(codes).size === 10, `the recovery codes repeat: ${codes.join(' ')}`);
  for (const c of codes) assert(RECOVERY_CODE.test(c), `a recovery code reads ${c}`);
  return codes;
}

