"""ebm networks and model files in PyTorch.

An ebm network (docs/networks.md) rebuilt as a ``torch.nn.Module`` that computes the same energy:
the same layers, the same channels-last input rows, and a ``state_dict`` whose keys are ebm's
parameter names ("0.weight", "3.body.1.bias", "embed.weight", ...) with ebm's file shapes
(biases and group-norm parameters 1-D [n], weights 2-D [rows, cols]; a conv weight is
out x (kh kw C), column (ky kw + kx) C + c), so the tensors of an ebm model file load with
``module.load_state_dict`` as they are. Only numpy and torch are needed.

Usage::

    import torch, ebm_torch

    model = ebm_torch.load("model.safetensors")      # an ebm model file, version 1 or 2
    x = torch.randn(16, model.dim, dtype=model.dtype, requires_grad=True)  # raw data, a sample per row
    energy = model(x)                                  # [16]; model(x, sigma) if conditional
    score = -torch.autograd.grad(energy.sum(), x)[0]   # [16, D]

    net = ebm_torch.build_module({"input": [28, 28, 1], "layers": [...]}, dtype=torch.float64)
    net(x_std, sigma)                                  # the bare network: E(x | sigma), [N]

``build_module(description)`` is the network alone (inputs already standardised, no energy
scale); ``load(path)`` wraps it with the file's standardisation and energy scale:
``E_raw(x) = energy_scale * E((x - mean) / scale | sigma)``, sigma in the standardised units the
model was trained on. Inputs are [N, D] rows; images are stored channels last (pixel (y, x),
channel c at column (y W + x) C + c) and converted to N x C x H x W internally for torch's
convolutions. Energies are returned with shape [N].
"""
import json
import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["build_module", "load", "EbmNetwork", "EbmModel", "canonical_architecture"]

_ACTIVATIONS = ("softplus", "silu", "tanh", "gelu", "elu", "relu", "sigmoid")


class _Error(ValueError):
    pass


def _fail(path, message):
    raise _Error(f"architecture: {path + ': ' if path else ''}{message}")


def _integer(spec, key, path, default=None, minimum=1):
    if key not in spec:
        if default is None:
            _fail(path, f"missing field '{key}'")
        return default
    v = spec[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != math.floor(v) or v < minimum:
        _fail(path, f"'{key}' must be an integer >= {minimum}, got {json.dumps(v)}")
    return int(v)


def _only(spec, allowed, path):
    for key in spec:
        if key != "type" and key not in allowed:
            _fail(path, f"unknown field '{key}'")


def canonical_architecture(architecture):
    """The description as a dict with the MLP sugar expanded:
    {"type": "mlp", "widths": [D, H, ..., 1], "activation": a} -> {"input": D, "layers": [...]}."""
    arch = json.loads(architecture) if isinstance(architecture, (str, bytes)) else dict(architecture)
    if "type" in arch:
        if arch["type"] != "mlp":
            _fail("", f"'type' at the top level must be \"mlp\" (or absent), got {json.dumps(arch['type'])}")
        _only(arch, ("widths", "activation"), "")
        widths, act = arch["widths"], arch.get("activation", "softplus")
        if len(widths) < 2 or widths[-1] != 1:
            _fail("", f"'widths' must be [D, ..., 1], got {json.dumps(widths)}")
        layers = []
        for i, w in enumerate(widths[1:]):
            if i > 0:
                layers.append({"type": act})
            layers.append({"type": "linear", "out": w})
        arch = {"input": widths[0], "layers": layers}
    return arch


# --- layers: each maps N x C x H x W to N x C' x H' x W' (a flat vector is N x D x 1 x 1) --------

def _channels_last(h):
    """N x C x H x W -> N x (H W C), ebm's row layout."""
    return h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)


def _file_shape(rows, cols):
    """ebm's file shape of a rows x cols weight (ParameterSpec::file_shape): always 2-D, a
    one-output layer's [1, in] as torch.nn.Linear's (biases and norm parameters are 1-D)."""
    return (rows, cols)


