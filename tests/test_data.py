"""genlab.data: IDX parsing and validation, data set lookup, download, splits and batches."""

from __future__ import annotations

import gzip
import math
import shutil
import stat
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import umask, write_dataset, write_idx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genlab import data
from genlab.errors import ConfigError, GenlabError

MNIST_TRAIN_PER_CLASS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_PER_CLASS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ----------------------------------------------------------------------------- IDX files


@pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
def test_read_idx_round_trips_raw_and_gzip(tmp_path, name):
    array = torch.randint(0, 256, (7, 5, 3), dtype=torch.uint8)
    got = data.read_idx(write_idx(tmp_path / name, array))
    assert got.dtype == torch.uint8 and torch.equal(got, array)


def idx_bytes(array: torch.Tensor, dtype: int = 0x08) -> bytes:
    header = bytes([0, 0, dtype, array.dim()]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.numpy().tobytes()


GOOD = idx_bytes(torch.zeros(4, 3, 3, dtype=torch.uint8))


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty-idx3-ubyte", b"", "empty file"),
        ("trunc-idx3-ubyte", GOOD[:-5], "truncated"),
        ("trailing-idx3-ubyte", GOOD + b"xx", "trailing bytes"),
        ("magic-idx3-ubyte", b"\x12\x34" + GOOD[2:], "bad magic number"),
        ("type-idx3-ubyte", idx_bytes(torch.zeros(4, 3, 3, dtype=torch.uint8))[:2] + b"\x0d" + GOOD[3:], "element type 0x0D"),
        ("garbage.gz", b"this is not gzip at all", "not gzip data"),
        ("corrupt.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 40, "corrupt gzip"),
        ("truncgz.gz", gzip.compress(GOOD, mtime=0)[:-12], "truncated gzip"),
        ("header-idx3-ubyte", GOOD[:9], "truncated header"),
    ],
)
def test_read_idx_rejects_bad_files_with_one_line_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(GenlabError) as info:
        data.read_idx(path)
    text = str(info.value)
    assert str(path) in text and message in text and "\n" not in text


def test_read_idx_checks_the_number_of_dimensions(tmp_path):
    path = write_idx(tmp_path / "labels", torch.zeros(10, dtype=torch.uint8))
    with pytest.raises(GenlabError, match="1 dimension\\(s\\) in the header, expected 3"):
        data.read_idx(path, ndim=3)


def test_labels_file_of_the_wrong_length_is_rejected(tmp_path):
    d = write_dataset(tmp_path / "ds", n_train=50, n_test=20)
    write_idx(d / "train-labels-idx1-ubyte.gz", torch.zeros(49, dtype=torch.uint8))
    with pytest.raises(GenlabError, match="train-labels-idx1-ubyte.gz: 49 labels, expected 50"):
        data.load_split(str(d), "train")


# ----------------------------------------------------------------------------- the real MNIST


def test_real_mnist_has_the_known_sizes_and_class_counts(mnist_dir):
    source = data.resolve("mnist", mnist_dir)
    train, test = data.read_split(source, "train"), data.read_split(source, "test")
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert torch.bincount(train.labels).tolist() == MNIST_TRAIN_PER_CLASS
    assert torch.bincount(test.labels).tolist() == MNIST_TEST_PER_CLASS
    # the first test images are the usual ones: 7, 2, 1, 0, 4, ...
    assert test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_verify_reports_counts_and_checksums_of_mnist(mnist_dir):
    reports, counts = data.verify(data.resolve("mnist", mnist_dir))
    assert [r.checksum for r in reports] == ["ok"] * 4
    assert counts == {"train": MNIST_TRAIN_PER_CLASS, "test": MNIST_TEST_PER_CLASS}


def corrupt_copy(mnist_dir: Path, target: Path, stem: str) -> Path:
    """A copy of MNIST in which one file's decompressed content differs by one byte."""
    shutil.copytree(mnist_dir, target)
    path = target / f"{stem}.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[-1] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(raw)))
    return path


def test_checksum_mismatch_names_the_file(mnist_dir, tmp_path):
    bad = corrupt_copy(mnist_dir, tmp_path / "mnist", "t10k-labels-idx1-ubyte")
    source = data.resolve("mnist", tmp_path / "mnist")
    with pytest.raises(GenlabError, match="sha256") as info:
        data.verify(source)
    assert str(bad) in str(info.value)
    with pytest.raises(GenlabError, match=str(bad)):
        data.load_split(source, "test")


def test_fashion_mnist_from_debian_package_loads_with_checksums():
    if not data.has_files(Path("/usr/share/datasets/fashion-mnist")):
        pytest.skip("Debian's dataset-fashion-mnist package is not installed")
    source = data.resolve("fashion-mnist")
    test = data.read_split(source, "test")
    assert test.images.shape == (10000, 28, 28) and torch.bincount(test.labels).tolist() == [1000] * 10


