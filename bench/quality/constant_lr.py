#!/usr/bin/env python3
"""Issue 12 item 4: exact score matching at a constant learning rate, ebm against PyTorch.

A 2-D three-component Gaussian mixture (5000 points), an MLP 2-128-128-1 softplus, Adam 1e-3,
batch 256, 3000 steps. KL(data || model) from the model's energy normalised on a grid.

    /usr/bin/python3 bench/quality/constant_lr.py --ebm build/release/ebm --seeds 0-7

Each run prints one JSON line: {"who", "seed", "settings", "kl"}.
"""
import argparse, json, math, os, subprocess, sys, tempfile, time
import numpy as np

WEIGHTS = np.array([0.5, 0.3, 0.2])
MEANS = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
COVS = np.array([[[1.0, 0.6], [0.6, 1.0]], [[0.3, 0.0], [0.0, 0.8]], [[0.5, -0.2], [-0.2, 0.3]]])
LO, HI, GRID = -7.0, 7.0, 281
LOG_DENSITY = None
GRID_LOGP = None  # the true log density on grid(), computed once


def sample_mixture(n, seed):
    rng = np.random.default_rng(seed)
    comp = rng.choice(3, size=n, p=WEIGHTS)
    z = rng.standard_normal((n, 2))
    chol = np.linalg.cholesky(COVS)
    return MEANS[comp] + np.einsum("nij,nj->ni", chol[comp], z)


def sample_moons(n, seed):
    # ebm's toy moons (src/data/toy.cpp): an arc parameter uniform on [0, pi], noise sd 0.1, then x2.
    rng = np.random.default_rng(seed)
    t = np.pi * rng.random(n)
    upper = rng.random(n) < 0.5
    mx = np.where(upper, np.cos(t), 1 - np.cos(t))
    my = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    z = rng.standard_normal((n, 2))
    return np.stack([2 * (mx + 0.1 * z[:, 0]) - 1, 2 * (my + 0.1 * z[:, 1]) - 0.2], 1)


def log_moons(x, arc_points=4000):
    # The exact density: each arm is a uniform arc convolved with N(0, 0.2^2 I), by the midpoint rule.
    t = (np.arange(arc_points) + 0.5) * np.pi / arc_points
    centres = [np.stack([2 * np.cos(t) - 1, 2 * np.sin(t) - 0.2], 1),
               np.stack([2 * (1 - np.cos(t)) - 1, 2 * (0.5 - np.sin(t)) - 0.2], 1)]
    var = 0.04
    result = np.empty(len(x))
    for lo in range(0, len(x), 2000):
        xs = x[lo:lo + 2000]
        out = []
        for c in centres:
            d2 = ((xs[:, None, :] - c[None, :, :]) ** 2).sum(2)
            out.append(np.logaddexp.reduce(-0.5 * d2 / var, axis=1) - math.log(arc_points) - math.log(2 * math.pi * var))
        result[lo:lo + 2000] = np.logaddexp(out[0], out[1]) - math.log(2)
    return result


def log_mixture(x):
    out = []
    for w, m, c in zip(WEIGHTS, MEANS, COVS):
        d = x - m
        ci = np.linalg.inv(c)
        q = np.einsum("ni,ij,nj->n", d, ci, d)
        out.append(math.log(w) - 0.5 * q - math.log(2 * math.pi) - 0.5 * math.log(np.linalg.det(c)))
    return np.logaddexp.reduce(np.stack(out), axis=0)


def grid():
    t = np.linspace(LO, HI, GRID)
    xx, yy = np.meshgrid(t, t, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], 1), (t[1] - t[0]) ** 2


def kl_from_energy(energy, points, area):
    logq = -energy - (np.logaddexp.reduce(-energy) + math.log(area))
    global GRID_LOGP
    if GRID_LOGP is None:
        GRID_LOGP = LOG_DENSITY(points)
    logp = GRID_LOGP
    p = np.exp(logp)
    return float(np.sum(p * (logp - logq)) * area)