class _Linear(torch.nn.Module):
    def __init__(self, fan_in, out):
        super().__init__()
        self.out, self.fan_in = out, fan_in
        self.weight = torch.nn.Parameter(torch.empty(_file_shape(out, fan_in)))
        self.bias = torch.nn.Parameter(torch.empty(out))
        _init_uniform(self, fan_in)

    def matrix(self):
        return self.weight.reshape(self.out, self.fan_in)

    def forward(self, h, e=None):  # any input, flattened channels last
        return F.linear(_channels_last(h), self.matrix(), self.bias)[:, :, None, None]


class _Conv2d(torch.nn.Module):
    """torch's conv2d, with the weight held as ebm's out x (kh kw C) matrix."""

    def __init__(self, channels, out, kernel, stride, padding, dilation):
        super().__init__()
        self.channels, self.out, self.kernel = channels, out, kernel
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = torch.nn.Parameter(torch.empty(_file_shape(out, kernel * kernel * channels)))
        self.bias = torch.nn.Parameter(torch.empty(out))
        _init_uniform(self, kernel * kernel * channels)

    def forward(self, h, e=None):
        w = self.weight.reshape(self.out, self.kernel, self.kernel, self.channels).permute(0, 3, 1, 2)
        return F.conv2d(h, w, self.bias, stride=self.stride, padding=self.padding, dilation=self.dilation)


class _Film(torch.nn.Module):
    """h (1 + gamma) + beta per channel, [gamma beta] = e W^T + b."""

    def __init__(self, channels, embedding_width):
        super().__init__()
        self.channels = channels
        self.weight = torch.nn.Parameter(torch.empty(2 * channels, embedding_width))
        self.bias = torch.nn.Parameter(torch.empty(2 * channels))
        _init_uniform(self, embedding_width)

    def forward(self, h, e):
        film = F.linear(e, self.weight, self.bias)
        gamma, beta = film[:, :self.channels], film[:, self.channels:]
        return h * (1 + gamma)[:, :, None, None] + beta[:, :, None, None]


class _GroupNorm(torch.nn.GroupNorm):
    def forward(self, h, e=None):
        return super().forward(h)


class _Stateless(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, h, e=None):
        return self.fn(h)


class _Flatten(torch.nn.Module):
    def forward(self, h, e=None):
        return _channels_last(h)[:, :, None, None]


def _softplus(h):
    # log(1 + e^x) without torch.nn.Softplus's threshold (ebm has none), stable in both tails and
    # twice differentiable everywhere (logaddexp's second derivative is NaN far in the left tail).
    return torch.relu(h) + torch.log1p(torch.exp(-torch.abs(h)))


