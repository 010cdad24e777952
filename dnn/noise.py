"""Stochasticity of training: mini-batch order and label + data noise (paper SM S3).

Every random draw of a training run except its dropout masks comes from the run's own
``torch.Generator`` (:func:`run_generator`), on the CPU, in a fixed order (per epoch: the
permutation; per step: the label/data noise), so a run is reproducible from its seed alone
and the stacked trainer (:mod:`dnn.batched`) can replay exactly the same draws.  Dropout
masks come from the counter-based generator of :mod:`dnn.dropout`, keyed by the same seed.

Label + data noise of strength ``s`` (paper Fig. 1a), applied afresh at every step to the
step's batch of ``n`` samples:

* ``k = floor(s n + 1/2)`` distinct samples, chosen uniformly, get a label drawn
  uniformly from all classes (it may be the true one, so the expected fraction of wrong
  labels is ``s (K - 1)/K``);
* every input gets i.i.d. Gaussian noise of standard deviation ``s * std(X_train)``, the
  standard deviation of all entries of the training inputs.
"""

import math

import numpy as np
import torch


def check_noise(s):
    """Validate a label + data noise level, ``0 <= s <= 1``."""
    s = float(s)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"label_noise={s}: must lie in [0, 1]")
    return s


def run_generator(seed):
    """The ``torch.Generator`` of a training run's batch order and label/data noise.

    Seeded with a key derived from ``(seed, 1)`` by :class:`numpy.random.SeedSequence`:
    the initial weights come from torch's generator seeded with ``seed`` itself
    (:func:`dnn.models.build_model`), and seeding both with ``seed`` would make the noise
    replay the random numbers of the first layer's weights.
    """
    key = np.random.SeedSequence([int(seed), 1]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(key))


def epoch_order(n, batch_size, generator):
    """Sample order of one epoch: the steps take consecutive slices of ``batch_size``.

    Parameters
    ----------
    n : int
        Training set size.
    batch_size : int
        Samples per step; ``batch_size >= n`` means full batch.
    generator : torch.Generator

    Returns
    -------
    torch.Tensor or None
        A fresh random permutation of ``range(n)`` (the last slice may be shorter), or
        ``None`` for full-batch training, which draws nothing.
    """
    if batch_size >= n:
        return None
    return torch.randperm(n, generator=generator)


def corrupt(x, y, s, x_std, n_classes, generator, *, out=None):
    """Apply label + data noise of strength ``s`` to one batch (module docstring).

    Parameters
    ----------
    x : torch.Tensor, shape (n, d)
    y : torch.Tensor of int64, shape (n,)
    s : float
        Noise level in [0, 1]; 0 returns the inputs untouched and draws nothing.
    x_std : float
        ``std(X_train)``.
    n_classes : int
    generator : torch.Generator
    out : tuple of torch.Tensor, optional
        Buffers ``(x_noisy, y_noisy)`` shaped like ``x`` and ``y`` (and not aliasing
        them) that receive the noisy batch, so that full-batch training does not
        allocate a new batch at every step. The values are the same either way.

    Returns
    -------
    x, y : torch.Tensor
        New tensors, or the buffers of ``out`` (the inputs are not modified).
    """
    if s == 0.0:
        return x, y
    n = len(y)
    k = math.floor(s * n + 0.5)
    x_noisy, y_noisy = (torch.empty_like(x), torch.empty_like(y)) if out is None else out
    y_noisy.copy_(y)
    # the right-hand side is evaluated first: the new labels are drawn before the samples
    y_noisy[torch.randperm(n, generator=generator)[:k]] = torch.randint(
        0, n_classes, (k,), generator=generator
    )
    torch.randn(x.shape, generator=generator, out=x_noisy)
    return x_noisy.mul_(s * x_std).add_(x), y_noisy
