#!/usr/bin/env bash
# Installs the Debian 12 packages ebm needs, and nothing when they are all present.
# Usage: scripts/setup.sh [--with-test] [--with-fuzz]
#   --with-test adds what the test suite needs: python3-torch, pytest, Fashion-MNIST
#   --with-fuzz adds clang 14 with its sanitizer and libFuzzer runtimes and OpenMP (scripts/fuzz.sh)
set -euo pipefail

packages=(g++ cmake ninja-build libeigen3-dev librandom123-dev libcli11-dev nlohmann-json3-dev
          libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libzip-dev libcairo2-dev pkg-config
          python3-dev pybind11-dev python3-numpy libopenmpi-dev openmpi-bin)
for option in "$@"; do
  case "$option" in
    --with-test) packages+=(python3-torch python3-pytest dataset-fashion-mnist) ;;
    --with-fuzz) packages+=(clang libclang-rt-14-dev libomp-14-dev) ;;
    *) echo "ebm setup: unknown option $option (expected --with-test or --with-fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "ebm setup: installing ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  run=()
elif command -v sudo >/dev/null 2>&1; then
  run=(sudo)
else
  echo "ebm setup: missing packages ${missing[*]}; run this script as root or install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
