// Login in a closed loop: VUS virtual users (default 20), each sending its
// next login as soon as the last one is answered, for DURATION (k6's
// constant-vus executor). A 503 ends the iteration like any answer, so a
// client refused at once comes back at once: the shape of issue 17, where
// 20 such users got 98.96 % of their logins answered 503.
//
//   k6 run --no-usage-report -e VUS=20 -e DURATION=30s k6/login-closed.js
//   go run ./devtools/cmd/load -scenario login -vus 20 -duration 30s
//
// Measure GET /auth/me beside it with k6/me.js at a light rate, e.g.
//   k6 run --no-usage-report -e RATE=50 -e DURATION=30s -e SESSIONS=50 k6/me.js &
// (the Go tool does both in one process: -me-probe 50).
import { OLD_THRESHOLDS, closedLoop, ensureLoginUser, login } from './lib.js';

export const options = {
  scenarios: { login: closedLoop(20) },
  // The old service's bar, and for the answers that were not shed the
  // issue's aims at 20 clients (served p95 < 500 ms, p99 < 1 s); the
  // issue also asks for no 503 at all at 20 clients.
  thresholds: Object.assign({}, OLD_THRESHOLDS, {
    served_duration: ['p(95)<500', 'p(99)<1000'],
    shed_503: ['count==0'],
  }),
};

export function setup() {
  return ensureLoginUser();
}

export default function (data) {
  login(data.email, data.password);
}
