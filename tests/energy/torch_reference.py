#!/usr/bin/env python3
"""PyTorch reference for tests/energy/test_torch.cpp.

Usage: torch_reference.py DIR

DIR holds, as written by the C++ test (plain text, one matrix row per line, %.17g):
  config.txt           line 1: activation name (softplus, silu, tanh, gelu, elu),
                       line 2: the widths D H ... 1
  x.txt                the batch, N x D
  <k>.weight.txt       weight of the k-th module of the torch.nn.Sequential (out x in)
  <k>.bias.txt         its bias, 1 x out

The network is rebuilt as torch.nn.Sequential(Linear, activation, Linear, ..., Linear) in float64,
so its parameters are named 0.weight, 0.bias, 2.weight, ..., and loaded by copying the arrays.
Writes to DIR (same format):
  energy.txt           E(x), N x 1
  grad_x.txt           grad_x E, N x D
  laplacian.txt        sum_i d2E/dx_i2, N x 1, by D double-backward passes (create_graph=True)
  loss.txt             the exact score-matching loss, 1 x 1: with s = -grad_x E,
                       mean over the batch of Tr(grad_x s) + 0.5 ||s||^2
  grad.<name>.txt      d loss / d parameter, shaped as the parameter file

Exit status 2 (with a message) when torch or numpy cannot be imported.
"""
import pathlib
import sys

try:
    import numpy as np
    import torch
except ImportError as error:
    print(f"torch_reference.py: cannot import {error.name}: install python3-torch and python3-numpy "
          "(scripts/setup.sh --with-test installs them)", file=sys.stderr)
    sys.exit(2)

ACTIVATIONS = {
    "softplus": torch.nn.Softplus,  # threshold 20 does not matter: |pre-activations| stay far below
    "silu": torch.nn.SiLU,
    "tanh": torch.nn.Tanh,
    "gelu": torch.nn.GELU,  # exact (erf) form, as ebm
    "elu": torch.nn.ELU,
}


def load(directory, name):
    return torch.from_numpy(np.loadtxt(directory / f"{name}.txt", dtype=np.float64, ndmin=2))


def save(directory, name, tensor):
    array = tensor.detach().numpy()
    np.savetxt(directory / f"{name}.txt", array.reshape(1, -1) if array.ndim < 2 else array, fmt="%.17g")


def build_model(directory):
    activation, widths = (directory / "config.txt").read_text().split("\n")[:2]
    widths = [int(w) for w in widths.split()]
    modules = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        modules += [torch.nn.Linear(fan_in, fan_out, dtype=torch.float64), ACTIVATIONS[activation]()]
    model = torch.nn.Sequential(*modules[:-1])  # no activation after the last Linear
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(load(directory, name).reshape(parameter.shape))
    return model


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    directory = pathlib.Path(sys.argv[1])
    torch.set_num_threads(1)
    model = build_model(directory)
    x = load(directory, "x").requires_grad_(True)

    energy = model(x)  # N x 1
    (grad_x,) = torch.autograd.grad(energy.sum(), x, create_graph=True)
    score = -grad_x
    # Tr(grad_x s) per sample: column i of d/dx sum_n s[n, i], one double-backward pass per i.
    trace = sum(torch.autograd.grad(score[:, i].sum(), x, create_graph=True)[0][:, i]
                for i in range(x.shape[1]))
    loss = (trace + 0.5 * (score ** 2).sum(dim=1)).mean()
    names, parameters = zip(*model.named_parameters())
    # The last bias does not change grad_x E, so the loss does not depend on it: gradient zero.
    grads = torch.autograd.grad(loss, parameters, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip(parameters, grads)]

    save(directory, "energy", energy)
    save(directory, "grad_x", grad_x)
    save(directory, "laplacian", (-trace).reshape(-1, 1))
    save(directory, "loss", loss.reshape(1, 1))
    for name, grad in zip(names, grads):
        save(directory, f"grad.{name}", grad)


if __name__ == "__main__":
    main()
