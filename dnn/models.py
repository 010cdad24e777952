"""Networks of the paper: the reference MLP, the CNN variant and the linear network.

Every model exposes ``feature_modules()``: the modules whose outputs are the points of
the load curve, in order (layer 0 = the input as the network sees it, then one point per
hidden layer; the output logits are not a point). :func:`dnn.features.layer_features`
reads them with forward hooks.

Reference MLP (paper SM S3; docs/theory.md, "Deep networks"), for input ``x`` of
dimension ``d_0``::

    h_0 = BN_0(x)
    h_l = Dropout_p( LeakyReLU_alpha( BN_l( W_l h_{l-1} + b_l ) ) ),  l = 1..depth-1
    logits = W_depth h_{depth-1} + b_depth

``depth`` counts the linear layers (8 in the paper: 7 hidden layers of width 100 and the
output layer), so the load curve has ``depth`` points ``h_0..h_{depth-1}``.
LeakyReLU_alpha(z) = z for z > 0 and alpha z otherwise: alpha = 1 is linear,
alpha = 0 is ReLU.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_count

INITS = ("default", "orthogonal", "kaiming")


def check_alpha(alpha):
    """Validate a LeakyReLU negative slope (the paper's nonlinearity axis, 0 <= alpha <= 1)."""
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0 or math.isnan(alpha):
        raise ValueError(
            f"alpha={alpha}: the LeakyReLU slope must lie in [0, 1] (0 = ReLU, 1 = linear)"
        )
    return alpha


def check_dropout(p):
    """Validate a dropout probability, ``0 <= p < 1``."""
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout={p}: must lie in [0, 1)")
    return p


class Dropout(nn.Module):
    """Inverted dropout drawing its masks from a run's :class:`~dnn.dropout.MaskSource`.

    The trainer sets ``self.source`` (shared by all dropout layers of the network, see
    :func:`dnn.train.attach_dropout`), so a run is reproducible from its seed alone and
    a stack of networks, on the CPU or a GPU, draws the very same masks (:mod:`dnn.dropout`).
    Each entry is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``; identity
    in evaluation mode or when ``p = 0``.  Without a source it falls back to
    ``torch.nn.functional.dropout`` (torch's global generator).
    """

    def __init__(self, p=0.0):
        super().__init__()
        self.p = check_dropout(p)
        self.source = None

    def forward(self, x):
        """``x`` with dropout applied (``x`` itself in evaluation mode or when ``p = 0``)."""
        if not self.training or self.p == 0.0:
            return x
        if self.source is None:
            return F.dropout(x, self.p, training=True)
        return x * self.source.draw(x.shape)[0].to(x.dtype)

    def extra_repr(self):
        """The ``p=...`` shown in the module's repr."""
        return f"p={self.p}"


class MLP(nn.Module):
    """The reference fully connected network (module docstring).

    Parameters
    ----------
    in_dim : int
        Input dimension (100 for 10 x 10 images).
    n_classes : int
        Number of outputs.
    width : int
        Hidden width (100).
    depth : int
        Number of linear layers, ``>= 2`` (8).
    alpha : float
        LeakyReLU negative slope in [0, 1].
    batchnorm : bool
        BatchNorm on the input and after each hidden linear layer (on by default).
    dropout : float
        Dropout probability after each hidden activation.
    init : {"default", "orthogonal", "kaiming"}
        ``"default"`` keeps PyTorch's initialisation; ``"orthogonal"`` draws every weight
        matrix from the Haar measure (``nn.init.orthogonal_``); ``"kaiming"`` uses
        ``kaiming_uniform_`` for LeakyReLU(alpha). Biases are zero unless ``"default"``.
    bias : bool
        Whether the linear layers have biases.

    Notes
    -----
    The LeakyReLUs work in place on the BatchNorm (or linear) outputs, which nothing
    else reads: the values are the same, and training keeps one activation-sized tensor
    less per layer (autograd saves the activation's output instead of its input, which
    determines the same derivative for ``alpha >= 0``).
    """

    def __init__(
        self,
        in_dim=100,
        n_classes=10,
        *,
        width=100,
        depth=8,
        alpha=0.0,
        batchnorm=True,
        dropout=0.0,
        init="default",
        bias=True,
    ):
        super().__init__()
        depth = check_count("depth", depth, 2, " (linear layers of the MLP)")
        width = check_count("width", width, 1)
        if init not in INITS:
            raise ValueError(f"init={init!r}: choose one of {', '.join(INITS)}")
        self.alpha = check_alpha(alpha)
        self.input_norm = nn.BatchNorm1d(in_dim) if batchnorm else nn.Identity()
        dims = [in_dim] + [width] * (depth - 1)
        self.linears = nn.ModuleList(
            nn.Linear(a, b, bias=bias) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.norms = nn.ModuleList(
            nn.BatchNorm1d(width) if batchnorm else nn.Identity() for _ in range(depth - 1)
        )
        self.acts = nn.ModuleList(nn.LeakyReLU(self.alpha, inplace=True) for _ in range(depth - 1))
        self.drops = nn.ModuleList(Dropout(dropout) for _ in range(depth - 1))
        self.head = nn.Linear(width, n_classes, bias=bias)
        if init != "default":
            for lin in [*self.linears, self.head]:
                if init == "orthogonal":
                    nn.init.orthogonal_(lin.weight)
                else:
                    nn.init.kaiming_uniform_(lin.weight, a=self.alpha, nonlinearity="leaky_relu")
                if bias:
                    nn.init.zeros_(lin.bias)

    def forward(self, x):
        """Logits of ``x`` (batch, in_dim), shape (batch, n_classes)."""
        h = self.input_norm(x)
        for lin, norm, act, drop in zip(
            self.linears, self.norms, self.acts, self.drops, strict=True
        ):
            h = drop(act(norm(lin(h))))
        return self.head(h)

    def feature_modules(self):
        """Input normalisation and the hidden activations: ``depth`` load-curve points."""
        return [self.input_norm, *self.acts]


class CNN(nn.Module):
    """The convolutional variant of the paper (SM S2, Fig. S2).

    ``BN_0`` on the input image, then ``depth`` blocks
    ``conv3x3 -> BatchNorm2d -> LeakyReLU_alpha -> MaxPool(2) -> Upsample(2, nearest)
    -> Dropout_p`` with ``channels`` channels, so every block keeps the input's spatial
    shape (which must be even), then a linear head on the flattened last block.
    Load-curve points: the normalised input and the pooled output of every block
    (``channels x H/2 x W/2`` features; upsampling only repeats them).

    Parameters
    ----------
    shape : tuple of int
        ``(C, H, W)`` of one input, ``H`` and ``W`` even.
    n_classes : int
    channels : int
        Channels of every convolution (16).
    depth : int
        Number of convolutional blocks (7).
    alpha, dropout : float
        LeakyReLU slope and dropout probability (see :class:`MLP`).
    """

    def __init__(
        self, shape=(1, 10, 10), n_classes=10, *, channels=16, depth=7, alpha=0.0, dropout=0.0
    ):
        super().__init__()
        c, h, w = shape
        if h % 2 or w % 2:
            raise ValueError(f"shape={shape}: the CNN pools by 2, so H and W must be even")
        depth = check_count("depth", depth, 1, " (convolutional blocks)")
        channels = check_count("channels", channels, 1)
        self.shape = tuple(shape)
        self.alpha = check_alpha(alpha)
        self.input_norm = nn.BatchNorm2d(c)
        self.convs = nn.ModuleList(
            nn.Conv2d(c if i == 0 else channels, channels, 3, padding=1) for i in range(depth)
        )
        self.norms = nn.ModuleList(nn.BatchNorm2d(channels) for _ in range(depth))
        self.act = nn.LeakyReLU(self.alpha)
        self.pools = nn.ModuleList(nn.MaxPool2d(2) for _ in range(depth))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.drops = nn.ModuleList(Dropout(dropout) for _ in range(depth))
        self.head = nn.Linear(channels * h * w, n_classes)

    def forward(self, x):
        """Logits of ``x`` (batch of inputs, flat or ``(C, H, W)``), shape (batch, n_classes)."""
        h = self.input_norm(x.reshape(len(x), *self.shape))
        for conv, norm, pool, drop in zip(
            self.convs, self.norms, self.pools, self.drops, strict=True
        ):
            h = drop(self.up(pool(self.act(norm(conv(h))))))
        return self.head(h.flatten(1))

    def feature_modules(self):
        """Input normalisation and each block's pooling: ``depth + 1`` load-curve points."""
        return [self.input_norm, *self.pools]


def linear_network(dim=100, n_classes=2, depth=8, dropout=0.0):
    """The linear network of paper Fig. 5(a) (after He & Su's equiseparation setting).

    An :class:`MLP` with ``alpha = 1`` (no nonlinearity), no BatchNorm, no biases and
    Haar-orthogonal weight matrices of width ``dim``, optionally with dropout (the
    "dropout" curve of Fig. 5a). Train it with SGD on
    :func:`dnn.datasets.orthogonal_data`.
    """
    return MLP(
        dim,
        n_classes,
        width=dim,
        depth=depth,
        alpha=1.0,
        batchnorm=False,
        dropout=dropout,
        init="orthogonal",
        bias=False,
    )


MODELS = ("mlp", "cnn", "linear")


def build_model(name, data, *, seed=0, **options):
    """Build a model by name for a :class:`~dnn.datasets.Data`, initialised from ``seed``.

    The initialisation draws from the global torch generator seeded with ``seed``
    inside :func:`torch.random.fork_rng`, so the caller's random state is untouched.

    Parameters
    ----------
    name : {"mlp", "cnn", "linear"}
    data : Data
        Supplies the input dimension or shape and the number of classes.
    seed : int
    **options
        Keyword arguments of :class:`MLP`, :class:`CNN` or :func:`linear_network`.
    """
    builders = {
        "mlp": lambda: MLP(data.in_dim, data.n_classes, **options),
        "cnn": lambda: CNN(data.shape, data.n_classes, **options),
        "linear": lambda: linear_network(data.in_dim, data.n_classes, **options),
    }
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return builders[name]()
