#!/usr/bin/env bash
# Fails when regenerating from proto/ changes anything under src/gen or an SDK's generated code:
# generated code is committed and never edited by hand. Compares the trees before and after
# regenerating (on a clean clone that is the committed code; locally it also works before you commit).
set -euo pipefail
cd "$(dirname "$0")/.."
GENERATED=(src/gen clients/typescript/src/gen)
fingerprint() { find "${GENERATED[@]}" -type f -print0 | sort -z | xargs -0 sha256sum; }
before=$(fingerprint)
npx buf generate
npx buf generate --template clients/typescript/buf.gen.yaml
after=$(fingerprint)
if [ "$before" != "$after" ]; then
  echo "generated code is not what proto/ generates. Run 'npm run generate' (and, for the TypeScript SDK," >&2
  echo "'npm run generate --prefix clients/typescript') and commit the result:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi
echo "generated code is up to date"
