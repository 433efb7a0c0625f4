#!/usr/bin/env bash
# The SDK's suite as a user gets the SDK: packs it (`npm pack`, which builds it), installs the
# tarball into an empty project with the two drivers the tests use to check the databases
# directly, and runs the compiled tests there (node:test) against the repository's built Berth
# (dist/main.js) and the local PostgreSQL and MariaDB. Only the npm registry is needed.
#   bash clients/typescript/scripts/test-packed.sh [test-name ...]   e.g. "values stream-memory"
set -euo pipefail
sdk="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$sdk/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/berth-sdk-ts-XXXXXX")"
trap 'rm -rf "$work"' EXIT

node "$repo/scripts/build-if-stale.mjs"
# Builds the SDK, then type-checks and compiles the tests and the example (they import the SDK by its
# package name, which resolves to the built dist/ — absent on a clean clone until this build).
(cd "$sdk" && npm run --silent build && npm run --silent build:tests)
tgz=$(cd "$sdk" && npm pack --silent --json --pack-destination "$work" | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].filename))')

dep() { node -p "require('$repo/package.json').dependencies['$1']"; }
mkdir "$work/project"
cd "$work/project"
npm init -y >/dev/null
npm pkg set type=module private=true
npm install --no-audit --no-fund --prefer-offline --loglevel=error \
  "$work/$tgz" "pg@$(dep pg)" "mysql2@$(dep mysql2)"
cp -r "$sdk/build/test" "$sdk/build/examples" .

files=()
if [ $# -gt 0 ]; then
  for name in "$@"; do files+=("test/$name.test.js"); done
else
  files=(test/*.test.js)
fi
# A failing test may leave a client open; the run must end anyway, and no test may hang it.
BERTH_MAIN="$repo/dist/main.js" node --test --test-force-exit --test-timeout=180000 --test-reporter=spec "${files[@]}"
