#!/usr/bin/env bash
# Quick start, command 2: installs what is missing (with the PyTorch oracle), builds and runs
# the whole test suite. Warnings are fatal when CI is set.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-test
preset=release
[[ -n "${CI:-}" ]] && preset=ci
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" -j 2