class _Residual(torch.nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = torch.nn.ModuleList(body)

    def forward(self, h, e=None):
        y = h
        for layer in self.body:
            y = layer(y, e)
        return h + y


def _init_uniform(module, fan_in):
    bound = 1 / math.sqrt(fan_in)
    with torch.no_grad():
        module.weight.uniform_(-bound, bound)
        module.bias.uniform_(-bound, bound)


def _activation(name, alpha, path):
    if name == "softplus":
        return _softplus
    if name == "silu":
        return F.silu
    if name == "tanh":
        return torch.tanh
    if name == "gelu":
        return F.gelu  # the exact (erf) form, as ebm
    if name == "elu":
        return lambda h: F.elu(h, alpha=alpha)
    if name == "relu":
        return F.relu
    if name == "sigmoid":
        return torch.sigmoid
    _fail(path, f"unknown activation '{name}' (expected {', '.join(_ACTIVATIONS)})")


def _build_sequence(specs, shape, embedding_width, path):
    """Modules for a list of layer descriptions at `path` ("layers", "layers[2].body"); shape is
    (H, W, C). Returns (modules, output shape). Errors are ValueError naming the layer's path."""
    modules = []
    for i, spec in enumerate(specs):
        where = f"{path}[{i}]"  # as ebm's messages: layers[3].body[1]
        if not isinstance(spec, dict) or "type" not in spec:
            _fail(where, "a layer must be an object with a 'type'")
        kind = spec["type"]
        height, width, channels = shape
        if kind == "linear":
            _only(spec, ("out",), where)
            out = _integer(spec, "out", where)
            module, shape = _Linear(height * width * channels, out), (1, 1, out)
        elif kind == "conv2d":
            _only(spec, ("out", "kernel", "stride", "padding", "dilation"), where)
            out, k = _integer(spec, "out", where), _integer(spec, "kernel", where)
            s = _integer(spec, "stride", where, 1)
            p = _integer(spec, "padding", where, 0, minimum=0)
            d = _integer(spec, "dilation", where, 1)
            span = d * (k - 1) + 1
            if span > height + 2 * p or span > width + 2 * p:
                _fail(where, f"the kernel does not fit the padded image ({height}x{width}x{channels})")
            module = _Conv2d(channels, out, k, s, p, d)
            shape = ((height + 2 * p - span) // s + 1, (width + 2 * p - span) // s + 1, out)
        elif kind == "avg_pool":
            _only(spec, ("kernel",), where)
            k = _integer(spec, "kernel", where, 2)
            if height % k or width % k:
                _fail(where, f"kernel {k} does not divide the input {height}x{width}x{channels}")
            module, shape = _Stateless(torch.nn.AvgPool2d(k)), (height // k, width // k, channels)
        elif kind == "upsample":
            _only(spec, ("factor",), where)
            f = _integer(spec, "factor", where, 2)
            module = _Stateless(torch.nn.Upsample(scale_factor=f, mode="nearest"))
            shape = (height * f, width * f, channels)
        elif kind == "group_norm":
            _only(spec, ("groups", "eps"), where)
            groups = _integer(spec, "groups", where)
            if channels % groups:
                _fail(where, f"groups {groups} does not divide the {channels} channels")
            module = _GroupNorm(groups, channels, eps=float(spec.get("eps", 1e-5)))
        elif kind == "film":
            _only(spec, (), where)
            if not embedding_width:
                _fail(where, "film needs the network's \"condition\" (a noise embedding)")
            module = _Film(channels, embedding_width)
        elif kind == "residual":
            _only(spec, ("body",), where)
            body, out_shape = _build_sequence(spec["body"], shape, embedding_width, f"{where}.body")
            if tuple(out_shape) != tuple(shape):
                _fail(where, f"the body changes the shape {shape} to {out_shape}")
            module = _Residual(body)
        elif kind == "flatten":
            _only(spec, (), where)
            module, shape = _Flatten(), (1, 1, height * width * channels)
        elif kind in _ACTIVATIONS:
            _only(spec, ("alpha",), where)
            if kind != "elu" and "alpha" in spec:
                _fail(where, "only elu takes \"alpha\"")
            module = _Stateless(_activation(kind, float(spec.get("alpha", 1.0)), where))
        else:
            _fail(where, f"layer type '{kind}' is unknown")
        modules.append(module)
    return modules, shape


class EbmNetwork(torch.nn.Module):
    """An ebm network: forward(x) or, with a "condition", forward(x, sigma) -> energies [N].

    x is [N, D] (images channels last); sigma is [N] or [N, 1], > 0. Children are named as ebm's
    parameters: "0", "1", ... for the layers (as torch.nn.Sequential) and "embed" for the
    conditioning embedding.
    """

    def __init__(self, architecture):
        super().__init__()
        arch = canonical_architecture(architecture)
        _only(arch, ("input", "layers", "condition", "energy", "sigma_power"), "")
        self.architecture = arch
        shape = arch.get("input")
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = [1, 1, shape]
        if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) and v >= 1 for v in shape)):
            _fail("", f"'input' must be the dimension D or [height, width, channels], got {json.dumps(arch.get('input'))}")
        self.input_shape = tuple(shape)
        self.dim = shape[0] * shape[1] * shape[2]
        self.conditional = "condition" in arch
        embedding_width = 0
        if self.conditional:
            c = arch["condition"]
            _only(c, ("fourier_features", "max_frequency", "width", "activation"), "condition")
            features = _integer(c, "fourier_features", "condition", 16, minimum=2)
            if features % 2:
                _fail("condition", f"'fourier_features' must be even, got {features}")
            max_frequency = float(c.get("max_frequency", 8.0))
            embedding_width = _integer(c, "width", "condition", 64)
            half = features // 2
            frequencies = [1.0 if half == 1 else max_frequency ** (k / (half - 1)) for k in range(half)]
            self.register_buffer("frequencies", torch.tensor(frequencies, dtype=torch.float64), persistent=False)
            self.embed = _Linear(features, embedding_width)
            self.embed_fn = _activation(c.get("activation", "silu"), 1.0, "condition")
        self.quadratic = arch.get("energy", "scalar") == "quadratic"
        if arch.get("energy", "scalar") not in ("scalar", "quadratic"):
            _fail("", f"'energy' must be \"scalar\" or \"quadratic\", got {json.dumps(arch['energy'])}")
        self.sigma_power = _integer(arch, "sigma_power", "", 0, minimum=0)
        if self.sigma_power > 2 or (self.sigma_power and not self.conditional):
            _fail("", "'sigma_power' must be 0, 1 or 2, and needs a \"condition\"")
        layers, out = _build_sequence(arch["layers"], self.input_shape, embedding_width, "layers")
        for i, layer in enumerate(layers):
            self.add_module(str(i), layer)
        self.layers = len(layers)
        size = out[0] * out[1] * out[2]
        if not self.quadratic and size != 1:
            _fail("", f"the last layer gives {size} numbers per sample; a scalar energy needs 1")
        if self.quadratic and tuple(out) != self.input_shape:
            _fail("", f"the last layer gives {out}; the quadratic energy needs the input's {self.input_shape}")

    def forward(self, x, sigma=None):
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x has shape {list(x.shape)}, expected [N, {self.dim}]")
        n = x.shape[0]
        e = None
        if self.conditional:
            if sigma is None:
                raise ValueError("the network is noise-conditional: call it as forward(x, sigma)")
            sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
            if sigma.dim() == 0:
                sigma = sigma.expand(n)
            sigma = sigma.reshape(-1)
            if sigma.shape[0] != n:
                raise ValueError(f"sigma has {sigma.shape[0]} entries, expected N = {n} ([N] or [N, 1])")
            # The Fourier features in float64 whatever the dtype, as ebm computes them.
            u = torch.log(sigma.to(torch.float64))[:, None] * self.frequencies[None, :]
            features = torch.cat([torch.sin(u), torch.cos(u)], dim=1).to(x.dtype)
            e = self.embed_fn(F.linear(features, self.embed.matrix(), self.embed.bias))
        elif sigma is not None:
            raise ValueError("the network is not noise-conditional, but sigma was given")
        height, width, channels = self.input_shape
        h = x.reshape(n, height, width, channels).permute(0, 3, 1, 2)
        for i in range(self.layers):
            h = getattr(self, str(i))(h, e)
        if self.quadratic:
            energy = 0.5 * ((x - _channels_last(h)) ** 2).sum(dim=1)
        else:
            energy = h.reshape(n)
        if self.sigma_power:
            energy = energy / sigma ** self.sigma_power
        return energy


