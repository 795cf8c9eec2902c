// Login alone at a constant arrival rate: one Argon2 verification per
// iteration, so its throughput is the Argon2 pool's. RETRIES > 0 makes
// each client resend a login answered 503 at once, up to RETRIES times
// (clients that retry a 503 at once: every retry adds to the offered load).
//
//   k6 run --no-usage-report -e RATE=20 -e DURATION=30s k6/login.js
//   go run ./devtools/cmd/load -scenario login -rate 20 -duration 30s
//   k6 run --no-usage-report -e RATE=110 -e DURATION=18s -e RETRIES=10 k6/login.js
//   go run ./devtools/cmd/load -scenario login -rate 110 -duration 18s -on-503 retry -max-retries 10
import { OLD_THRESHOLDS, constantRate, ensureLoginUser, login, loginRetrying } from './lib.js';

const RETRIES = Number(__ENV.RETRIES || 0);

export const options = {
  scenarios: { login: constantRate(20) },
  thresholds: Object.assign({}, OLD_THRESHOLDS),
};

export function setup() {
  return ensureLoginUser();
}

export default function (data) {
  if (RETRIES > 0) {
    loginRetrying(data.email, data.password, RETRIES);
  } else {
    login(data.email, data.password);
  }
}
