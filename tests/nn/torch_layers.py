#!/usr/bin/env python3
"""PyTorch reference for tests/nn/test_network_torch.cpp, through python/ebm_torch.py.

Usage: torch_layers.py DIR

Every subdirectory CASE of DIR is one network, written by the C++ test as plain text (one matrix
row per line, %.17g, so every double round-trips):
  architecture.json        the ebm description (docs/networks.md)
  x.txt, eps.txt           N x D;  sigma.txt  N x 1 (the condition when the network has one,
                           passed as [N, 1] and as [N], which must give the same bits)
  param.<name>.txt         each parameter as ebm holds it (rows x cols)
The module is ebm_torch.build_module(architecture) in float64, its parameters loaded with
load_state_dict(strict=True) after reshaping each matrix to ebm's file shape (1 x n as [n]), so a
key or shape that differs from ebm's fails here. Writes to CASE:
  state_dict.txt           "name dim0 [dim1]" per tensor, in state_dict order
  energy.txt               E(x [, sigma]), N x 1
  grad_x.txt               grad_x E, N x D (create_graph=True)
  loss.txt                 sum((sigma grad_x E + eps)^2), 1 x 1 (a DSM-style loss)
  grad.<name>.txt          d loss / d parameter (double backward), rows x cols as param.<name>.txt
A CASE holding model.safetensors is a model file written by ebm instead: ebm_torch.load(path) is
evaluated at x.txt (raw data) [and sigma.txt] and E goes to load_energy.txt (N x 1), in the file's
precision.

Exit status 2 (with a message) when torch or numpy cannot be imported.
"""
import pathlib
import sys

try:
    import numpy as np
    import torch
except ImportError as error:
    print(f"torch_layers.py: cannot import {error.name}: install python3-torch and python3-numpy "
          "(scripts/setup.sh --with-test installs them)", file=sys.stderr)
    sys.exit(2)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))
import ebm_torch  # noqa: E402


def load(directory, name, dtype=torch.float64):
    return torch.from_numpy(np.loadtxt(directory / f"{name}.txt", dtype=np.float64, ndmin=2)).to(dtype)


def save(directory, name, tensor):
    array = tensor.detach().to(torch.float64).numpy()
    np.savetxt(directory / f"{name}.txt", array.reshape(1, -1) if array.ndim < 2 else array, fmt="%.17g")


def network_case(directory):
    module = ebm_torch.build_module((directory / "architecture.json").read_text(), dtype=torch.float64)
    names = list(module.state_dict().keys())
    with open(directory / "state_dict.txt", "w") as f:
        for name, tensor in module.state_dict().items():
            f.write(" ".join([name] + [str(d) for d in tensor.shape]) + "\n")
    state = {}
    for name, tensor in module.state_dict().items():
        path = directory / f"param.{name}.txt"
        if not path.exists():
            raise RuntimeError(f"the module has a tensor '{name}' that ebm does not")
        m = load(directory, f"param.{name}")
        state[name] = m.reshape(tensor.shape)  # the text file holds the values; the listing above checks the shape
    module.load_state_dict(state, strict=True)  # also fails for tensors ebm has and the module not

    x = load(directory, "x").requires_grad_(True)
    sigma = load(directory, "sigma")
    eps = load(directory, "eps")
    energy = module(x, sigma) if module.conditional else module(x)
    if module.conditional and not torch.equal(module(x, sigma.reshape(-1)), energy):
        raise RuntimeError("sigma of shape [N] and [N, 1] give different energies")
    if energy.shape != (x.shape[0],):
        raise RuntimeError(f"energies of shape {list(energy.shape)}, expected [N]")
    (grad_x,) = torch.autograd.grad(energy.sum(), x, create_graph=True)
    loss = ((sigma * grad_x + eps) ** 2).sum()
    parameters = [module.state_dict(keep_vars=True)[n] for n in names]
    # A parameter that grad_x does not depend on (a scalar head's last bias) gets zero.
    grads = torch.autograd.grad(loss, parameters, allow_unused=True)
    save(directory, "energy", energy.reshape(-1, 1))
    save(directory, "grad_x", grad_x)
    save(directory, "loss", loss.reshape(1, 1))
    for name, p, g in zip(names, parameters, grads):
        g = torch.zeros_like(p) if g is None else g
        rows = load(directory, f"param.{name}").shape
        save(directory, f"grad.{name}", g.reshape(rows))


def model_file_case(directory):
    model = ebm_torch.load(str(directory / "model.safetensors"))
    x = load(directory, "x", model.dtype)
    with torch.no_grad():
        energy = model(x, load(directory, "sigma", model.dtype)) if model.conditional else model(x)
    save(directory, "load_energy", energy.reshape(-1, 1))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    for directory in sorted(p for p in pathlib.Path(sys.argv[1]).iterdir() if p.is_dir()):
        try:
            if (directory / "model.safetensors").exists():
                model_file_case(directory)
            else:
                network_case(directory)
        except Exception as error:  # name the case, keep going: the C++ test reports each
            print(f"{directory.name}: {type(error).__name__}: {error}", file=sys.stderr)
            (directory / "python_error.txt").write_text(f"{type(error).__name__}: {error}\n")


if __name__ == "__main__":
    main()
