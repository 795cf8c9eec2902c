// GET /health alone: the baseline of the HTTP stack, for ratios such as
// /auth/me throughput ÷ /health throughput.
//
//   k6 run --no-usage-report -e RATE=200 -e DURATION=30s k6/health.js
//   go run ./devtools/cmd/load -scenario health -rate 200 -duration 30s
import { check } from 'k6';
import { constantRate, health } from './lib.js';

export const options = {
  scenarios: { health: constantRate(200) },
  thresholds: { http_req_failed: ['rate<0.01'] },
};

export default function () {
  check(health(), { 'health 200': (r) => r.status === 200 });
}
