#!/usr/bin/env bash
# Runs ebm and PyTorch side by side on the same machine, at 1 and 2 threads, and prints the
# ratios (PyTorch time / ebm time; above 1 means ebm is faster).
#
#   bench/compare_with_pytorch.sh [options] [OUT_DIR]      (default OUT_DIR build/bench-results)
#     --ebm PATH       the ebm binary (default build/release/ebm; needs a Release build)
#     --only LIST      peer workloads, comma-separated (default all of shared/bench/WORKLOADS.md)
#     --runs N         repeat the peer/ebm pair N times (default 1), ratios printed per run
#     --quick          shorter timing budget per case, on both sides
#     --threads LIST   thread counts, comma-separated (default 1,2)
#     --no-engine      skip the engine workloads (bench/torch_engine.py vs ebm bench)
#     --torch-blas DIR a directory holding another libblas.so.3 for torch (LD_LIBRARY_PATH),
#                      e.g. OpenBLAS unpacked from Debian's libopenblas0-pthread; its thread
#                      count is set to match (OPENBLAS_NUM_THREADS)
#     --check          instead of timing: the PyTorch loss check. ebm writes its initial
#                      model, batch and draws (ebm bench --peer --export) for sm_exact, ssm and
#                      dsm; torch loads them and evaluates peer_torch.py's own loss functions
#                      (float32 and float64) on the same weights and batch, and, for sm_exact,
#                      the float64 parameter gradients. Exit 1 when a tolerance fails.
#
# Each run takes, per thread count, the PyTorch side and then ebm right after, so both sides
# of a ratio see the same machine load; uptime is logged with each.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared/bench
ebm=./build/release/ebm
only=langevin,sm_exact,ssm,dsm,cd
runs=1
threads=1,2
quick=()
engine=1
check=0
blas=
out=
while [ $# -gt 0 ]; do
  case "$1" in
    --ebm) ebm=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --quick) quick=(--quick); shift ;;
    --threads) threads=$2; shift 2 ;;
    --no-engine) engine=0; shift ;;
    --torch-blas) blas=$2; shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    -*) echo "compare_with_pytorch.sh: unknown option $1" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
out=${out:-build/bench-results}
mkdir -p "$out"

# torch with the given thread count (and BLAS): torch_run THREADS ARGS...
torch_run() {
  local t=$1; shift
  if [ -n "$blas" ]; then
    LD_LIBRARY_PATH="$blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OPENBLAS_NUM_THREADS=$t /usr/bin/python3 "$@"
  else
    /usr/bin/python3 "$@"
  fi
}

if [ "$check" = 1 ]; then
  dir="$out/loss-check"
  mkdir -p "$dir"
  "$ebm" bench --peer --only "$only" --export "$dir" > "$dir/ebm.jsonl"
  torch_run 2 - "$shared" "$dir" <<'PY'
"""Loads ebm's exported models and batches into torch and evaluates peer_torch.py's losses."""
import json, math, struct, sys
import torch

sys.path.insert(0, sys.argv[1])
import peer_torch  # the PyTorch side's own loss functions

directory = sys.argv[2]
torch.set_num_threads(2)


def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": torch.float32, "F64": torch.float64}
    return {k: torch.frombuffer(bytearray(raw[8 + n + t["data_offsets"][0]:8 + n + t["data_offsets"][1]]),
                                dtype=dtypes[t["dtype"]]).reshape(t["shape"]) for k, t in header.items()}, meta


def load_model(path):
    state, meta = read(path)
    # Model files of format 2 describe the network by its layers (docs/networks.md); the peer's
    # is D -> H -> H -> 1 with softplus, whose linear layers are 0, 2 and 4 in both.
    assert "softplus" in meta["ebm"], meta["ebm"]
    assert sorted(state) == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"], sorted(state)
    w = [state["0.weight"].shape[1], state["0.weight"].shape[0], state["2.weight"].shape[0], state["4.weight"].shape[0]]
    assert w[2] == w[1] and w[3] == 1, w
    net = peer_torch.mlp(w[0], w[1])
    net.load_state_dict(state, strict=True)
    return net


