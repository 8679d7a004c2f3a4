"""genlab.files: tensors only, under their names; writes whole or not at all, with the umask's mode."""

from __future__ import annotations

import errno
import json
import stat

import pytest
import torch
from helpers import umask

from genlab import files
from genlab.errors import GenlabError


def test_model_file_holds_tensors_only_under_their_names(tmp_path):
    path = files.save_tensors(tmp_path / "m.safetensors", {"W": torch.ones(2, 2)})
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    header = json.loads(path.read_bytes()[8 : 8 + header_len])
    assert set(header) - {"__metadata__"} == {"W"}


def test_missing_or_misshapen_tensor_is_named(tmp_path):
    path = files.save_tensors(tmp_path / "m.safetensors", {"W": torch.ones(2, 2)})
    with pytest.raises(GenlabError, match="tensor 'h_bias' is missing"):
        files.load_tensors(path, {"W": (2, 2), "h_bias": (2,)})
    with pytest.raises(GenlabError, match="tensor 'W' has shape \\[2, 2\\], expected \\[3, 2\\]"):
        files.load_tensors(path, {"W": (3, 2)})


def test_a_garbage_model_file_is_a_clear_error(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"\x80\x04pickle?")
    with pytest.raises(GenlabError, match="not a valid safetensors file"):
        files.load_tensors(path)


def test_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = files.write_json(tmp_path / "x.json", {"a": 1})

    def broken(tmp):
        tmp.write_text('{"a": 2, "trunc')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(target, broken)
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_a_model_file_with_nan_or_inf_is_refused_in_one_line(tmp_path):
    for bad in (float("nan"), float("inf")):
        path = files.save_tensors(tmp_path / "m.safetensors", {"W": torch.tensor([[1.0, bad]]), "n": torch.tensor([3])})
        with pytest.raises(GenlabError, match="tensor 'W' holds NaN or infinite values") as info:
            files.load_tensors(path)
        assert "\n" not in str(info.value)
    ok = files.save_tensors(tmp_path / "ok.safetensors", {"W": torch.ones(2), "n": torch.tensor([3])})
    assert set(files.load_tensors(ok)) == {"W", "n"}


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600)], ids=["umask-022", "umask-077"])
def test_written_files_get_the_mode_of_the_umask(tmp_path, mask, mode):
    with umask(mask):
        written = [
            files.write_json(tmp_path / "a.json", {"a": 1}),
            files.save_tensors(tmp_path / "m.safetensors", {"W": torch.ones(2)}),
            files.atomic_write(tmp_path / "f.png", lambda tmp: tmp.write_bytes(b"png")),  # opened by name, like savefig
            files.write_json(tmp_path / "a.json", {"a": 2}),  # replacing a file
        ]
    assert [oct(stat.S_IMODE(p.stat().st_mode)) for p in written] == [oct(mode)] * 4


def test_a_failed_write_names_the_file_not_its_temporary(tmp_path):
    target = tmp_path / "x.json"
    target.mkdir()
    with pytest.raises(IsADirectoryError) as info:
        files.write_json(target, {"a": 1})
    assert info.value.filename == str(target) and info.value.filename2 is None
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_a_full_disk_names_the_file_being_written(tmp_path):
    def full(tmp):
        raise OSError(errno.ENOSPC, "No space left on device")  # as a file object's write raises it: no file name

    with pytest.raises(OSError) as info:
        files.atomic_write(tmp_path / "x.json", full)
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(tmp_path / "x.json"))
    assert list(tmp_path.iterdir()) == []
