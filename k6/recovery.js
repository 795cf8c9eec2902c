// Recovery requests alone at a constant arrival rate, all for one address
// (RECOVERY_EMAIL, default the login user), as in the old mixed run.
// authd answers 202 whether or not the address exists; a 404 means the
// endpoint is missing and fails the check.
//
//   k6 run --no-usage-report -e RATE=20 -e DURATION=30s k6/recovery.js
//   go run ./devtools/cmd/load -scenario recovery -rate 20 -duration 30s
import { OLD_THRESHOLDS, RECOVERY_EMAIL, constantRate, recovery } from './lib.js';

export const options = {
  scenarios: { recovery: constantRate(20) },
  thresholds: Object.assign({}, OLD_THRESHOLDS),
};

export default function () {
  recovery(RECOVERY_EMAIL);
}
