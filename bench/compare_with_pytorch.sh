#!/usr/bin/env bash
# Runs ebm and PyTorch side by side on the same machine, in the same minute, at 1 and 2
# threads, and prints the ratios (PyTorch time / ebm time; above 1 means ebm is faster).
#   bench/compare_with_pytorch.sh [OUT_DIR]     (needs a Release build and python3-torch)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/bench-results}
shared=../shared/bench
ebm=./build/release/ebm
mkdir -p "$out"
: > "$out/ebm_peer.jsonl"
: > "$out/ebm_engine.jsonl"
for t in 1 2; do
  "$ebm" bench --peer --json --threads "$t" >> "$out/ebm_peer.jsonl"
  "$ebm" bench --json --threads "$t" >> "$out/ebm_engine.jsonl"
done
/usr/bin/python3 "$shared/peer_torch.py" --only langevin > "$out/torch_peer.jsonl"
/usr/bin/python3 bench/torch_engine.py > "$out/torch_engine.jsonl"
echo "== peer workloads (shared/bench/WORKLOADS.md)"
python3 "$shared/compare.py" "$out/torch_peer.jsonl" "$out/ebm_peer.jsonl"
echo "== engine workloads (ebm bench)"
python3 "$shared/compare.py" "$out/torch_engine.jsonl" "$out/ebm_engine.jsonl"
