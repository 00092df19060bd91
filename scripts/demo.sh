#!/usr/bin/env bash
# Quick start, command 1: installs what is missing, builds ebm (Release) and runs the main job:
# `ebm demo` learns two moons by exact score matching, samples the model with ULA and MALA,
# recovers log p from the score, evaluates, and writes figures and a report to ebm-demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target ebm_cli
./build/release/ebm demo -o "${1:-ebm-demo}"
