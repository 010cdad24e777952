"""Per-layer features through forward hooks, load curves and accuracy of a trained model.

Features are read in evaluation mode (BatchNorm running statistics, no dropout), as in
the paper: one forward pass over the whole set gives every layer's features and the
logits, and everything else is computed from that pass.
"""

from dataclasses import dataclass

import numpy as np
import torch

from .separation import KINDS, regression_load, separation

#: every per-layer load: the two separation measures and the regression load of SM S5
LOADS = (*KINDS, "regression")


@torch.no_grad()
def layer_features(model, x):
    """Features of every load-curve layer and the logits, in evaluation mode.

    Hooks are put on ``model.feature_modules()`` for one forward pass and removed
    afterwards; the model's training/evaluation mode is restored.

    Parameters
    ----------
    model : torch.nn.Module
        A model with ``feature_modules()`` (see :mod:`dnn.models`).
    x : torch.Tensor, shape (N, d)

    Returns
    -------
    features : list of torch.Tensor
        One (N, d_l) tensor per layer, flattened.
    logits : torch.Tensor, shape (N, n_classes)
    """
    captured = []
    hooks = [
        m.register_forward_hook(lambda _m, _in, out: captured.append(out.flatten(1)))
        for m in model.feature_modules()
    ]
    was_training = model.training
    model.eval()
    try:
        logits = model(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return captured, logits


def layer_load(features, labels, kind):
    """One layer's load of ``kind`` "trace_ratio", "pinv" or "regression".

    For "trace_ratio" or "pinv" the :func:`~dnn.separation.separation` of that kind; for
    "regression" the RMSE of the best affine map from the features to the one-hot labels
    (:func:`~dnn.separation.regression_load`, SM S5).
    """
    if kind == "regression":
        onehot = torch.nn.functional.one_hot(torch.as_tensor(labels).long())
        return regression_load(features, onehot)
    if kind not in LOADS:
        raise ValueError(f"kind={kind!r}: choose one of {', '.join(LOADS)}")
    return separation(features, labels, kind)


def load_curves(features, labels, kinds=KINDS):
    """The load of every layer, one curve per kind (see :func:`layer_load`).

    Returns
    -------
    ndarray, float64, shape (len(kinds), n_layers)
    """
    return np.array([[layer_load(f, labels, kind) for f in features] for kind in kinds])


def accuracy(logits, labels):
    """Fraction of samples whose largest logit is the label's."""
    if len(labels) == 0:
        return float("nan")
    return float((logits.argmax(dim=1) == labels).double().mean())


@dataclass(frozen=True)
class Evaluation:
    """Load curves and accuracies of one trained model.

    Attributes
    ----------
    D_train : ndarray, shape (len(kinds), n_layers)
        Separation of each layer on the training set.
    D_test : ndarray or None
        The same on the test set (if requested).
    train_accuracy, test_accuracy : float
    kinds : tuple of str
    """

    D_train: np.ndarray
    D_test: np.ndarray | None
    train_accuracy: float
    test_accuracy: float
    kinds: tuple


def evaluate(model, data, kinds=KINDS, *, test_curves=False):
    """Evaluate a model on a :class:`~dnn.datasets.Data` (one forward pass per set).

    Parameters
    ----------
    model : torch.nn.Module
    data : Data
    kinds : sequence of {"trace_ratio", "pinv", "regression"}
    test_curves : bool
        Also compute the load curves on the test set.

    Returns
    -------
    Evaluation
    """
    kinds = tuple(kinds)
    feats, logits = layer_features(model, data.x_train)
    d_train = load_curves(feats, data.y_train, kinds)
    del feats
    feats, test_logits = layer_features(model, data.x_test)
    d_test = load_curves(feats, data.y_test, kinds) if test_curves else None
    return Evaluation(
        d_train, d_test, accuracy(logits, data.y_train), accuracy(test_logits, data.y_test), kinds
    )