def loss_of(workload, net, x, draws):
    if workload in ("ssm", "dsm"):  # the peer draws with randn_like: hand it ebm's draws
        saved = torch.randn_like
        torch.randn_like = lambda t: draws.to(t.dtype)
        try:
            return peer_torch.LOSSES[workload](net, x)
        finally:
            torch.randn_like = saved
    return peer_torch.LOSSES[workload](net, x)


ok = True
for line in open(f"{directory}/ebm.jsonl"):
    row = json.loads(line)
    w, base = row["workload"], row["files"]
    net32 = load_model(f"{directory}/{base}.model.safetensors")
    check, _ = read(f"{directory}/{base}.check.safetensors")
    x32 = check["x"]
    draws = check.get("v", check.get("eps"))
    ebm32, ebm64 = check["loss_f32"].item(), check["loss_f64"].item()
    t32 = loss_of(w, net32, x32, draws).item()
    net64 = load_model(f"{directory}/{base}.model.safetensors").double()
    loss64 = loss_of(w, net64, x32.double(), draws)
    t64 = loss64.item()
    rel = lambda a, b: abs(a - b) / max(abs(b), 1e-300)
    # float32: rounding of ~1e-7 per op over a few dozen ops, and the loss is a difference of
    # terms of similar size; float64 of the same float32 inputs agrees to ~1e-12.
    tol32, tol64 = 1e-5, 1e-10
    msg = (f"{w:8s} B={row['batch']:<5d} D={row['dim']:<4d} H={row['width']:<4d} torch f64 {t64:+.10e}  "
           f"ebm f32 {ebm32:+.8e} (rel {rel(ebm32, t64):.2e}; torch f32 rel {rel(t32, t64):.2e})")
    good = rel(ebm32, t64) < tol32
    if not math.isnan(ebm64):
        msg += f"  ebm f64 rel {rel(ebm64, t64):.2e}"
        good = good and rel(ebm64, t64) < tol64
        net64.zero_grad()
        loss64.backward()
        worst = 0.0
        for i, p in enumerate(net64.parameters()):
            g = check[f"grad_{i}"].reshape(p.shape)
            if p.grad is None:  # the output bias does not enter the score: its gradient is 0
                worst = max(worst, g.abs().max().item())
                continue
            worst = max(worst, ((g - p.grad).abs().max() / p.grad.abs().max()).item())
        msg += f"  grad f64 max|diff|/max|torch| {worst:.2e}"
        good = good and worst < tol64
    print(("ok   " if good else "FAIL ") + msg, flush=True)
    ok = ok and good
sys.exit(0 if ok else 1)
PY
  exit $?
fi

for run in $(seq 1 "$runs"); do
  peer_out="$out/torch_peer.run$run.jsonl"
  ebm_out="$out/ebm_peer.run$run.jsonl"
  : > "$peer_out"
  : > "$ebm_out"
  for t in ${threads//,/ }; do
    echo "run $run, $t thread(s): torch  $(uptime)" >&2
    torch_run "$t" "$shared/peer_torch.py" --threads "$t" --only "$only" "${quick[@]}" >> "$peer_out"
    echo "run $run, $t thread(s): ebm    $(uptime)" >&2
    "$ebm" --threads "$t" bench --peer --json --only "$only" "${quick[@]}" >> "$ebm_out"
  done
  echo "== run $run: peer workloads (shared/bench/WORKLOADS.md)"
  python3 "$shared/compare.py" "$peer_out" "$ebm_out"
done

if [ "$engine" = 1 ]; then
  : > "$out/ebm_engine.jsonl"
  : > "$out/torch_engine.jsonl"
  for t in 1 2; do
    torch_run "$t" bench/torch_engine.py --threads "$t" "${quick[@]}" >> "$out/torch_engine.jsonl"
    "$ebm" --threads "$t" bench --json "${quick[@]}" >> "$out/ebm_engine.jsonl"
  done
  echo "== engine workloads (ebm bench)"
  python3 "$shared/compare.py" "$out/torch_engine.jsonl" "$out/ebm_engine.jsonl"
fi
