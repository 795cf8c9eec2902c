// A page of another origin (a second loopback port): a static HTML page and
// a script file that tries to act on authd with the visitor's cookie. Its
// host is localhost, as authd's is (e2eenv): another origin of the same
// site, which the SameSite=Lax cookie goes to, so that only authd's own
// origin checks stand in the way.
import http from 'node:http';

const PAGE = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title>
<script src="/attack.js" defer></script></head>
<body><h1>Another site</h1><p id="result">pending</p></body></html>`;

// attack.js: ?target=<authd base URL>&action=profile|logout
const SCRIPT = `
(async () => {
  const q = new URLSearchParams(location.search);
  const target = q.get('target');
  const out = document.getElementById('result');
  let result;
  try {
    if (q.get('action') === 'logout') {
      // A "simple" request: no preflight, the cookie goes along.
      const r = await fetch(target + '/api/v1/auth/logout', { method: 'POST', credentials: 'include', mode: 'no-cors' });
      result = 'sent:' + r.type;
    } else {
      const r = await fetch(target + '/api/v1/auth/settings', {
        method: 'PUT',
        credentials: 'include',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ method: 'profile', traits: { username: q.get('username'), geo_location: q.get('location') } }),
      });
      await r.text();
      result = 'status:' + r.status;
    }
  } catch (err) {
    result = 'error:' + err.name;
  }
  out.textContent = result;
  out.dataset.done = 'yes';
})();
`;

export async function startForeignSite() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(PAGE);
    } else if (url.pathname === '/attack.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(SCRIPT);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://localhost:${server.address().port}`;
  return {
    origin,
    pageURL: (params) => `${origin}/?${new URLSearchParams(params)}`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}
