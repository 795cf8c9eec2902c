// Registration alone at a constant arrival rate (one Argon2 hash each).
//
//   k6 run --no-usage-report -e RATE=20 -e DURATION=30s k6/register.js
//   go run ./devtools/cmd/load -scenario register -rate 20 -duration 30s
import { OLD_THRESHOLDS, constantRate, newPassword, register, uniqueEmail } from './lib.js';

export const options = {
  scenarios: { register: constantRate(20) },
  thresholds: Object.assign({}, OLD_THRESHOLDS),
};

export default function () {
  register(uniqueEmail(), newPassword());
}
