#!/usr/bin/python3
"""Train examples/models/ncsn_28x28.json in PyTorch with the settings of the ebm run

    ebm --threads 1 train --data .../train-images-idx3-ubyte.gz --model examples/models/ncsn_28x28.json
        --objective dsm --noise-levels 10 --sigma 0.01 --sigma-max 1 --no-standardize --flip
        --steps 1500 --batch 64 --lr 1e-3 --schedule cosine --ema 0.999

Data: Fashion-MNIST train images / 255, rows channels last (= flattened 28x28). DSM over the
geometric ladder sigma_i = sigma_max exp(i log(sigma_min/sigma_max)/(L-1)), one level drawn
uniformly per row, loss mean_n 1/2 |sigma_n s(x~_n, sigma_n) + eps_n|^2 with s = -grad_x E.
Random horizontal flips (p = 1/2), Adam lr 1e-3 with cosine decay to 0 over the run (factor at
step t = (1 + cos(pi t / T)) / 2, as ebm's LrSchedule), EMA 0.999 of the weights (the first update
copies the weights, as ebm's Ema). The EMA state_dict is saved with torch.save.

    /usr/bin/python3 scripts/fmnist_torch_peer.py [--steps 1500] [--threads 1] [-o /work/runs/torch_ncsn.pt]
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import ebm_torch  # noqa: E402

TRAIN = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def read_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return (np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255.0)


def ladder(levels=10, sigma_min=0.01, sigma_max=1.0):
    ratio = math.log(sigma_min / sigma_max) / (levels - 1)
    s = [sigma_max * math.exp(ratio * i) for i in range(levels)]
    s[-1] = sigma_min
    return s


def dsm_loss(net, x, sigmas, generator=None):
    """mean_n 1/2 |sigma_n s(x~_n, sigma_n) + eps_n|^2, one ladder level drawn per row."""
    n = x.shape[0]
    idx = torch.randint(len(sigmas), (n,), generator=generator)
    sigma = sigmas[idx]
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    noisy = (x + sigma[:, None] * eps).requires_grad_(True)
    (g,) = torch.autograd.grad(net(noisy, sigma).sum(), noisy, create_graph=True)
    s = -g
    return 0.5 * ((sigma[:, None] * s + eps) ** 2).sum(1).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.path.join(HERE, "..", "examples", "models", "ncsn_28x28.json"))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("-o", "--output", default="/work/runs/torch_ncsn.pt")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = torch.from_numpy(read_images(TRAIN))
    with open(args.model) as f:
        net = ebm_torch.build_module(json.load(f), dtype=torch.float32)
    sigmas = torch.tensor(ladder(), dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: (1 + math.cos(math.pi * min(t, args.steps) / args.steps)) / 2)
    ema = None
    n = data.shape[0]
    perm, pos = torch.randperm(n), 0
    step_times = []
    start = time.perf_counter()
    print(json.dumps({"event": "start", "params": sum(p.numel() for p in net.parameters()),
                      "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)
    for step in range(args.steps):
        t0 = time.perf_counter()
        if pos + args.batch > n:
            perm, pos = torch.randperm(n), 0
        batch = data[perm[pos:pos + args.batch]]
        pos += args.batch
        flip = torch.rand(args.batch) < 0.5
        batch = torch.where(flip[:, None], batch.view(-1, 28, 28).flip(2).reshape(-1, 784), batch)
        loss = dsm_loss(net, batch, sigmas)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            if ema is None:
                ema = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                for k, v in net.state_dict().items():
                    ema[k].mul_(args.ema).add_(v, alpha=1 - args.ema)
        step_times.append(time.perf_counter() - t0)
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            recent = step_times[-args.log_every:]
            print(json.dumps({"step": step + 1, "loss": round(loss.item(), 4), "lr": opt.param_groups[0]["lr"],
                              "ms_per_step": round(1e3 * sum(recent) / len(recent), 2),
                              "seconds": round(time.perf_counter() - start, 1)}), flush=True)
    total = time.perf_counter() - start
    torch.save(ema, args.output)
    times = np.array(step_times) * 1e3
    summary = {"event": "done", "steps": args.steps, "seconds": round(total, 2),
               "ms_per_step_mean": round(float(times.mean()), 2), "ms_per_step_median": round(float(np.median(times)), 2),
               "output": args.output}
    with open(os.path.splitext(args.output)[0] + "_times.json", "w") as f:
        json.dump({**summary, "step_ms": [round(float(t), 3) for t in times]}, f)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
