"""pip install . : builds the `ebm` Python module with CMake (Debian's cmake, ninja, pybind11-dev,
python3-dev; scripts/setup.sh installs them) and installs it with its pure-Python files. No
download and no build isolation: there is no pyproject.toml, so pip runs this file with the
setuptools already installed. In a virtual environment made with --system-site-packages (for
NumPy), or `pip install --break-system-packages .` for the system's python3."""
import os
import pathlib
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = pathlib.Path(self.build_temp).resolve() / "cmake"
        build.mkdir(parents=True, exist_ok=True)
        native = os.environ.get("EBM_NATIVE", "OFF")  # a portable module unless asked
        subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                               "-DEBM_BUILD_TESTS=OFF", "-DEBM_BUILD_BENCHMARKS=OFF", "-DEBM_BUILD_CLI=OFF",
                               "-DEBM_BUILD_PYTHON=ON", f"-DEBM_NATIVE={native}", f"-DPython_EXECUTABLE={sys.executable}"])
        subprocess.check_call(["cmake", "--build", str(build), "--target", "ebm_python"])
        built = next((build / "python" / "ebm").glob("_ebm*.so"))
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)
        shutil.copyfile(build / "python" / "ebm" / "_torch_bridge.py", target.parent / "_torch_bridge.py")


setup(
    name="ebm",
    version="0.1.0",
    description="Energy-based generative models in C++20, from Python",
    packages=["ebm"],
    package_dir={"": "python"},
    ext_modules=[Extension("ebm._ebm", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=[],
    python_requires=">=3.9",
    zip_safe=False,
)