# ----------------------------------------------------------------------------- lookup


def test_lookup_prefers_data_dir_then_env_then_cache(tmp_path, monkeypatch):
    explicit, env, cache = (write_dataset(tmp_path / n, n_train=20, n_test=10) for n in ("explicit", "env", "cache"))
    monkeypatch.setenv("GENLAB_CACHE_DIR", str(tmp_path / "cacheroot"))
    shutil.copytree(cache, tmp_path / "cacheroot" / "mnist")
    monkeypatch.setenv("GENLAB_DATA_DIR", str(env))
    assert data.resolve("mnist", explicit, download_missing=False).directory == explicit
    assert data.resolve("mnist", download_missing=False).directory == env
    monkeypatch.delenv("GENLAB_DATA_DIR")
    assert data.resolve("mnist", download_missing=False).directory == tmp_path / "cacheroot" / "mnist"


def test_explicit_data_dir_without_files_is_an_error(tmp_path):
    with pytest.raises(GenlabError, match="--data-dir .*missing train-images-idx3-ubyte"):
        data.resolve("mnist", tmp_path)


def test_unknown_dataset_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown data set 'cifar'"):
        data.resolve("cifar")


def test_custom_directory_is_a_dataset_without_checksums(tmp_path):
    d = write_dataset(tmp_path / "mine", n_train=30, n_test=10, gz=False)
    source = data.resolve(str(d))
    assert source.spec is None
    assert len(data.load_split(source, "train")) == 30
    reports, _ = data.verify(source)
    assert all(r.checksum.startswith("not checked") for r in reports)


def test_missing_dataset_without_download_says_where_to_put_the_files(monkeypatch, tmp_path):
    monkeypatch.delenv("GENLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("GENLAB_CACHE_DIR", str(tmp_path / "c"))
    with pytest.raises(GenlabError) as info:
        data.resolve("mnist", download_missing=False)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg and str(tmp_path / "c" / "mnist") in msg


# ----------------------------------------------------------------------------- download (file:// mirrors only)


def test_download_tries_the_next_mirror_and_verifies(mnist_dir, tmp_path):
    target = tmp_path / "dl"
    mirrors = ((tmp_path / "nowhere").as_uri() + "/", mnist_dir.as_uri() + "/")
    data.download("mnist", target, mirrors=mirrors, progress=False)
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{s}.gz" for s in data.FILES.values())
    data.verify(data.resolve("mnist", target))


def test_downloaded_files_get_the_mode_of_the_umask(mnist_dir, tmp_path):
    target = tmp_path / "dl"
    with umask(0o027):
        data.download("mnist", target, mirrors=(mnist_dir.as_uri() + "/",), progress=False)
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in target.iterdir()} == {oct(0o640)}


def test_download_rejects_a_mirror_with_wrong_content_and_leaves_no_partial_file(mnist_dir, tmp_path):
    corrupt_copy(mnist_dir, tmp_path / "badmirror", "train-labels-idx1-ubyte")
    target = tmp_path / "dl"
    with pytest.raises(GenlabError, match="download failed.*sha256"):
        data.download("mnist", target, mirrors=((tmp_path / "badmirror").as_uri() + "/",), progress=False)
    assert not (target / "train-labels-idx1-ubyte.gz").exists()
    assert not [p for p in target.iterdir() if p.name.startswith(".")]


def test_download_offline_gives_one_clear_message(tmp_path):
    with pytest.raises(GenlabError) as info:
        data.download("mnist", tmp_path / "dl", mirrors=("http://127.0.0.1:9/",), progress=False, timeout=2)
    msg = str(info.value)
    assert "put train-images-idx3-ubyte.gz" in msg and "\n" not in msg


# ----------------------------------------------------------------------------- splits, transforms, batches


def test_limit_takes_the_first_images_in_order(tiny_dataset):
    full = data.load_split(str(tiny_dataset), "train")
    head = data.load_split(str(tiny_dataset), "train", limit=25)
    assert torch.equal(head.images, full.images[:25]) and torch.equal(head.labels, full.labels[:25])


def test_limit_must_be_positive(tiny_dataset):
    with pytest.raises(ConfigError, match="--limit"):
        data.load_split(str(tiny_dataset), "train", limit=0)


def test_as_float_scales_to_unit_interval_and_flattens():
    images = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)
    assert torch.allclose(data.as_float(images), torch.tensor([[0.0, 1.0, 0.2, 0.4]]))


