"""Installing genlab: the wheel holds every module and the native kernel's C source and works on a machine
without a C compiler; dev.sh's tested torch is the one pyproject.toml asks for; CI runs the README's command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import torch
from packaging.requirements import Requirement

from genlab.models.rbm import RBM
from genlab.training.rbm import RBMConfig, fit

ROOT = Path(__file__).resolve().parents[1]

# Run by the wheel's genlab with no compiler anywhere: what becomes of the native kernel, then epochs of CD-1 on
# rows of pixels (by default, with no fast path to take: the plain loop), whose weights are printed.
WITHOUT_A_COMPILER = """if True:
    import warnings
    import torch
    import genlab
    from genlab.accel import native
    from genlab.training.rbm import RBMConfig, fit
    from genlab.models.rbm import RBM
    print(genlab.__file__)
    print(native.SOURCE.is_file())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        print(native.library())
    print(*[str(w.message) for w in caught], sep="\\n")
    x = torch.rand(300, 784, generator=torch.Generator().manual_seed(0))
    rbm = RBM(784, 8, generator=torch.Generator().manual_seed(1))
    fit(rbm, x, RBMConfig(hidden=8, epochs=2), torch.Generator().manual_seed(2), progress=False)
    print(rbm.W.numpy().tobytes().hex())
"""


def test_the_wheel_holds_every_module_and_the_c_source_and_trains_without_a_compiler(tmp_path):
    source = tmp_path / "source"  # the files a clean checkout builds from, so that the tree here stays clean
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("genlab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {path.relative_to(ROOT / "src").as_posix() for path in (ROOT / "src" / "genlab").rglob("*.py")}
    assert modules <= names and "genlab/accel/cd_epoch.c" in names

    installed = tmp_path / "installed"
    zipfile.ZipFile(wheel).extractall(installed)  # what pip puts into site-packages
    (tmp_path / "empty").mkdir()
    env = {"PATH": str(tmp_path / "empty"), "CC": str(tmp_path / "no-such-cc"), "PYTHONPATH": str(installed),
           "HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", WITHOUT_A_COMPILER], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    where, has_source, library, note, weights = done.stdout.splitlines()
    assert Path(where).is_relative_to(installed) and has_source == "True" and library == "None"
    assert note == f"genlab: $CC ({tmp_path / 'no-such-cc'}) is not a program, so no native CPU kernel; using the PyTorch path"

    x = torch.rand(300, 784, generator=torch.Generator().manual_seed(0))  # the same epochs here, on the plain loop
    rbm = RBM(784, 8, generator=torch.Generator().manual_seed(1))
    fit(rbm, x, RBMConfig(hidden=8, epochs=2, compile=False), torch.Generator().manual_seed(2), progress=False)
    assert weights == rbm.W.numpy().tobytes().hex()


def test_dev_sh_installs_a_torch_that_pyproject_accepts_and_the_readme_names_both():
    pinned = re.search(r'GENLAB_TORCH:-torch==([0-9.]+)', (ROOT / "dev.sh").read_text())[1]
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (torch,) = [Requirement(d) for d in dependencies if Requirement(d).name == "torch"]
    assert pinned in torch.specifier  # the torch the tests run on is one genlab accepts
    readme = (ROOT / "README.md").read_text()
    assert f"`torch=={pinned}`" in readme and f"`torch{torch.specifier}`" in readme


def test_ci_runs_the_readmes_test_command_as_the_readme_writes_it():
    command = re.search(r"^(GENLAB_DATA_DIR=\S+ \./dev\.sh test)\b", (ROOT / "README.md").read_text(), re.MULTILINE)[1]
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()
