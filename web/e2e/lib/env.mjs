// One authd for one test: runs devtools/cmd/e2eenv, which brings up a fresh
// database, a Valkey key prefix, Mailpit and authd on free loopback ports,
// and prints {"base_url": ..., "mailpit_url": ...} once they all answer.
// Closing its standard input stops it and removes what it made.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const e2eDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(e2eDir, '..', '..');
export const e2eenvPath = process.env.AUTHD_E2EENV || path.join(repoRoot, 'bin', 'e2eenv');
export const resultsDir = path.join(e2eDir, 'results');

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 25_000;

export function slug(s) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}

// startEnv starts e2eenv with extra authd settings (KEY: VALUE) and resolves
// once it has printed its JSON line. Its log goes to results/<name>.log.
export async function startEnv({ name = 'env', env = {} } = {}) {
  if (!fs.existsSync(e2eenvPath)) {
    throw new Error(`${e2eenvPath} does not exist: build it with \`go build -o bin/e2eenv ./devtools/cmd/e2eenv\` ` +
      'at the repository root, or point AUTHD_E2EENV at it');
  }
  fs.mkdirSync(resultsDir, { recursive: true });
  const logPath = path.join(resultsDir, `${slug(name)}.log`);
  const log = fs.createWriteStream(logPath);
  const args = [];
  for (const [k, v] of Object.entries(env)) args.push('-env', `${k}=${v}`);
  const child = spawn(e2eenvPath, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.pipe(log);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const info = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`e2eenv printed nothing within ${START_TIMEOUT_MS} ms (log: ${logPath})`)),
      START_TIMEOUT_MS);
    function fail(err) {
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(err);
    }
    child.once('error', fail);
    exited.then(({ code, signal }) => fail(new Error(`e2eenv exited (${code ?? signal}) before it was ready; ` +
      `its log ${logPath} ends:\n${tail(logPath)}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        const j = JSON.parse(out.slice(0, nl));
        if (!j.base_url || !j.mailpit_url) throw new Error(`no base_url or mailpit_url in ${out.slice(0, nl)}`);
        resolve({ baseURL: j.base_url.replace(/\/$/, ''), mailpitURL: j.mailpit_url.replace(/\/$/, '') });
      } catch (err) {
        fail(err);
      }
    });
  });
  child.stdout.resume();

  let stopped;
  return {
    ...info,
    logPath,
    logTail: () => tail(logPath),
    // stop closes e2eenv's standard input and waits until it has cleaned up.
    stop() {
      stopped ??= (async () => {
        child.stdin.end();
        const t = setTimeout(() => child.kill('SIGTERM'), STOP_TIMEOUT_MS);
        const k = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS + 5_000);
        const r = await exited;
        clearTimeout(t);
        clearTimeout(k);
        log.end();
        return r;
      })();
      return stopped;
    },
  };
}

function tail(file, bytes = 4000) {
  try {
    const b = fs.readFileSync(file);
    return b.subarray(Math.max(0, b.length - bytes)).toString();
  } catch {
    return '(no log)';
  }
}
