// Smoke test: one VU walks the whole session life cycle a few times with
// a fresh user; every check must pass.
//
//   k6 run --no-usage-report -e BASE_URL=http://127.0.0.1:8080 k6/smoke.js
//   go run ./devtools/cmd/load -scenario smoke
import { check, group } from 'k6';
import { health, login, me, newPassword, postJSON, recovery, register, uniqueEmail } from './lib.js';

export const options = {
  vus: 1,
  iterations: Number(__ENV.ITERATIONS || 3),
  thresholds: {
    checks: ['rate==1'],
    http_req_failed: ['rate<0.01'],
  },
};

export default function () {
  const email = uniqueEmail();
  const password = newPassword();

  group('health', () => {
    check(health(), { 'health 200': (r) => r.status === 200 });
  });
  group('register, me, logout', () => {
    register(email, password);
    me();
    check(postJSON('/logout', {}, 'logout'), { 'logout 204': (r) => r.status === 204 });
    // Proves logout ended the session on the server, not only the cookie.
    me(undefined, 'me after logout 401', 401);
  });
  group('login, me', () => {
    login(email, password);
    me();
  });
  group('recovery', () => {
    recovery(email);
  });
}
