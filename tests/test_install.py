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

from packaging.requirements import Requirement

import genlab

ROOT = Path(__file__).resolve().parents[1]

# Run by the wheel's genlab with no compiler anywhere: it names the native kernel's fate, then trains an RBM.
WITHOUT_A_COMPILER = """if True:
    import sys, warnings
    import genlab
    from genlab.accel import native
    print(genlab.__file__)
    print(native.SOURCE.is_file())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        print(native.library())
    print(*[str(w.message) for w in caught], sep="\\n")
    genlab.train("rbm", sys.argv[1], dataset=sys.argv[2], hidden=8, epochs=1, device="cpu", progress=False)
"""


def test_the_wheel_holds_every_module_and_the_c_source_and_trains_without_a_compiler(tmp_path, tiny_dataset):
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
    done = subprocess.run([sys.executable, "-c", WITHOUT_A_COMPILER, str(tmp_path / "wheel-run"), str(tiny_dataset)],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    where, has_source, library, note = done.stdout.splitlines()
    assert Path(where).is_relative_to(installed) and has_source == "True" and library == "None"
    assert note == f"genlab: $CC ({tmp_path / 'no-such-cc'}) is not a program, so no native CPU kernel; using the PyTorch path"

    here = genlab.train("rbm", tmp_path / "here", dataset=tiny_dataset, hidden=8, epochs=1, device="cpu", progress=False)
    assert (tmp_path / "wheel-run" / "model.safetensors").read_bytes() == (here.path / "model.safetensors").read_bytes()


def test_dev_sh_installs_the_torch_that_pyproject_asks_for_at_least():
    pinned = re.search(r'GENLAB_TORCH:-torch==([0-9.]+)', (ROOT / "dev.sh").read_text())[1]
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (torch,) = [Requirement(d) for d in dependencies if Requirement(d).name == "torch"]
    assert str(torch.specifier) == f">={pinned}"  # the lowest torch genlab asks for is the one its tests ran on
    assert f"`torch>={pinned}`" in (ROOT / "README.md").read_text()


def test_ci_runs_the_readmes_test_command_as_the_readme_writes_it():
    command = re.search(r"^(GENLAB_DATA_DIR=\S+ \./dev\.sh test)\b", (ROOT / "README.md").read_text(), re.MULTILINE)[1]
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()
