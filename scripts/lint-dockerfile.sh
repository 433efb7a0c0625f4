#!/usr/bin/env bash
# Lints the Dockerfile with dockerfile-utils (the linter behind VS Code's Docker language server):
# pure JavaScript, offline, no binary download. No Docker engine runs on the development machine,
# so this and test/unit/container-files.test.ts are all that check the file before a real build.
# The tool exits non-zero on errors only; warnings (deprecated or ineffective instructions) fail
# here too, so the file stays clean.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! out=$(npx --no-install dockerfile-utils lint Dockerfile 2>&1); then
  echo "$out"
  exit 1
fi
if [ -n "$out" ]; then
  echo "$out"
  echo "Dockerfile lint: warnings (above) fail the check."
  exit 1
fi
echo "Dockerfile lint: clean."