def build_module(architecture, dtype=None):
    """The network of an ebm description (a dict or JSON text, docs/networks.md) as an
    EbmNetwork, parameters initialised as torch.nn.Linear (to be overwritten by load_state_dict).
    dtype: torch's default dtype if None."""
    module = EbmNetwork(architecture)
    return module.to(dtype) if dtype is not None else module


class EbmModel(torch.nn.Module):
    """A loaded model file: forward(x_raw[, sigma]) = energy_scale * network((x_raw - mean) / scale[, sigma]).

    Attributes: network (EbmNetwork), energy_scale, noise_levels (list, largest first; empty when
    absent), objective, step, extra, dim, dtype; mean and scale are buffers (None without
    standardisation)."""

    def __init__(self, network, mean, scale, energy_scale, info):
        super().__init__()
        self.network = network
        dtype = next(iter(network.state_dict().values())).dtype
        self.dtype = dtype
        self.register_buffer("mean", None if mean is None else torch.tensor(mean, dtype=dtype))
        self.register_buffer("scale", None if scale is None else torch.tensor(scale, dtype=dtype))
        self.energy_scale = float(energy_scale)
        self.noise_levels = list(info.get("noise_levels", []))
        self.objective = info.get("objective", "")
        self.step = info.get("step", 0)
        self.extra = dict(info.get("extra", {}))
        self.dim = network.dim
        self.conditional = network.conditional

    def forward(self, x, sigma=None):
        if self.mean is not None:
            x = (x - self.mean) / self.scale
        energy = self.network(x, sigma)
        return energy * self.energy_scale if self.energy_scale != 1 else energy


