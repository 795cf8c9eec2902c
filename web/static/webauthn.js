// Passkeys in the browser: the WebAuthn options authd sends as JSON
// (binary fields in base64url without padding) turned into what
// navigator.credentials wants, and the credential it gives back turned into
// JSON again. The browser's own parse*FromJSON and toJSON() are used where
// they exist; the hand-written conversion below stands in elsewhere.

// supported tells a browser that can use passkeys at all.
export function supported() {
  return typeof window.PublicKeyCredential === 'function' && Boolean(navigator.credentials);
}

// conditionalAvailable tells a browser that offers passkeys in the
// autofill of a field with autocomplete="username webauthn".
export async function conditionalAvailable() {
  if (!supported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== 'function') return false;
  try {
    return await PublicKeyCredential.isConditionalMediationAvailable();
  } catch {
    return false;
  }
}

// ---- base64url <-> ArrayBuffer -------------------------------------------

export function fromBase64url(text) {
  const b64 = String(text).replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const bin = atob(padded);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes.buffer;
}

export function toBase64url(buffer) {
  if (!buffer) return undefined;
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// ---- options --------------------------------------------------------------

// publicKeyOf takes the options out of authd's reply ({publicKey: {...}}).
function publicKeyOf(reply) {
  const data = reply && typeof reply === 'object' ? reply : {};
  const pk = data.publicKey && typeof data.publicKey === 'object' ? data.publicKey : data;
  if (typeof pk.challenge !== 'string') throw new TypeError('the server sent no WebAuthn challenge');
  return pk;
}

// clean drops members that are null: the JSON forms leave them out, and the
// browser refuses a null where it wants a dictionary or a list.
function clean(obj) {
  if (Array.isArray(obj)) return obj.map(clean);
  if (!obj || typeof obj !== 'object') return obj;
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === null || v === undefined) continue;
    out[k] = clean(v);
  }
  return out;
}

function descriptors(list) {
  return (Array.isArray(list) ? list : []).map((c) => ({ ...c, id: fromBase64url(c.id) }));
}

function creationOptions(json) {
  const pk = clean(json);
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function') {
    try {
      return PublicKeyCredential.parseCreationOptionsFromJSON(pk);
    } catch {
      // An older or stricter parser: the conversion by hand below.
    }
  }
  const out = { ...pk, challenge: fromBase64url(pk.challenge) };
  if (pk.user) out.user = { ...pk.user, id: fromBase64url(pk.user.id) };
  if (pk.excludeCredentials) out.excludeCredentials = descriptors(pk.excludeCredentials);
  return out;
}

function requestOptions(json) {
  const pk = clean(json);
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function') {
    try {
      return PublicKeyCredential.parseRequestOptionsFromJSON(pk);
    } catch {
      // As above.
    }
  }
  const out = { ...pk, challenge: fromBase64url(pk.challenge) };
  if (pk.allowCredentials) out.allowCredentials = descriptors(pk.allowCredentials);
  return out;
}

// ---- credentials ----------------------------------------------------------

function credentialJSON(cred) {
  if (typeof cred.toJSON === 'function') {
    try {
      return cred.toJSON();
    } catch {
      // Build it by hand below.
    }
  }
  const r = cred.response;
  const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64url(r.attestationObject);
    if (typeof r.getTransports === 'function') response.transports = r.getTransports();
  } else {
    response.authenticatorData = toBase64url(r.authenticatorData);
    response.signature = toBase64url(r.signature);
    if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
  }
  const out = {
    id: cred.id,
    rawId: toBase64url(cred.rawId),
    type: cred.type,
    response,
    clientExtensionResults: typeof cred.getClientExtensionResults === 'function' ? cred.getClientExtensionResults() : {},
  };
  if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
  return out;
}

// createPasskey asks the browser for a new passkey with the options of
// POST /passkeys/register/begin, and resolves with its JSON form.
export async function createPasskey(reply, { signal } = {}) {
  const cred = await navigator.credentials.create({ publicKey: creationOptions(publicKeyOf(reply)), signal });
  if (!cred) throw new DOMException('No passkey was created.', 'NotAllowedError');
  return credentialJSON(cred);
}

// getPasskey asks the browser to sign in with a passkey with the options of
// POST /passkeys/login/begin (mediation "conditional": from the autofill of
// the e-mail field), and resolves with the assertion's JSON form.
export async function getPasskey(reply, { signal, mediation } = {}) {
  const init = { publicKey: requestOptions(publicKeyOf(reply)), signal };
  if (mediation) init.mediation = mediation;
  const cred = await navigator.credentials.get(init);
  if (!cred) throw new DOMException('No passkey was used.', 'NotAllowedError');
  return credentialJSON(cred);
}

// isWebAuthnError tells the browser's refusals (a DOMException) from the
// server's (an ApiError).
export function isWebAuthnError(err) {
  return err instanceof DOMException || err instanceof TypeError;
}

// webAuthnMessage says why the browser gave no passkey.
export function webAuthnMessage(err, { creating = false } = {}) {
  const name = err && err.name;
  if (name === 'InvalidStateError' && creating) {
    return 'This device already has a passkey for your account. Use it to sign in, or add one on another device.';
  }
  if (name === 'NotAllowedError') {
    return creating
      ? 'No passkey was created: it was cancelled or took too long. Try again when you are ready.'
      : 'No passkey was used: it was cancelled or took too long. Try again, or use another way to sign in.';
  }
  if (name === 'SecurityError') return 'Passkeys do not work at this address. Open the app at its usual address and try again.';
  if (name === 'NotSupportedError') return 'This browser or device cannot use this kind of passkey.';
  return creating
    ? 'The passkey could not be created in this browser. Try again, or use another device.'
    : 'The passkey could not be used in this browser. Try again, or use another way to sign in.';
}
