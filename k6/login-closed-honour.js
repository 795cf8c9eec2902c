// login-closed.js with well-behaved clients: a VU answered 503 sleeps the
// Retry-After (1 s when missing) before its next login, instead of
// sending it at once. VUS (default 20) and DURATION as in login-closed.js.
//
//   k6 run --no-usage-report -e VUS=20 -e DURATION=30s k6/login-closed-honour.js
//   go run ./devtools/cmd/load -scenario login -vus 20 -duration 30s -on-503 honour -max-retries 0
import { sleep } from 'k6';
import { OLD_THRESHOLDS, closedLoop, ensureLoginUser, login, retryAfterSeconds } from './lib.js';

export const options = {
  scenarios: { login: closedLoop(20) },
  thresholds: Object.assign({}, OLD_THRESHOLDS, {
    served_duration: ['p(95)<500', 'p(99)<1000'],
  }),
};

export function setup() {
  return ensureLoginUser();
}

export default function (data) {
  const res = login(data.email, data.password);
  if (res.status === 503) {
    sleep(retryAfterSeconds(res));
  }
}
