"""Training of one network (paper SM S3): cross-entropy, Adam or SGD, per-step noise.

The loop is kept lean for full-batch training on a CPU, where one run of the reference
MLP is bound by its matrix products (about half of its time): no data copies when the
batch is the whole training set, label/data noise drawn into two buffers allocated once,
in-place activations (:class:`~dnn.models.MLP`), fused optimizer kernels, one host
synchronisation per epoch (the epoch loss, needed for early stopping) and features read
only when a load curve is recorded.

Early stopping follows the reference code: training stops after the first epoch whose
mean loss is below ``loss_tol`` (1e-4) or changed by less than ``STALL_TOL`` (1e-10)
from the previous epoch. It also stops a network whose epoch loss is not finite: it has
diverged (too large a learning rate), and its weights would stay NaN. The epoch loss is
the sample-weighted mean of the step losses, with the noisy labels and inputs the steps
saw.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from ._checks import check_count
from .dropout import MaskSource
from .features import layer_features, load_curves
from .models import Dropout
from .noise import check_noise, corrupt, epoch_order, run_generator
from .separation import KINDS

OPTIMIZERS = ("adam", "sgd")
STALL_TOL = 1e-10


@dataclass(frozen=True)
class TrainConfig:
    """How to train (defaults: the paper's reference setting).

    Parameters
    ----------
    epochs : int
        Maximal number of epochs (100).
    lr : float
        Learning rate (1e-3).
    optimizer : {"adam", "sgd"}
        Adam with PyTorch defaults (betas 0.9, 0.999; eps 1e-8) or plain SGD.
    batch_size : int or None
        Samples per step; ``None`` = full batch.
    label_noise : float
        Label + data noise level ``s`` in [0, 1] (see :mod:`dnn.noise`).
    loss_tol : float
        Stop once the epoch loss falls below it.
    """

    epochs: int = 100
    lr: float = 1e-3
    optimizer: str = "adam"
    batch_size: int | None = None
    label_noise: float = 0.0
    loss_tol: float = 1e-4

    def __post_init__(self):
        object.__setattr__(self, "epochs", check_count("epochs", self.epochs, 1))
        if not 0 < self.lr < math.inf:
            raise ValueError(f"lr={self.lr}: must be a finite number > 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer={self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}"
            )
        if self.batch_size is not None:
            hint = " (BatchNorm needs two samples) or None for full batch"
            batch = check_count("batch_size", self.batch_size, 2, hint)
            object.__setattr__(self, "batch_size", batch)
        check_noise(self.label_noise)
        if not self.loss_tol >= 0:
            raise ValueError(f"loss_tol={self.loss_tol}: must be >= 0")


def make_optimizer(params, config):
    """The optimizer of ``config`` over ``params`` (fused CPU/GPU kernels)."""
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.SGD
    return cls(params, lr=config.lr, fused=True)


def stopped(losses, loss_tol):
    """Early-stopping rule of the module docstring on the epoch losses so far."""
    last = losses[-1]
    return (
        not math.isfinite(last)
        or last < loss_tol
        or (len(losses) > 1 and abs(losses[-2] - last) < STALL_TOL)
    )


@dataclass(frozen=True)
class TrainResult:
    """What a training run returns (the trained model is updated in place).

    Attributes
    ----------
    losses : ndarray, shape (epochs_run,)
        Mean training loss of each epoch.
    curve_epochs : ndarray of int, shape (n_records,)
        Epochs after which load curves were recorded (0 = at initialisation).
    curves : ndarray, shape (n_records, len(kinds), n_layers)
        Training-set load curves at those epochs (empty if not recorded).
    kinds : tuple of str
    """

    losses: np.ndarray
    curve_epochs: np.ndarray
    curves: np.ndarray
    kinds: tuple

    @property
    def epochs_run(self):
        """Number of epochs trained (the length of ``losses``)."""
        return len(self.losses)

    @property
    def final_loss(self):
        """Mean training loss of the last epoch."""
        return float(self.losses[-1])

    def to_xarray(self):
        """The run as an :class:`xarray.Dataset`: ``loss`` (epoch) and ``D`` (record, kind, layer).

        ``record`` is indexed by the epoch after which each curve was taken.
        """
        return xr.Dataset(
            {
                "loss": ("epoch", self.losses),
                "D": (("record", "kind", "layer"), self.curves),
            },
            coords={
                "epoch": np.arange(1, self.epochs_run + 1),
                "record": self.curve_epochs,
                "kind": list(self.kinds),
                "layer": np.arange(self.curves.shape[-1]),
            },
        )


def attach_dropout(model, seed):
    """Give every :class:`~dnn.models.Dropout` of ``model`` the run's mask source.

    One :class:`~dnn.dropout.MaskSource` for the whole network (its layers draw masks
    in turn, as the forward pass reaches them), on the device of the model's parameters.
    Raises ``ValueError`` if the layers' probabilities differ.
    """
    drops = [m for m in model.modules() if isinstance(m, Dropout)]
    if not drops:
        return
    ps = {m.p for m in drops}
    if len(ps) > 1:
        raise ValueError(f"the dropout layers of one network must share p, got {sorted(ps)}")
    device = next(model.parameters()).device
    source = MaskSource([seed], [ps.pop()], device)
    for module in drops:
        module.source = source


def check_batches(data, config):
    """Refuse batch sizes that leave a single-sample batch (BatchNorm cannot train on it)."""
    n = len(data.y_train)
    if config.batch_size is not None and config.batch_size < n and n % config.batch_size == 1:
        raise ValueError(
            f"batch_size={config.batch_size} leaves a last batch of one sample "
            f"out of {n}; choose another batch size"
        )


def train(model, data, config=TrainConfig(), *, seed=0, record_every=None, kinds=KINDS):
    """Train ``model`` in place on ``data.x_train``; optionally record load curves.

    Parameters
    ----------
    model : torch.nn.Module
        Built from the same seed for a reproducible run (see
        :func:`dnn.models.build_model`).
    data : Data
    config : TrainConfig
    seed : int
        Seeds the run's generator (:func:`dnn.noise.run_generator`: batch order and
        label/data noise) and its dropout masks (:mod:`dnn.dropout`).
    record_every : int, optional
        Record the training-set load curves (evaluation mode) at initialisation, every
        ``record_every`` epochs and after the last epoch (paper Fig. 4, left).
    kinds : sequence of str
        Separation measures of the recorded curves.

    Returns
    -------
    TrainResult

    Notes
    -----
    Every call starts the random streams afresh from ``seed``: training the same model
    again with the same seed replays the batch order, noise and dropout masks of the
    first call. Continue with another seed to get fresh draws.
    """
    check_batches(data, config)
    gen = run_generator(seed)
    attach_dropout(model, seed)
    opt = make_optimizer(model.parameters(), config)
    x_all, y_all = data.x_train, data.y_train
    n = len(y_all)
    s = config.label_noise
    x_std = float(x_all.std()) if s > 0 else 0.0
    noisy = (torch.empty_like(x_all), torch.empty_like(y_all)) if s > 0 else None
    batch_size = config.batch_size or n
    kinds = tuple(kinds)
    records, record_epochs = [], []

    def record(epoch):
        record_epochs.append(epoch)
        records.append(load_curves(layer_features(model, x_all)[0], y_all, kinds))

    if record_every:
        record(0)
    losses = []
    model.train()
    for epoch in range(1, config.epochs + 1):
        order = epoch_order(n, batch_size, gen)
        total = torch.zeros(())
        for start in range(0, n, batch_size):
            if order is None:
                xb, yb, out = x_all, y_all, noisy
            else:
                idx = order[start : start + batch_size]
                xb, yb, out = x_all[idx], y_all[idx], None
            xb, yb = corrupt(xb, yb, s, x_std, data.n_classes, gen, out=out)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(yb)
        losses.append(float(total) / n)
        done = stopped(losses, config.loss_tol)
        if record_every and (epoch % record_every == 0 or done or epoch == config.epochs):
            record(epoch)
        if done:
            break
    curves = np.array(records) if records else np.zeros((0, len(kinds), 0))
    return TrainResult(np.array(losses), np.array(record_epochs, dtype=int), curves, kinds)