def train_torch(data, seed, steps, lr, batch, order, standardize):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    x_all = torch.tensor(data, dtype=torch.float32)
    mean, std = x_all.mean(0), x_all.std(0)
    if standardize:
        x_all = (x_all - mean) / std
    net = torch.nn.Sequential(torch.nn.Linear(2, 128), torch.nn.Softplus(), torch.nn.Linear(128, 128),
                              torch.nn.Softplus(), torch.nn.Linear(128, 1))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    n = x_all.shape[0]
    g = torch.Generator().manual_seed(seed)

    def batches():
        while True:
            if order == "random":
                yield torch.randint(0, n, (batch,), generator=g)
                continue
            perm = torch.randperm(n, generator=g)
            stop = n - n % batch if order == "droplast" else n
            for i in range(0, stop, batch):
                yield perm[i:i + batch]

    it = batches()
    for _ in range(steps):
        x = x_all[next(it)].clone().requires_grad_(True)
        e = net(x).sum()
        gx = torch.autograd.grad(e, x, create_graph=True)[0]
        s = -gx
        tr = sum(torch.autograd.grad(s[:, i].sum(), x, create_graph=True)[0][:, i] for i in range(2))
        loss = (tr + 0.5 * (s ** 2).sum(1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    pts, area = grid()
    with torch.no_grad():
        p = torch.tensor(pts, dtype=torch.float32)
        if standardize:
            p = (p - mean) / std
        energy = net(p).squeeze(1).double().numpy()
    return kl_from_energy(energy, pts, area)


def train_ebm(exe, data, seed, steps, lr, batch, extra, work):
    d = os.path.join(work, "data.csv")
    np.savetxt(d, data, delimiter=",", header="x,y", comments="")
    m = os.path.join(work, "model.safetensors")
    subprocess.run([exe, "--threads", "1", "train", "--data", d, "--steps", str(steps), "--lr", str(lr),
                    "--batch", str(batch), "--seed", str(seed), "-o", m, "--quiet", *extra], check=True)
    pts, area = grid()
    g = os.path.join(work, "grid.npy")
    np.save(g, pts)
    e = os.path.join(work, "energy.csv")
    subprocess.run([exe, "energy", "--model", m, "--at", g, "-o", e, "--quiet"], check=True)
    energy = np.loadtxt(e, delimiter=",", skiprows=1)
    if energy.ndim == 2:
        energy = energy[:, -1]
    return kl_from_energy(energy, pts, area)


def seeds(text):
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ebm", help="the ebm executable; without it only PyTorch runs")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--runs", default="torch,ebm", help="comma list of: torch, torch-droplast, torch-random, "
                    "torch-std, ebm, ebm-nostd, ebm-default")
    ap.add_argument("--ebm-args", default="", help="extra arguments for every ebm run")
    ap.add_argument("--data", default="mixture", choices=["mixture", "moons"])
    a = ap.parse_args()
    global LOG_DENSITY
    LOG_DENSITY = {"mixture": log_mixture, "moons": log_moons}[a.data]
    sample = {"mixture": sample_mixture, "moons": sample_moons}[a.data]
    for seed in seeds(a.seeds):
        data = sample(5000, 1000 + seed)
        for run in a.runs.split(","):
            t0 = time.time()
            with tempfile.TemporaryDirectory() as work:
                if run.startswith("torch"):
                    order = {"torch": "epoch", "torch-droplast": "droplast", "torch-random": "random",
                             "torch-std": "epoch"}[run]
                    kl = train_torch(data, seed, a.steps, a.lr, a.batch, order, run == "torch-std")
                else:
                    extra = {"ebm": ["--schedule", "constant"], "ebm-nostd": ["--schedule", "constant", "--no-standardize"],
                             "ebm-cosine": ["--schedule", "cosine"],
                             "ebm-nostd-cosine": ["--schedule", "cosine", "--no-standardize"], "ebm-ema": ["--schedule", "constant", "--ema", "0.999"],
                             "ebm-default": []}[run] + a.ebm_args.split()
                    kl = train_ebm(a.ebm, data, seed, a.steps, a.lr, a.batch, extra, work)
            print(json.dumps({"data": a.data, "who": run, "seed": seed, "kl": round(kl, 5), "seconds": round(time.time() - t0, 1)}),
                  flush=True)


if __name__ == "__main__":
    main()
