// Shared helpers of the authd k6 scenarios. Run any script with
//   k6 run --no-usage-report -e BASE_URL=http://127.0.0.1:8080 k6/<script>.js
// The Go load tool (go run ./devtools/cmd/load) runs the same scenarios, with
// the same check names and thresholds, on machines without k6.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const API = `${BASE_URL}/api/v1/auth`;

// The old service's login user. authd may refuse this password at
// registration (common-password policy); setup() then needs the user
// seeded, or LOGIN_EMAIL / LOGIN_PASSWORD of an account that exists.
export const LOGIN_EMAIL = __ENV.LOGIN_EMAIL || 'test@example.com';
export const LOGIN_PASSWORD = __ENV.LOGIN_PASSWORD || 'correct-horse-load-test';
export const RECOVERY_EMAIL = __ENV.RECOVERY_EMAIL || LOGIN_EMAIL;

// A 503 with Retry-After is authd shedding load on purpose: it answers at
// once instead of queueing Argon2 work past its latency budget. We count
// those in expectedStatuses, so http_req_failed stays a measure of real
// errors (5xx, timeouts, unexpected 4xx), and keep them apart in the
// metrics below. k6 sets tags before the response is known, so a shed
// request cannot be tagged after the fact; served_duration is therefore
// the "served" latency (every response but shed 503s), and shed_503 /
// shed_duration describe the shed ones. 401 is expected (the smoke test
// checks /me after logout) and 409 too (setup re-registers the seed user).
// One global callback rather than per-request responseCallback, so that no
// request can forget it.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 401, 409, 503));

export const shed503 = new Counter('shed_503');
export const shedDuration = new Trend('shed_duration', true);
export const servedDuration = new Trend('served_duration', true);
// A 503 without Retry-After is not shedding but a broken dependency.
export const unexpected503 = new Counter('unexpected_503');

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

// No Origin header anywhere: authd refuses cross-origin browser writes,
// and a non-browser client sends none.
function params(endpoint, extra) {
  return Object.assign({ headers: JSON_HEADERS, tags: { endpoint } }, extra || {});
}

// observe splits the response into served or shed.
export function observe(res, endpoint) {
  if (res.status === 0) {
    return res; // no response: counted by http_req_failed, has no latency
  }
  if (res.status === 503) {
    if (res.headers['Retry-After']) {
      shed503.add(1, { endpoint });
      shedDuration.add(res.timings.duration, { endpoint });
      return res;
    }
    unexpected503.add(1, { endpoint });
  }
  servedDuration.add(res.timings.duration, { endpoint });
  return res;
}

export function postJSON(path, body, endpoint, extra) {
  return observe(http.post(`${API}${path}`, JSON.stringify(body), params(endpoint, extra)), endpoint);
}

export function get(path, endpoint, extra) {
  return observe(http.get(`${API}${path}`, params(endpoint, extra)), endpoint);
}

export function health() {
  return observe(http.get(`${BASE_URL}/health`, params('health')), 'health');
}

const is2xx = (r) => r.status >= 200 && r.status < 300;

// uniqueEmail never repeats within or across runs: VU, iteration, time
// and a random part.
export function uniqueEmail() {
  const rnd = Math.floor(Math.random() * 1e9).toString(36);
  return `load-${__VU}-${__ITER}-${Date.now().toString(36)}-${rnd}@example.com`;
}

// A random password: a fixed one could be on the common-password list.
export function newPassword() {
  return `Ld-${Math.random().toString(36).slice(2, 10)}-${Date.now().toString(36)}`;
}

// Flows, with the check names of the old service's run.

export function register(email, password) {
  const res = postJSON('/register', { identifier: email, password }, 'register');
  check(res, {
    'register 2xx': is2xx,
    'register <500ms': (r) => r.status !== 0 && r.timings.duration < 500,
  }, { endpoint: 'register' });
  return res;
}

