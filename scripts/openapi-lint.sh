#!/usr/bin/env bash
# `redocly lint` of api/openapi.yaml with Redocly's recommended rules
# (api/redocly.yaml; the few ignored problems and why: api/.redocly.lint-ignore.yaml).
# Installs the pinned Redocly CLI from devtools/openapi's lock file when it
# is missing. Run by make test.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=devtools/openapi
if [ ! -x "$tool/node_modules/.bin/redocly" ]; then
  command -v npm >/dev/null || { echo "openapi-lint: npm is needed (apt-get install npm)" >&2; exit 1; }
  (cd "$tool" && npm ci --ignore-scripts --no-audit --no-fund --silent)
fi
cd api
# Redocly's telemetry stays off; the Node.js support notice is not ours to act on.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  ../"$tool"/node_modules/.bin/redocly lint --config redocly.yaml --format=stylish openapi.yaml
