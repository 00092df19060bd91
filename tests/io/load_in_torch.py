#!/usr/bin/env python3
"""PyTorch oracle for tests/io/test_torch_load.cpp: ebm model files load into torch as they are.

Usage: load_in_torch.py MODEL POINTS ENERGIES [MODEL POINTS ENERGIES ...]

MODEL    an ebm model file (safetensors), written by ebm::io::save_model
POINTS   a safetensors file with "x" [N, D] (the model's dtype) and check tensors
         "check_i64" (I64), "check_u64" (U64), "check_u8" (U8) holding known values
ENERGIES a safetensors file with "energy" [N]: ebm's E(x)

Only the standard library and torch are used (the `safetensors` package is not needed): the
file layout is checked as the reference implementation would (header padded to 8 bytes, tensors
tiling the data section), the network is rebuilt by python/ebm_torch.py's build_module from the metadata and
loaded with load_state_dict(strict=True), and its energies are compared with ebm's:
max |ebm - torch| / max |torch| below 1e-12 for float64 files (the same arithmetic, rounded
differently), 1e-5 for float32 files evaluated in float32 (~1e-7 per operation, a few dozen
operations deep). One line per model; exit status 1 if any fails, 2 if torch cannot be imported.
"""
import json
import pathlib
import struct
import sys

try:
    import torch
except ImportError as error:
    print(f"load_in_torch.py: cannot import {error.name}: install python3-torch", file=sys.stderr)
    sys.exit(2)


# The raw network through the shipped loader's module builder (python/ebm_torch.py), its tensors
# loaded with load_state_dict(strict=True) exactly as the file holds them.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))
import ebm_torch  # noqa: E402


def load_ebm_model(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    info = json.loads(header.pop("__metadata__")["ebm"])
    dtypes = {"F32": torch.float32, "F64": torch.float64}
    state = {name: torch.frombuffer(bytearray(raw[8 + n + t["data_offsets"][0]:8 + n + t["data_offsets"][1]]),
                                    dtype=dtypes[t["dtype"]]).reshape(t["shape"]) for name, t in header.items()}
    model = ebm_torch.build_module(info["architecture"]).to(state["0.weight"].dtype)
    model.load_state_dict(state, strict=True)
    return model, info


DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "U8": torch.uint8}
SIZES = {"F32": 4, "F64": 8, "I64": 8, "U64": 8, "U8": 1}


class FormatProblem(Exception):
    pass


def read_checked(path):
    """All tensors of a safetensors file, after the reference implementation's checks."""
    raw = open(path, "rb").read()
    if len(raw) < 8:
        raise FormatProblem(f"{path}: shorter than 8 bytes")
    n = struct.unpack("<Q", raw[:8])[0]
    if n % 8 != 0 or 8 + n > len(raw):
        raise FormatProblem(f"{path}: header length {n} not a multiple of 8 or beyond the file")
    text = raw[8:8 + n].decode("utf-8")
    if not text.startswith("{") or text.rstrip(" ") != text.rstrip():
        raise FormatProblem(f"{path}: header must start with '{{' and be padded with spaces")
    header = json.loads(text)
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(v, str) for v in metadata.values()):
        raise FormatProblem(f"{path}: metadata values must be strings")
    data = raw[8 + n:]
    covered = 0
    tensors = {}
    for name, t in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        begin, end = t["data_offsets"]
        count = 1
        for d in t["shape"]:
            count *= d
        if begin != covered or end - begin != count * SIZES[t["dtype"]] or begin % SIZES[t["dtype"]] != 0:
            raise FormatProblem(f"{path}: tensor {name} at [{begin}, {end}] breaks the layout")
        covered = end
        chunk = data[begin:end]
        if t["dtype"] == "U64":  # torch 1.13 has no uint64
            tensors[name] = list(struct.unpack(f"<{count}Q", chunk))
        else:
            tensors[name] = torch.frombuffer(bytearray(chunk), dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    if covered != len(data):
        raise FormatProblem(f"{path}: {len(data) - covered} bytes after the last tensor")
    return tensors, metadata


def check(model_path, points_path, energies_path):
    model_tensors, metadata = read_checked(model_path)
    if metadata.get("format") != "ebm-model":
        raise FormatProblem(f"{model_path}: metadata format is {metadata.get('format')!r}")
    model, info = load_ebm_model(model_path)
    if info["format_version"] != 2:
        raise FormatProblem(f"{model_path}: format_version {info['format_version']}")
    for name, value in model.state_dict().items():
        if not torch.equal(value, model_tensors[name]):
            raise FormatProblem(f"{model_path}: {name} differs after load_state_dict")

    points, _ = read_checked(points_path)
    if points["check_i64"].tolist() != [-3, 2**40, -2**63, 2**63 - 1]:
        raise FormatProblem(f"{points_path}: check_i64 is {points['check_i64'].tolist()}")
    if points["check_u64"] != [0, 7, 2**64 - 1]:
        raise FormatProblem(f"{points_path}: check_u64 is {points['check_u64']}")
    if points["check_u8"].tolist() != [[0, 1, 255]]:
        raise FormatProblem(f"{points_path}: check_u8 is {points['check_u8'].tolist()}")
    x = points["x"]
    ebm_energy = read_checked(energies_path)[0]["energy"]
    dtype = model_tensors["0.weight"].dtype
    if x.dtype != dtype or ebm_energy.dtype != dtype:
        raise FormatProblem(f"{points_path}: dtypes {x.dtype}, {ebm_energy.dtype}, model {dtype}")
    with torch.no_grad():
        torch_energy = model(x).reshape(-1)
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    diff = (ebm_energy.double() - torch_energy.double()).abs().max().item()
    rel = diff / max(torch_energy.double().abs().max().item(), 1e-300)
    ok = rel < tolerance
    print(f"{'ok  ' if ok else 'FAIL'} {model_path.rsplit('/', 1)[-1]:28s} {str(dtype):13s} "
          f"max|ebm - torch| / max|torch| = {rel:.3g} "
          f"(tolerance {tolerance:g})")
    return ok


def main(argv):
    if len(argv) < 3 or len(argv) % 3 != 0:
        print(__doc__, file=sys.stderr)
        return 2
    all_ok = True
    for k in range(0, len(argv), 3):
        try:
            all_ok = check(*argv[k:k + 3]) and all_ok
        except (FormatProblem, KeyError, ValueError, RuntimeError) as problem:
            print(f"FAIL {argv[k]}: {type(problem).__name__}: {problem}")
            all_ok = False
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
