"""Fixtures of the dnn tests: a small slice of the shipped MNIST subset keeps them fast."""

import pytest
import torch

from dnn.datasets import load_data

# tiny networks: one thread avoids OpenMP waits on a shared 2-core machine
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def small_data():
    """400 training / 200 test digits at 6 x 6 pixels (stratified, seed 0)."""
    return load_data(n_train=400, n_test=200, size=6)


@pytest.fixture(scope="session")
def mnist():
    """The default data: 2560 training / 2440 test digits at 10 x 10."""
    return load_data()
