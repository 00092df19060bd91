#!/usr/bin/env python3
"""PyTorch reference for tests/train/test_optimizer.cpp.

Usage: optimizer_oracle.py DIR

Every subdirectory of DIR is one case, written by the C++ test as plain text (one matrix row per
line, %.17g, so every double round-trips):
  config.txt        "key value" lines: kind (adam, adamw, sgd or clip), params, steps, and the
                    options of the kind (lr, beta1, beta2, eps, weight_decay, momentum, nesterov,
                    max_norm)
  param.<i>.txt     initial parameter i (optimizer cases)
  grad.<t>.<i>.txt  gradient of parameter i at step t (optimizer cases)
  lr.txt            the learning rate of each step, one per line (optimizer cases)
  grad.<i>.txt      gradient i (clip cases)

Optimizer cases run torch.optim.Adam / AdamW / SGD (foreach=False) in float64, setting the
param group's lr before each step, and write out.param.<i>.txt and the optimizer state as
out.<i>.<name>.txt (name: exp_avg, exp_avg_sq or momentum_buffer). Clip cases call
torch.nn.utils.clip_grad_norm_ and write out.norm.txt and out.grad.<i>.txt.

Exit status 2 (with a message) when torch or numpy cannot be imported.
"""
import pathlib
import sys

try:
    import numpy as np
    import torch
except ImportError as error:
    print(f"optimizer_oracle.py: cannot import {error.name}: install python3-torch and python3-numpy "
          "(scripts/setup.sh --with-test installs them)", file=sys.stderr)
    sys.exit(2)


def load(path):
    return torch.from_numpy(np.loadtxt(path, dtype=np.float64, ndmin=2))


def save(path, tensor):
    np.savetxt(path, np.atleast_2d(tensor.detach().numpy()), fmt="%.17g")


def run_optimizer(case, config):
    n = int(config["params"])
    steps = int(config["steps"])
    params = [load(case / f"param.{i}.txt").requires_grad_(True) for i in range(n)]
    kind = config["kind"]
    lr0 = float(config["lr"])
    if kind in ("adam", "adamw"):
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        opt = cls(params, lr=lr0, betas=(float(config["beta1"]), float(config["beta2"])),
                  eps=float(config["eps"]), weight_decay=float(config["weight_decay"]), foreach=False)
    else:
        opt = torch.optim.SGD(params, lr=lr0, momentum=float(config["momentum"]),
                              weight_decay=float(config["weight_decay"]),
                              nesterov=config["nesterov"] == "1", foreach=False)
    lrs = np.loadtxt(case / "lr.txt", dtype=np.float64, ndmin=1)
    for t in range(steps):
        for group in opt.param_groups:
            group["lr"] = float(lrs[t])
        for i, p in enumerate(params):
            p.grad = load(case / f"grad.{t}.{i}.txt")
        opt.step()
    for i, p in enumerate(params):
        save(case / f"out.param.{i}.txt", p)
        for name, value in opt.state[p].items():
            if name != "step" and value is not None:  # SGD without momentum keeps None
                save(case / f"out.{i}.{name}.txt", value)


def run_clip(case, config):
    n = int(config["params"])
    params = []
    for i in range(n):
        g = load(case / f"grad.{i}.txt")
        p = torch.zeros_like(g, requires_grad=True)
        p.grad = g
        params.append(p)
    norm = torch.nn.utils.clip_grad_norm_(params, float(config["max_norm"]))
    save(case / "out.norm.txt", norm.reshape(1, 1))
    for i, p in enumerate(params):
        save(case / f"out.grad.{i}.txt", p.grad)


def main():
    root = pathlib.Path(sys.argv[1])
    for case in sorted(d for d in root.iterdir() if d.is_dir()):
        config = dict(line.split(maxsplit=1) for line in (case / "config.txt").read_text().splitlines() if line)
        config = {k: v.strip() for k, v in config.items()}
        if config["kind"] == "clip":
            run_clip(case, config)
        else:
            run_optimizer(case, config)


if __name__ == "__main__":
    main()
