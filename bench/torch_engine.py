#!/usr/bin/python3
"""PyTorch (eager, CPU) side of the engine workloads of `ebm bench` (bench/workloads.cpp):
forward, grad_x and double_backward on the MLP D -> H -> H -> 1 (softplus, float32), and
record_op_x1000 (1000 recorded ops on a 1x1 tensor). Prints the JSON lines that
../shared/bench/compare.py reads; pair it with `ebm bench --json`.

    /usr/bin/python3 bench/torch_engine.py [--threads 1,2] [--quick]
"""
import argparse
import json
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "bench"))
from peer_torch import mlp, time_step  # noqa: E402  the peer's own model and timing loop

SHAPES = [(b, d, h) for d, h in ((2, 128), (64, 256)) for b in (1, 64, 4096)]


def make_step(workload, batch, dim, width):
    net = mlp(dim, width)
    params = list(net.parameters())
    x = torch.randn(batch, dim)
    if workload == "forward":
        def step():
            with torch.no_grad():
                return net(x)
    elif workload == "grad_x":
        def step():
            xg = x.detach().requires_grad_(True)
            return torch.autograd.grad(net(xg).sum(), xg)[0]
    elif workload == "double_backward":
        def step():
            xg = x.detach().requires_grad_(True)
            (gx,) = torch.autograd.grad(net(xg).sum(), xg, create_graph=True)
            return torch.autograd.grad((gx ** 2).sum(), params, allow_unused=True)  # the last bias: zero
    elif workload == "record_op_x1000":
        v0 = torch.zeros(1, 1, requires_grad=True)

        def step():
            v = v0
            for _ in range(1000):
                v = v * 0.999
            return v
    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    budget = 0.25 if args.quick else 1.0
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        cases = [("record_op_x1000", 1, 1, 1)] + [(w, *s) for w in ("forward", "grad_x", "double_backward") for s in SHAPES]
        for workload, batch, dim, width in cases:
            torch.manual_seed(0)
            ms, reps = time_step(make_step(workload, batch, dim, width), budget, min_reps=2, max_reps=100000)
            print(json.dumps({"impl": "pytorch", "workload": workload, "batch": batch, "dim": dim, "width": width,
                              "threads": threads, "ms": round(ms, 5), "reps": reps}), flush=True)


if __name__ == "__main__":
    main()
