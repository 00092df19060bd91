#!/usr/bin/env bash
# Quick start, command 1: installs what is missing, builds ebm (Release) and runs the main job.
# Until `ebm demo` exists, the main job is the engine at work: the timing table of `ebm bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target ebm_cli
./build/release/ebm bench --quick
