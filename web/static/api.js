// The client of authd's REST API (/api/v1/auth). Same origin, JSON
// bodies, the session cookie sent by the browser on its own (the app never
// sees it: it is HttpOnly). Errors arrive as RFC 9457 problem documents and
// are thrown as ApiError.

const BASE = '/api/v1/auth';

// ApiError is a failed request: the problem document's fields, the HTTP
// status (0 when the server could not be reached) and, for 429 and 503,
// the wait the server asked for.
export class ApiError extends Error {
  constructor({ status, code, title, detail, errors, retryAfter, requestId, methods }) {
    super(detail || title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || '';
    this.title = title || '';
    this.detail = detail || '';
    this.errors = Array.isArray(errors) ? errors : [];
    this.retryAfter = retryAfter;
    this.requestId = requestId || '';
    // 403 second_factor_required: the second steps the account has.
    this.methods = Array.isArray(methods) ? methods.filter((m) => typeof m === 'string') : [];
  }

  // busy is true for the two statuses the app waits out and retries.
  get busy() {
    return this.status === 429 || this.status === 503;
  }
}

// Messages for failures that carry no problem document of their own.
const fallbackDetail = {
  0: 'We could not reach the server. Check your connection and try again.',
  400: 'The request was not understood.',
  401: 'You are not signed in.',
  403: 'This request was refused.',
  404: 'Not found.',
  410: 'This link or code is no longer valid.',
  413: 'The request is too large.',
  429: 'Too many attempts. Try again later.',
  500: 'Something went wrong on our side. Try again in a moment.',
  502: 'The service is unreachable. Try again in a moment.',
  503: 'The service is busy. Try again shortly.',
  504: 'The service took too long to answer. Try again in a moment.',
};

// retryAfterSeconds reads Retry-After: delta-seconds or an HTTP date.
// Without a usable value it is a few seconds, never zero, so that a
// retry does not hit the very burst that was shed.
export function retryAfterSeconds(value) {
  const fallback = 5;
  if (!value) return fallback;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.max(1, Number.parseInt(trimmed, 10));
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return fallback;
  return Math.max(1, Math.ceil((at - Date.now()) / 1000));
}

async function readBody(res) {
  if (res.status === 204 || res.status === 205) return null;
  const type = res.headers.get('Content-Type') || '';
  if (!/json/i.test(type)) return null;
  try {
    return await res.json();
  } catch {
    return null;
  }
}

// once sends one request and returns the parsed body of a 2xx reply (null
// for 204), or throws ApiError. An AbortError (the screen was left) is
// rethrown as it is.
async function once(method, path, body, signal) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    cache: 'no-store',
    signal,
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch (err) {
    if (signal && signal.aborted) throw err;
    throw new ApiError({ status: 0, code: 'network_error', detail: fallbackDetail[0] });
  }
  const data = await readBody(res);
  if (res.ok) return { status: res.status, data };
  const problem = data && typeof data === 'object' ? data : {};
  const status = res.status;
  throw new ApiError({
    status,
    code: typeof problem.code === 'string' ? problem.code : '',
    title: typeof problem.title === 'string' ? problem.title : '',
    detail: typeof problem.detail === 'string' && problem.detail
      ? problem.detail
      : fallbackDetail[status] || fallbackDetail[Math.floor(status / 100) * 100] || `The request failed (HTTP ${status}).`,
    errors: problem.errors,
    retryAfter: status === 429 || status === 503 ? retryAfterSeconds(res.headers.get('Retry-After')) : undefined,
    requestId: res.headers.get('X-Request-ID'),
    methods: problem.methods,
  });
}

// sleep waits ms milliseconds, or rejects with the signal's AbortError.
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
  });
}

