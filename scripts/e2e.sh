#!/usr/bin/env bash
# Runs the web app's browser tests (web/e2e) in Debian's headless Chromium.
# Installs what they need where it is missing: the chromium package (apt),
# Mailpit (go install), the npm packages of web/e2e (npm ci, from its lock
# file), and builds devtools/cmd/e2eenv, which gives each test its own
# authd, database, key prefix and inbox.
#   scripts/e2e.sh            # the whole suite
#   scripts/e2e.sh --test-name-pattern=recovery   # options go to node --test
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'e2e: %s\n' "$*" >&2; }

if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium and chromium-driver"
  SUDO=
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
command -v node >/dev/null || { say "Node.js is missing: install the nodejs and npm packages"; exit 1; }

scripts/services.sh --install-mailpit
mkdir -p bin
go build -o bin/e2eenv ./devtools/cmd/e2eenv

cd web/e2e
if ! npm ls --silent >/dev/null 2>&1; then
  say "installing web/e2e's npm packages"
  npm ci --no-audit --no-fund --silent
fi
AUTHD_E2EENV="$(cd ../.. && pwd)/bin/e2eenv" npm test --silent -- "$@"