def test_binarize_is_a_fresh_bernoulli_sample_with_the_right_mean():
    p = torch.tensor([0.0, 0.25, 0.5, 1.0]).repeat(20000, 1)
    g = torch.Generator().manual_seed(0)
    a, b = data.binarize(p, g), data.binarize(p, g)
    assert set(a.unique().tolist()) <= {0.0, 1.0} and not torch.equal(a, b)
    assert torch.allclose(a.mean(0), torch.tensor([0.0, 0.25, 0.5, 1.0]), atol=0.015)


def test_to_signed_maps_unit_interval_to_tanh_range():
    assert torch.equal(data.to_signed(torch.tensor([0.0, 0.5, 1.0])), torch.tensor([-1.0, 0.0, 1.0]))


def test_resize_matches_antialiased_bilinear_interpolation():
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    got = data.resize(images, 64, chunk=2)
    ref = F.interpolate(images[:, None].float(), size=(64, 64), mode="bilinear", antialias=True)[:, 0]
    assert got.shape == (5, 64, 64) and got.dtype == torch.uint8
    assert (got.float() - ref.clamp(0, 255)).abs().max() <= 0.5 + 1e-4
    assert torch.equal(data.resize(torch.full((1, 28, 28), 77, dtype=torch.uint8)), torch.full((1, 64, 64), 77, dtype=torch.uint8))


def test_batch_indices_cover_every_index_once_with_a_short_last_batch():
    g = torch.Generator().manual_seed(3)
    batches = list(data.batch_indices(1050, 100, g))
    assert [len(b) for b in batches] == [100] * 10 + [50]
    assert torch.equal(torch.cat(batches).sort().values, torch.arange(1050))


def test_batch_indices_are_reproducible_from_the_seed():
    a = torch.cat(list(data.batch_indices(500, 64, torch.Generator().manual_seed(1))))
    b = torch.cat(list(data.batch_indices(500, 64, torch.Generator().manual_seed(1))))
    c = torch.cat(list(data.batch_indices(500, 64, torch.Generator().manual_seed(2))))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_env_dir_holding_another_known_dataset_does_not_shadow_it(mnist_dir, monkeypatch):
    if not data.has_files(Path("/usr/share/datasets/fashion-mnist")):
        pytest.skip("Debian's dataset-fashion-mnist package is not installed")
    monkeypatch.setenv("GENLAB_DATA_DIR", str(mnist_dir))
    assert data.resolve("fashion-mnist").directory == Path("/usr/share/datasets/fashion-mnist")
    assert data.resolve("mnist").directory == mnist_dir


# ----------------------------------------------------------------------------- bounded reading


def test_a_gzip_file_that_expands_far_beyond_its_header_is_refused_in_bounded_memory(tmp_path):
    """A 200 kB file whose header declares 4 x 3 x 3 values and whose stream expands to 200 MB."""
    import tracemalloc
    import zlib

    path = tmp_path / "bomb-idx3-ubyte.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    with path.open("wb") as out:
        out.write(packer.compress(GOOD))
        for _ in range(200):
            out.write(packer.compress(bytes(1 << 20)))
        out.write(packer.flush())
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(GenlabError, match="header says 4 x 3 x 3 = 36 bytes of data, file has more, trailing bytes"):
            data.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_a_header_that_declares_more_than_genlab_reads_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (60_000, 2000, 2000)))
    with pytest.raises(GenlabError, match=r"header says 60000 x 2000 x 2000 = 240,000,000,000 bytes of data, more than "
                                          r"genlab reads from one file \(1,073,741,824 bytes\)"):
        data.read_idx(path)


def test_the_values_are_read_into_one_buffer_shared_with_the_tensor(tmp_path):
    array = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8)
    raw = data.decompressed(write_idx(tmp_path / "a.gz", array))
    tensor = data.parse_idx(raw, "a.gz", 3)
    assert torch.equal(tensor, array)
    raw[16] ^= 0xFF  # the first value, seen through the tensor
    assert tensor[0, 0, 0] == array[0, 0, 0] ^ 0xFF


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(
    st.binary(max_size=64),
    st.tuples(st.integers(0, len(GOOD)), st.binary(max_size=8), st.integers(0, len(GOOD))).map(
        lambda t: GOOD[: t[0]] + t[1] + GOOD[t[2] :]),  # a valid file cut and spliced
), compress=st.booleans())
def test_any_bytes_read_as_a_tensor_or_a_one_line_genlab_error(tmp_path, content, compress):
    path = tmp_path / ("f.gz" if compress else "f-idx3-ubyte")
    path.write_bytes(gzip.compress(content) if compress else content)
    try:
        tensor = data.read_idx(path)
    except GenlabError as e:
        assert str(path) in str(e) and "\n" not in str(e)
    else:
        assert tensor.dtype == torch.uint8 and tensor.numel() == math.prod(tensor.shape)