export function login(email, password) {
  const res = postJSON('/login', { identifier: email, password }, 'login');
  check(res, { 'login 2xx': is2xx }, { endpoint: 'login' });
  return res;
}

export function me(extra, name = 'me 200', want = 200) {
  const res = get('/me', 'me', extra);
  check(res, { [name]: (r) => r.status === want }, { endpoint: 'me' });
  return res;
}

export function recovery(email) {
  const res = postJSON('/recovery', { email }, 'recovery');
  check(res, { 'recovery 2xx': is2xx }, { endpoint: 'recovery' });
  return res;
}

// The old run's 55 % branch: login, then GET /auth/me with the cookie
// login set (k6 keeps one jar per VU and clears it every iteration).
//
// oldCookies reproduces the old service's script exactly: its
// getCurrentUser passed the login response's cookies on,
//   http.get(`${API}/me`, { cookies: res.cookies })
// but res.cookies maps a cookie name to an ARRAY of cookie objects, not to
// a value, so k6 sends the string "[object Object]" as a cookie of that
// name, before the one the VU's jar holds:
//   Cookie: authd_session="[object Object]"; authd_session=<token>
// authd looks the session up from any of the first few cookies of its
// name, so 'me 200' must pass with this shape too.
export function loginThenMe(email, password, oldCookies) {
  const res = login(email, password);
  if (is2xx(res)) {
    if (oldCookies) {
      me({ cookies: res.cookies });
    } else {
      me();
    }
  }
}

// retryAfterSeconds is a 503's Retry-After in seconds (1 when missing or
// unreadable, at most 30), as the Go tool's -on-503 honour reads it.
export function retryAfterSeconds(res) {
  const n = parseInt(res.headers['Retry-After'] || '', 10);
  if (isNaN(n) || n < 0) {
    return 1;
  }
  return Math.min(n, 30);
}

// loginRetrying logs in and, while the answer is a 503 and fewer than
// retries resends have been made, sends the same login again at once
// (the Go tool's -on-503 retry -max-retries N). Every attempt is a
// request; 'login 2xx' checks the last answer only, as the Go tool does.
export function loginRetrying(email, password, retries) {
  const send = () => postJSON('/login', { identifier: email, password }, 'login');
  let res = send();
  for (let i = 0; i < retries && res.status === 503; i++) {
    res = send();
  }
  check(res, { 'login 2xx': is2xx }, { endpoint: 'login' });
  return res;
}

// withRetry is for setup only: a busy (503) or throttling (429) server
// gets a few tries, honouring Retry-After.
function withRetry(fn) {
  let res;
  for (let attempt = 0; attempt < 6; attempt++) {
    res = fn();
    if (res.status !== 429 && res.status !== 503) {
      return res;
    }
    const wait = parseInt(res.headers['Retry-After'] || '1', 10);
    sleep(Math.min(Math.max(wait || 1, 1), 5));
  }
  return res;
}

function rawPost(path, body, jar) {
  return http.post(`${API}${path}`, JSON.stringify(body), { headers: JSON_HEADERS, tags: { endpoint: 'setup' }, jar });
}

// ensureLoginUser registers the login user (201, or 409 when it exists)
// and proves it can log in; it throws, which aborts the test, otherwise.
export function ensureLoginUser() {
  const reg = withRetry(() => rawPost('/register', { identifier: LOGIN_EMAIL, password: LOGIN_PASSWORD }, new http.CookieJar()));
  const note = reg.status === 201 || reg.status === 409
    ? `register answered ${reg.status}`
    : `register answered ${reg.status}: ${reg.body}`;
  if (reg.status !== 201 && reg.status !== 409) {
    console.warn(`setup: ${note}`);
  }
  const res = withRetry(() => rawPost('/login', { identifier: LOGIN_EMAIL, password: LOGIN_PASSWORD }, new http.CookieJar()));
  if (res.status !== 200) {
    throw new Error(
      `setup: cannot log in as ${LOGIN_EMAIL} (HTTP ${res.status} ${res.body}; ${note}). ` +
      'Seed that user first (see k6/README.md), or set LOGIN_EMAIL and LOGIN_PASSWORD ' +
      '(-e LOGIN_EMAIL=... -e LOGIN_PASSWORD=...) to an account that exists.');
  }
  return { email: LOGIN_EMAIL, password: LOGIN_PASSWORD };
}

