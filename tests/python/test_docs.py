"""docs/python.md's walk-through runs as written (in a scratch folder)."""
import pathlib
import re
import subprocess
import sys

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "python.md"


def test_walk_through_runs_as_written(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert blocks, "docs/python.md has no python block"
    script = tmp_path / "walk.py"
    script.write_text(blocks[0])
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "moons.safetensors").exists()
    nll = float(re.search(r"held-out NLL (\S+)", r.stdout).group(1))
    assert 2.0 < nll < 4.0, r.stdout  # two moons: ~2.5-3 nats for a good model