_DTYPES = {"F32": ("<f4", torch.float32), "F64": ("<f8", torch.float64)}


def read_tensors(path):
    """(tensors: {name: numpy array}, metadata: {str: str}) of a safetensors file, F32/F64 only."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a safetensors file (shorter than 8 bytes)")
    n = int.from_bytes(raw[:8], "little")
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} beyond the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        if t["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor '{name}' has dtype {t['dtype']}, expected F32 or F64")
        numpy_dtype = np.dtype(_DTYPES[t["dtype"]][0])
        begin, end = t["data_offsets"]
        count = int(np.prod(t["shape"], dtype=np.int64))
        if end - begin != count * numpy_dtype.itemsize or 8 + n + end > len(raw):
            raise ValueError(f"{path}: tensor '{name}' has offsets {t['data_offsets']} for shape {t['shape']}")
        tensors[name] = np.frombuffer(raw, dtype=numpy_dtype, count=count, offset=8 + n + begin).reshape(t["shape"])
    return tensors, metadata


def _one_row_either_way(a, b):
    """True for shapes [n] and [1, n] (in either order)."""
    a, b = tuple(a), tuple(b)
    return len(a) + len(b) == 3 and {a, b} == {(a[-1],), (1, a[-1])}


def load(path):
    """The model in an ebm model file (version 1 or 2) as an EbmModel, in the file's precision
    (float32 for F32 tensors, float64 for F64)."""
    tensors, metadata = read_tensors(path)
    if metadata.get("format") != "ebm-model" or "ebm" not in metadata:
        raise ValueError(f"{path}: not an ebm model file (no \"format\": \"ebm-model\" metadata)")
    info = json.loads(metadata["ebm"])
    version = info.get("format_version")
    if version == 1:  # {"widths": [...], "activation": ...}: an MLP; a ladder's temperature t in extra
        architecture = {"type": "mlp", **info["architecture"]}
        temperature = info.get("extra", {}).get("temperature")
        energy_scale = 1.0 / float(temperature) if temperature is not None else 1.0
    elif version == 2:
        architecture = info["architecture"]
        energy_scale = info.get("energy_scale", 1.0)
    else:
        raise ValueError(f"{path}: unsupported format_version {version!r} (this reads 1 and 2)")
    dtype = torch.float64 if any(a.dtype == np.float64 for a in tensors.values()) else torch.float32
    network = build_module(architecture, dtype=dtype)
    expected = network.state_dict()
    state = {}
    for name, a in tensors.items():
        t = torch.from_numpy(a.astype(a.dtype.newbyteorder("="))).to(dtype)
        # Older files kept a one-output layer's weight as [1, n], newer ones as [n]: the same numbers.
        if name in expected and _one_row_either_way(t.shape, expected[name].shape):
            t = t.reshape(expected[name].shape)
        state[name] = t
    network.load_state_dict(state, strict=True)
    stdz = info.get("standardization")
    mean = stdz["mean"] if stdz else None
    scale = stdz["scale"] if stdz else None
    return EbmModel(network, mean, scale, energy_scale, info).eval()
