#!/usr/bin/env bash
# Fails when regenerating from proto/ changes anything under src/gen: generated code is committed
# and never edited by hand. Compares the tree before and after regenerating (on a clean clone that
# is the committed code; locally it also works before you commit).
set -euo pipefail
cd "$(dirname "$0")/.."
fingerprint() { find src/gen -type f -print0 | sort -z | xargs -0 sha256sum; }
before=$(fingerprint)
npx buf generate
after=$(fingerprint)
if [ "$before" != "$after" ]; then
  echo "src/gen is not what proto/ generates. Run 'npm run generate' and commit the result:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi
echo "generated code is up to date"
