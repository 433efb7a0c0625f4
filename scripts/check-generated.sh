#!/usr/bin/env bash
# Fails when regenerating from proto/ changes anything under src/gen: generated code is committed
# and never edited by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
npx buf generate
changes=$(git status --porcelain -- src/gen)
if [ -n "$changes" ]; then
  echo "src/gen is not what proto/ generates. Run 'npm run generate' and commit the result:" >&2
  echo "$changes" >&2
  git --no-pager diff --stat -- src/gen >&2
  exit 1
fi
echo "generated code is up to date"
