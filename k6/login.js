// Login alone at a constant arrival rate: one Argon2 verification per
// iteration, so its throughput is the Argon2 pool's.
//
//   k6 run --no-usage-report -e RATE=20 -e DURATION=30s k6/login.js
//   go run ./devtools/cmd/load -scenario login -rate 20 -duration 30s
import { OLD_THRESHOLDS, constantRate, ensureLoginUser, login } from './lib.js';

export const options = {
  scenarios: { login: constantRate(20) },
  thresholds: Object.assign({}, OLD_THRESHOLDS),
};

export function setup() {
  return ensureLoginUser();
}

export default function (data) {
  login(data.email, data.password);
}
