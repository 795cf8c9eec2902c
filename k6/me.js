// GET /auth/me alone at a constant arrival rate, spread over SESSIONS
// sessions logged in by setup(), so no Argon2 work happens during the run.
//
//   k6 run --no-usage-report -e RATE=200 -e DURATION=30s -e SESSIONS=50 k6/me.js
//   go run ./devtools/cmd/load -scenario me -rate 200 -duration 30s -me-sessions 50
import { OLD_THRESHOLDS, constantRate, ensureLoginUser, loginSessions, me } from './lib.js';

export const options = {
  scenarios: { me: constantRate(200) },
  // Object.assign rather than spread syntax: older k6 runtimes lack it.
  thresholds: Object.assign({}, OLD_THRESHOLDS, {
    // authd's aim: /me is a cache read, p99 under 10 ms.
    'http_req_duration{endpoint:me}': ['p(99)<10'],
  }),
};

export function setup() {
  ensureLoginUser();
  return { sessions: loginSessions(Number(__ENV.SESSIONS || 50)) };
}

export default function (data) {
  const s = data.sessions[Math.floor(Math.random() * data.sessions.length)];
  // replace: the VU's own jar never holds a session here, but if it did
  // this one must win.
  me({ cookies: { [s.name]: { value: s.value, replace: true } } });
}