// request sends a request; on 429 or 503 it calls onWait(error) (so the
// screen can say how long), waits the Retry-After and tries once more.
// A second failure is thrown to the caller. With retry429: false a 429 is
// thrown at once: a code refused too often is not sent again by itself.
export async function request(method, path, body, { signal, onWait, retry429 = true } = {}) {
  try {
    return await once(method, path, body, signal);
  } catch (err) {
    if (!(err instanceof ApiError) || !err.busy) throw err;
    if (err.status === 429 && !retry429) throw err;
    if (onWait) onWait(err);
    await sleep(err.retryAfter * 1000, signal);
    return once(method, path, body, signal);
  }
}

// isAbort tells an aborted request (the screen was left) from a failure.
export function isAbort(err) {
  return Boolean(err) && err.name === 'AbortError';
}

const id = (value) => encodeURIComponent(value);

// The endpoints the app uses; each takes the options of request().
export const api = {
  register: (body, o) => request('POST', '/register', body, o),
  login: (body, o) => request('POST', '/login', body, o),
  logout: (o) => request('POST', '/logout', undefined, o),
  me: (o) => request('GET', '/me', undefined, o),
  changePassword: (password, currentPassword, o) => {
    const body = { method: 'password', password };
    if (currentPassword) body.current_password = currentPassword;
    return request('PUT', '/settings', body, o);
  },
  updateProfile: (traits, o) => request('PUT', '/settings', { method: 'profile', traits }, o),
  sessions: (o) => request('GET', '/sessions', undefined, o),
  endSession: (sessionId, o) => request('DELETE', `/sessions/${id(sessionId)}`, undefined, o),
  endOtherSessions: (o) => request('DELETE', '/sessions', undefined, o),
  activity: (o) => request('GET', '/activity', undefined, o),
  requestRecovery: (email, o) => request('POST', '/recovery', { email }, o),
  completeRecovery: (token, password, o) => request('POST', '/recovery/complete', { token, password }, o),
  verifyToken: (token, o) => request('POST', '/verify', { token }, o),
  cancelEmailChange: (token, o) => request('POST', '/email/cancel', { token }, o),
  resendVerificationLink: (email, o) => request('POST', '/verify/link', { email }, o),
  sendVerificationCode: (o) => request('POST', '/verify/code/send', {}, o),
  submitVerificationCode: (code, o) => request('POST', '/verify/code/submit', { code }, o),

  // The second step of a sign-in: a code of the authenticator app or a
  // recovery code. A 429 (too many wrong codes) is shown, not retried.
  secondFactor: (method, code, o) => request('POST', '/login/second-factor', { method, code }, { ...o, retry429: false }),

  // The authenticator app (TOTP) and the recovery codes.
  totpSetup: (o) => request('POST', '/mfa/totp/setup', undefined, o),
  totpConfirm: (code, o) => request('POST', '/mfa/totp/confirm', { code }, { ...o, retry429: false }),
  totpRemove: (o) => request('DELETE', '/mfa/totp', undefined, o),
  newRecoveryCodes: (o) => request('POST', '/mfa/recovery-codes', undefined, o),

  // Passkeys (WebAuthn): the options and credentials in their JSON forms.
  passkeys: (o) => request('GET', '/passkeys', undefined, o),
  passkeyRegisterBegin: (o) => request('POST', '/passkeys/register/begin', undefined, o),
  passkeyRegisterFinish: (name, credential, o) => {
    const body = { credential };
    if (name) body.name = name;
    return request('POST', '/passkeys/register/finish', body, o);
  },
  renamePasskey: (passkeyId, name, o) => request('PATCH', `/passkeys/${id(passkeyId)}`, { name }, o),
  deletePasskey: (passkeyId, o) => request('DELETE', `/passkeys/${id(passkeyId)}`, undefined, o),
  passkeyLoginBegin: (o) => request('POST', '/passkeys/login/begin', undefined, o),
  passkeyLoginFinish: (credential, o) => request('POST', '/passkeys/login/finish', { credential }, { ...o, retry429: false }),
};
