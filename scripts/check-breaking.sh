#!/usr/bin/env bash
# Fails when Berth's protos (proto/berth) change in a way that breaks generated code or the wire
# (buf's FILE rules, buf.yaml) compared with the main branch's protos. On main itself it compares
# main with itself and passes. Where there is no local `main` (a CI checkout of a branch, a detached
# HEAD) it compares with origin/main, else with the previous commit. proto/third_party is vendored
# and not ours to keep compatible, so only proto/berth is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
base=""
for ref in refs/heads/main refs/remotes/origin/main HEAD~1; do
  if sha=$(git rev-parse --verify -q "${ref}^{commit}"); then
    base=$ref
    break
  fi
done
if [ -z "$base" ]; then
  echo "no main branch and no earlier commit to compare with: nothing to check"
  exit 0
fi
echo "comparing proto/berth with ${base#refs/heads/} (${sha:0:12})"
# buf reads the against side from git itself (the commit, not the working tree); the input side is
# the working tree, so uncommitted changes are checked too.
npx buf breaking --path proto/berth --against ".git#ref=${sha}"
echo "no breaking changes in proto/berth"