// loginSessions logs in n separate sessions (a fresh jar each, since a
// login rotates and ends the session a jar already holds) and returns
// their cookies, for GET /me without paying Argon2 per request. The
// sessions belong to throwaway users, SESSIONS_PER_USER each: authd caps
// one identity's live sessions (SESSIONS_PER_IDENTITY, 32 by default) and
// a login beyond the cap ends the oldest, so sessions of LOGIN_EMAIL would
// be ended by any load that logs that user in (login-closed.js beside
// me.js). When no user can be registered (registration limit, strict
// registration) LOGIN_EMAIL is used, as the Go tool does.
const SESSIONS_PER_USER = 16;

function sessionUser(k) {
  const rnd = Math.floor(Math.random() * 1e9).toString(36);
  const user = { identifier: `load-pool-${Date.now().toString(36)}-${rnd}-${k}@example.com`, password: newPassword() };
  const reg = rawPost('/register', user, new http.CookieJar());
  if (reg.status === 201) {
    return user;
  }
  console.warn(`setup: could not register a user for the /me sessions (HTTP ${reg.status}); ` +
    `they use ${LOGIN_EMAIL}, whose sessions other logins of it can end`);
  return { identifier: LOGIN_EMAIL, password: LOGIN_PASSWORD };
}

export function loginSessions(n) {
  const sessions = [];
  let user = null;
  for (let i = 0; i < n; i++) {
    if (i % SESSIONS_PER_USER === 0) {
      user = sessionUser(i / SESSIONS_PER_USER);
    }
    const res = withRetry(() => rawPost('/login', user, new http.CookieJar()));
    if (res.status !== 200) {
      throw new Error(`setup: session ${i}: login answered ${res.status} ${res.body}`);
    }
    const name = Object.keys(res.cookies).find((k) => res.cookies[k].length > 0 && res.cookies[k][0].value !== '');
    if (!name) {
      throw new Error('setup: login set no session cookie');
    }
    sessions.push({ name, value: res.cookies[name][0].value });
  }
  return sessions;
}

// constantRate builds a constant-arrival-rate scenario from RATE,
// DURATION and MAX_VUS, like the Go tool's -rate/-duration/-max-vus.
export function constantRate(defaultRate) {
  const rate = Number(__ENV.RATE || defaultRate);
  const maxVUs = Number(__ENV.MAX_VUS || 300);
  return {
    executor: 'constant-arrival-rate',
    rate,
    timeUnit: '1s',
    duration: __ENV.DURATION || '30s',
    preAllocatedVUs: Math.min(maxVUs, Math.max(1, Math.ceil(rate / 4))),
    maxVUs,
  };
}

// closedLoop builds a constant-vus scenario from VUS and DURATION, like
// the Go tool's -vus/-duration: each VU runs its next iteration as soon as
// the last one ends, so the load follows the server (a closed model).
export function closedLoop(defaultVUs) {
  return {
    executor: 'constant-vus',
    vus: Number(__ENV.VUS || defaultVUs),
    duration: __ENV.DURATION || '30s',
    gracefulStop: '30s',
  };
}

// parseStages reads "30s:50,60s:150" (the Go tool's -stages) into k6
// stages; an empty spec gives the default.
export function parseStages(spec, def) {
  if (!spec) {
    return def;
  }
  return spec.split(',').map((part) => {
    const [duration, target] = part.trim().split(':');
    return { duration, target: Number(target) };
  });
}

// The old service's bar; authd's own aims are added per script.
export const OLD_THRESHOLDS = {
  http_req_duration: ['p(95)<500', 'p(99)<1000'],
  http_req_failed: ['rate<0.01'],
};
