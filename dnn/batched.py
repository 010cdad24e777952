"""Train many MLPs of the same shape together (stacked parameters, batched matmuls).

Small-batch training is bound by per-step overhead, not arithmetic: a step of the
reference MLP on 5 samples costs about 1 ms on a CPU whatever the matrix sizes. Here
``B`` networks take their steps together: every weight is a ``(B, out, in)`` tensor and
every activation a ``(B, n, d)`` tensor (network, sample, feature), a linear layer is
one ``torch.baddbmm``, and one optimizer step updates all networks. Adam and SGD act
element by element, so one optimizer over the stacked parameters is exactly ``B``
independent optimizers.

The forward and backward passes are written out rather than left to autograd: on a CPU
the autograd version allocates fresh gradient buffers every step and is memory-bound;
here the weight gradients go straight into persistent ``.grad`` buffers, all views of
one flat buffer. On the CPU (the default there) the element-wise work of each layer --
BatchNorm, LeakyReLU and dropout, forward or backward -- and the cross-entropy are one
Numba kernel each (:mod:`dnn._stacked_cpu`) writing into buffers kept between steps, and
Adam is one pass over the flat buffer; the batched matrix products stay with torch
(MKL). That makes a CPU step 1.3-1.9x faster (batch 80 to 5) than the same arithmetic
as torch ops, which remain the implementation on other devices (``fused=False``). For one
hidden layer ``u = BN(W h + b)``, ``h' = mask * LeakyReLU_alpha(u)`` and the mean
cross-entropy ``L`` over the ``n`` samples of each network:

    dlogits = (softmax(logits) - onehot(y)) / n
    du      = dh' * mask * (1 if u > 0 else alpha)
    dgamma  = sum_n du zhat,   dbeta = sum_n du
    dz      = gamma / sigma * (du - mean_n du - zhat mean_n(du zhat))     (BatchNorm)
    dW      = dz h^T,   db = sum_n dz,   dh = W^T dz

with ``zhat = (z - mean_n z) / sigma``, ``sigma = sqrt(var_n z + eps)``.

Per network the arithmetic is that of :func:`dnn.train.train`, including

* BatchNorm: batch statistics in training, and the running mean and (unbiased) running
  variance updated with the same momentum as ``torch.nn.BatchNorm1d``, so the trained
  networks are evaluated exactly like one-by-one ones (evaluation-mode features with
  running statistics) -- stacking does not change what the curves measure;
* the random draws: every network has its own generator, seeded like the one-by-one
  run's and drawn in the same order (:mod:`dnn.noise`: batch permutation per epoch and
  label/data noise per step, on the CPU), and its dropout masks come from the
  counter-based generator of :mod:`dnn.dropout` with the run's seed, drawn on the
  device where the stack computes; so stacked runs, on the CPU or a GPU, see the
  batches, noise and masks of one-by-one runs;
* early stopping: a network that meets the stopping rule is copied out at that epoch;
  the stack keeps computing it (its later values are ignored) until all have stopped.

Stacked and one-by-one results agree up to float32 round-off (the sums run in other
orders). Training is chaotic, so that round-off grows with the number of steps, fastest
with label noise; the tests state the tolerances. A stack always gives the same bits
for the same members in the same order and the same number of torch threads.

Networks in one stack may differ in seed, LeakyReLU slope, dropout probability and
label-noise level; they share the architecture, optimizer, learning rate, batch size
and number of epochs.
"""

import numpy as np
import torch
import torch.nn.functional as F

from . import _stacked_cpu as kernels
from .dropout import MaskSource
from .models import MLP
from .noise import corrupt, epoch_order, run_generator
from .train import TrainResult, check_batches, make_optimizer, stopped


class StackedMLP:
    """``B`` :class:`~dnn.models.MLP` s of one architecture as stacked tensors.

    Activations are laid out ``(B, n, d)`` (network, sample, feature): a linear layer is
    one ``baddbmm`` with the weights in PyTorch's own ``(B, out, in)`` layout, and the
    BatchNorm statistics are reductions over axis 1, which run vectorised along the
    features. Forward and backward passes are written out (module docstring), with the
    gradients written into persistent ``.grad`` buffers that the optimizer reads.

    Parameters
    ----------
    mlps : sequence of MLP
        Same input dimension, width, depth, classes, BatchNorm and bias settings.
        Their parameters and BatchNorm statistics are copied in; :meth:`write_back`
        copies them out again.
    seeds : sequence of int, optional
        One per network: the seeds of their dropout masks (:mod:`dnn.dropout`);
        default ``0, 1, ...``.
    device : str or torch.device, optional
        Where the stack computes (default: the CPU). The inputs and labels of each step
        are drawn on the CPU and copied over; dropout masks are drawn on the device.
    fused : bool, optional
        Compute the element-wise parts of a step with the fused CPU kernels of
        :mod:`dnn._stacked_cpu` (default on the CPU, where a step is 1.3-1.9x faster,
        batch 80 to 5) rather than with torch ops (the only choice on other devices).
    """

    def __init__(self, mlps, seeds=None, device=None, fused=None):
        self.mlps = list(mlps)
        states = [m.state_dict() for m in self.mlps]
        layout = [(k, tuple(v.shape)) for k, v in states[0].items()]
        if not all(isinstance(m, MLP) for m in self.mlps) or any(
            [(k, tuple(v.shape)) for k, v in st.items()] != layout for st in states
        ):
            raise ValueError(
                "StackedMLP needs MLPs of one architecture (same sizes, "
                "BatchNorm and bias settings)"
            )
        first = self.mlps[0]
        self.device = torch.device(device or "cpu")
        self.fused = self.device.type == "cpu" if fused is None else bool(fused)
        if self.fused and self.device.type != "cpu":
            raise ValueError(f"fused=True: the fused kernels run on the CPU, not {self.device}")
        stacked = {
            name: torch.stack([st[name] for st in states]) for name, _ in first.named_parameters()
        }
        # every parameter (and gradient) is a view into one flat buffer, for _FlatAdam
        total = sum(t.numel() for t in stacked.values())
        self.flat = torch.empty(total, device=self.device)
        self.flat_grad = torch.zeros(total, device=self.device)
        self.params, start = {}, 0
        for name, t in stacked.items():
            end = start + t.numel()
            p = self.flat[start:end].view(t.shape)
            self.params[name] = p.copy_(t).requires_grad_()
            p.grad = self.flat_grad[start:end].view(t.shape)
            start = end
        self.buffers = {
            k: torch.stack([st[k] for st in states]).to(self.device)
            for k, _ in first.named_buffers()
        }
        self.batchnorm = isinstance(first.input_norm, torch.nn.BatchNorm1d)
        if self.batchnorm:
            self.eps, self.momentum = first.input_norm.eps, first.input_norm.momentum
        self.depth = len(first.linears) + 1
        self.alpha = torch.tensor([m.alpha for m in self.mlps], device=self.device)
        dropout = [m.drops[0].p for m in self.mlps]
        seeds = range(len(self.mlps)) if seeds is None else seeds
        self.masks = MaskSource(seeds, dropout, self.device) if any(dropout) else None
        self.steps = 0  # training steps so far (BatchNorm's num_batches_tracked)
        self._ops = {}  # the ops of each batch size, with their buffers

    def __len__(self):
        return len(self.mlps)

    def optimizer(self, config):
        """The optimizer of ``config`` over the stacked parameters.

        Adam on the CPU with the fused kernels is :class:`_FlatAdam` (one pass over the
        flat buffer, about twice as fast as torch's fused Adam here); otherwise
        :func:`dnn.train.make_optimizer`.
        """
        if self.fused and config.optimizer == "adam":
            return _FlatAdam(self, config.lr)
        return make_optimizer(list(self.params.values()), config)

    def ops(self, n):
        """The arithmetic of a step on ``n`` samples per network (fused or torch ops)."""
        if n not in self._ops:
            self._ops[n] = _FusedOps(self, n) if self.fused else _TorchOps(self)
        return self._ops[n]

    def linear(self, h, prefix, out=None):
        """Per-network ``W h + b`` of ``h`` (B, n, d_in) -> (B, n, d_out)."""
        w = self.params[f"{prefix}.weight"].transpose(1, 2)
        bias = self.params.get(f"{prefix}.bias")
        if bias is None:
            return torch.bmm(h, w, out=out)
        return torch.baddbmm(bias.unsqueeze(1), h, w, out=out)

    def linear_backward(self, dz, h, prefix, out=None):
        """Writes dW = dz^T h and db = sum_n dz; returns dh = dz W."""
        torch.bmm(dz.transpose(1, 2), h, out=self.params[f"{prefix}.weight"].grad)
        if f"{prefix}.bias" in self.params:
            torch.sum(dz, dim=1, out=self.params[f"{prefix}.bias"].grad)
        return torch.bmm(dz, self.params[f"{prefix}.weight"], out=out)

    @torch.no_grad()
    def loss_and_grads(self, x, y):
        """One forward and backward pass: per-network mean cross-entropy, gradients in ``.grad``.

        Parameters
        ----------
        x : torch.Tensor, shape (B, n, d_0)
        y : torch.Tensor of int64, shape (B, n)

        Returns
        -------
        torch.Tensor, shape (B,)
        """
        ops = self.ops(y.shape[1])
        h, first = ops.hidden(x, -1) if self.batchnorm else (x, None)
        saved = []
        for layer in range(self.depth - 1):
            out, cache = ops.hidden(ops.linear(h, layer), layer)
            saved.append((h, cache))
            h = out
        loss, dlogits = ops.cross_entropy(ops.linear(h, self.depth - 1), y)
        dh = ops.linear_backward(dlogits, h, self.depth - 1)
        for layer in reversed(range(self.depth - 1)):
            h_in, cache = saved[layer]
            dh = ops.linear_backward(ops.hidden_backward(dh, cache, layer), h_in, layer)
        if self.batchnorm:
            ops.hidden_backward(dh, first, -1)
        self.steps += 1
        return loss

    def write_back(self, which=None):
        """Copy parameters and BatchNorm statistics into the MLPs (all or ``which``)."""
        with torch.no_grad():
            for b in range(len(self)) if which is None else which:
                for name, p in self.mlps[b].named_parameters():
                    p.copy_(self.params[name][b])
                for name, buf in self.mlps[b].named_buffers():
                    value = self.buffers[name][b]
                    buf.copy_(
                        value + self.steps if name.endswith("num_batches_tracked") else value
                    )


class _FlatAdam:
    """Adam with PyTorch's defaults over a CPU stack's flat parameter buffer."""

    BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults (dnn.train.TrainConfig)

    def __init__(self, stack, lr):
        self.param, self.grad = stack.flat.detach().numpy(), stack.flat_grad.numpy()
        self.m, self.v = np.zeros_like(self.param), np.zeros_like(self.param)
        self.lr, self.steps = lr, 0

    def step(self):
        """One Adam step of every network (:func:`dnn._stacked_cpu.adam_step`)."""
        self.steps += 1
        kernels.adam_step(
            self.param, self.grad, self.m, self.v, self.lr, *self.BETAS, self.EPS, self.steps
        )


def _prefix(stack, layer):
    """The parameter prefix of linear layer ``layer`` (the last one is the head)."""
    return "head" if layer == stack.depth - 1 else f"linears.{layer}"


def _norm_prefix(layer):
    """The BatchNorm of hidden layer ``layer`` (``-1``: the input BatchNorm)."""
    return "input_norm" if layer < 0 else f"norms.{layer}"


class _TorchOps:
    """A step's arithmetic as torch ops: any device (module docstring's equations)."""

    def __init__(self, stack):
        self.stack = stack
        self.params, self.buffers = stack.params, stack.buffers

    def linear(self, h, layer):
        """``W h + b`` of linear layer ``layer``."""
        return self.stack.linear(h, _prefix(self.stack, layer))

    def linear_backward(self, dz, h, layer):
        """Weight and bias gradients of linear layer ``layer``; returns ``dh``."""
        return self.stack.linear_backward(dz, h, _prefix(self.stack, layer))

    def _norm(self, z, prefix):
        """Training-mode BatchNorm (batch statistics; running statistics updated).

        ``zhat = (z - mean_n z) / sqrt(var_n z + eps)``, ``out = gamma zhat + beta``;
        the running mean and the unbiased running variance move by ``momentum``.
        Returns ``out`` and what the backward pass needs.
        """
        n = z.shape[1]
        mean = z.mean(dim=1, keepdim=True)
        zc = z - mean
        var = (zc * zc).mean(dim=1, keepdim=True)
        inv = (var + self.stack.eps).rsqrt_()
        zhat = zc.mul_(inv)
        gamma = self.params[f"{prefix}.weight"].unsqueeze(1)
        out = torch.addcmul(self.params[f"{prefix}.bias"].unsqueeze(1), zhat, gamma)
        m = self.stack.momentum
        self.buffers[f"{prefix}.running_mean"].mul_(1 - m).add_(mean.squeeze(1), alpha=m)
        self.buffers[f"{prefix}.running_var"].mul_(1 - m).add_(
            var.squeeze(1), alpha=m * n / (n - 1)
        )
        return out, (zhat, inv.mul_(gamma))

    def _norm_backward(self, dout, cache, prefix, need_input=True):
        """Gradients of BatchNorm: writes d gamma, d beta; returns dz (or None).

        ``dz = gamma / sigma (dout - mean_n dout - zhat mean_n(dout zhat))``.
        """
        zhat, scale = cache
        dbeta = torch.sum(dout, dim=1, out=self.params[f"{prefix}.bias"].grad)
        dgamma = torch.sum(dout * zhat, dim=1, out=self.params[f"{prefix}.weight"].grad)
        if not need_input:
            return None
        n = dout.shape[1]
        centred = dout - (dbeta / n).unsqueeze(1)
        return centred.sub_(zhat.mul_((dgamma / n).unsqueeze(1))).mul_(scale)

    def _act(self, u):
        """LeakyReLU with each network's slope; returns it and its derivative.

        ``h = prelu(u)`` over the network axis, and ``slope = 1`` where ``u > 0``,
        ``alpha`` elsewhere (built with arithmetic: ``torch.where`` is slow on CPU).
        """
        alpha = self.stack.alpha.view(-1, 1, 1)
        slope = torch.gt(u, 0, out=torch.empty_like(u)).mul_(1.0 - alpha).add_(alpha)
        return F.prelu(u.view(1, len(self.stack), -1), self.stack.alpha).view(u.shape), slope

    def hidden(self, z, layer):
        """``mask * LeakyReLU(BN(z))`` of hidden layer ``layer``, and what the backward needs.

        Layer ``-1`` is the input BatchNorm (no activation, no dropout).
        """
        u, cache = self._norm(z, _norm_prefix(layer)) if self.stack.batchnorm else (z, None)
        if layer < 0:
            return u, (cache, None, None)
        h, slope = self._act(u)
        masks = self.stack.masks
        mask = None if masks is None else masks.draw(h.shape[1:])
        return (h if mask is None else h.mul_(mask)), (cache, slope, mask)

    def hidden_backward(self, dh, saved, layer):
        """Gradient through :meth:`hidden` (``dh`` is overwritten); writes BatchNorm's."""
        cache, slope, mask = saved
        if layer < 0:
            return self._norm_backward(dh, cache, "input_norm", need_input=False)
        if mask is not None:
            dh.mul_(mask)
        du = dh.mul_(slope)
        if not self.stack.batchnorm:
            return du
        return self._norm_backward(du, cache, _norm_prefix(layer))

    def cross_entropy(self, logits, y):
        """Per-network mean cross-entropy and ``d loss / d logits``."""
        target = y.unsqueeze(2)
        logp = torch.log_softmax(logits, dim=2)
        loss = -logp.gather(2, target).squeeze(2).mean(dim=1)
        minus_one = torch.full(target.shape, -1.0, device=logits.device)
        return loss, logp.exp_().scatter_add_(2, target, minus_one).div_(y.shape[1])


class _FusedOps:
    """A step's arithmetic on the CPU with the fused kernels of :mod:`dnn._stacked_cpu`.

    Holds, for one number ``n`` of samples per network, every activation buffer of a
    step (allocated once: fresh large tensors each step cost page faults) and NumPy
    views of the parameters, gradients and BatchNorm statistics the kernels update.
    """

    def __init__(self, stack, n):
        self.stack = stack
        nets = len(stack)
        first = stack.mlps[0]
        widths = [first.linears[0].in_features] + [
            lin.out_features for lin in [*first.linears, first.head]
        ]
        new = lambda d: torch.empty((nets, n, d))  # noqa: E731
        self.z = [new(d) for d in widths]  # pre-activations; z[0]: the input copy
        self.h = [new(d) for d in widths[:-1]]  # layer outputs h_0 .. h_{depth-1}
        self.dh = [new(d) for d in widths]  # gradients with respect to h_l / the logits
        self.scale = [np.empty((nets, d), dtype=np.float32) for d in widths[:-1]]
        self.alpha = stack.alpha.numpy().astype(np.float32)
        self.identity = np.ones(nets, dtype=np.float32)
        self.no_mask = np.zeros((0, 0, 0), dtype=np.float32)
        self.none = np.zeros((0, 0), dtype=np.float32)
        self.norm_views = {}
        if stack.batchnorm:
            for layer in range(-1, stack.depth - 1):
                prefix = _norm_prefix(layer)
                w, b = stack.params[f"{prefix}.weight"], stack.params[f"{prefix}.bias"]
                self.norm_views[layer] = tuple(
                    t.numpy()
                    for t in (
                        w.detach(),
                        b.detach(),
                        w.grad,
                        b.grad,
                        stack.buffers[f"{prefix}.running_mean"],
                        stack.buffers[f"{prefix}.running_var"],
                    )
                )

    def linear(self, h, layer):
        """``W h + b`` of linear layer ``layer``, into its buffer."""
        return self.stack.linear(h, _prefix(self.stack, layer), out=self.z[layer + 1])

    def linear_backward(self, dz, h, layer):
        """Weight and bias gradients of linear layer ``layer``; returns ``dh`` (a buffer)."""
        return self.stack.linear_backward(dz, h, _prefix(self.stack, layer), out=self.dh[layer])

    def _views(self, layer):
        """Slopes, gamma, beta, d gamma, d beta, running mean, running var of ``layer``.

        The input BatchNorm (``-1``) has slope 1; without BatchNorm its arrays are empty.
        """
        slopes = self.identity if layer < 0 else self.alpha
        return slopes, *self.norm_views.get(layer, (self.none,) * 6)

    def hidden(self, z, layer):
        """``mask * LeakyReLU(BN(z))`` of hidden layer ``layer`` (``-1``: input BatchNorm)."""
        if layer < 0:
            z = self.z[0].copy_(z)
        stack, masks = self.stack, self.stack.masks
        mask = self.no_mask
        if layer >= 0 and masks is not None:
            mask = masks.draw(z.shape[1:]).numpy()
        slopes, gamma, beta, _, _, run_mean, run_var = self._views(layer)
        kernels.norm_act_forward(
            z.numpy(),
            gamma,
            beta,
            slopes,
            mask,
            getattr(stack, "eps", 0.0),
            getattr(stack, "momentum", 0.0),
            run_mean,
            run_var,
            self.h[layer + 1].numpy(),
            self.scale[layer + 1],
        )
        return self.h[layer + 1], (z, mask)

    def hidden_backward(self, dh, saved, layer):
        """Gradient through :meth:`hidden`, in place in ``dh``; writes BatchNorm's."""
        z, mask = saved
        slopes, gamma, beta, dgamma, dbeta, _, _ = self._views(layer)
        kernels.norm_act_backward(
            dh.numpy(),
            z.numpy(),
            gamma,
            beta,
            slopes,
            mask,
            self.scale[layer + 1],
            dgamma,
            dbeta,
            layer >= 0,
        )
        return dh

    def cross_entropy(self, logits, y):
        """Per-network mean cross-entropy; ``logits`` becomes ``d loss / d logits``."""
        loss = torch.empty(len(self.stack))  # returned to the caller: not a reused buffer
        kernels.cross_entropy(logits.numpy(), y.numpy(), loss.numpy())
        return loss, logits


def _noisy_batch(data, idx, configs, x_std, generators, device):
    """Inputs (B, n, d) and labels (B, n) of one step with label/data noise.

    ``idx`` (B, n, on the CPU) indexes the samples; the noise is drawn on the CPU from
    each network's generator, and the batch is copied to ``device``.
    """
    pairs = [
        corrupt(data.x_train[i], data.y_train[i], c.label_noise, x_std, data.n_classes, g)
        for i, c, g in zip(idx, configs, generators, strict=True)
    ]
    return (
        torch.stack([p[0] for p in pairs]).to(device),
        torch.stack([p[1] for p in pairs]).to(device),
    )


def _check_shared(configs):
    base = configs[0]
    for c in configs[1:]:
        for field in ("epochs", "lr", "optimizer", "batch_size", "loss_tol"):
            if getattr(c, field) != getattr(base, field):
                raise ValueError(
                    f"stacked networks must share {field}: "
                    f"{getattr(base, field)!r} != {getattr(c, field)!r}"
                )


def train_stacked(mlps, data, configs, seeds, *, device=None):
    """Train several MLPs together; equivalent to :func:`dnn.train.train` on each.

    Parameters
    ----------
    mlps : sequence of MLP
        One architecture (see :class:`StackedMLP`); trained in place.
    data : Data
    configs : sequence of TrainConfig
        One per network; they may differ only in ``label_noise``.
    seeds : sequence of int
        One per network, as the ``seed`` of :func:`dnn.train.train`.
    device : str or torch.device, optional
        Where to train (see :class:`StackedMLP`); the MLPs stay where they are and
        receive the trained values.

    Returns
    -------
    list of TrainResult
        Without recorded load curves.
    """
    configs, seeds = list(configs), [int(s) for s in seeds]
    if not len(mlps) == len(configs) == len(seeds) > 0:
        raise ValueError(
            f"need as many configs ({len(configs)}) and seeds ({len(seeds)}) "
            f"as networks ({len(mlps)}), at least one"
        )
    _check_shared(configs)
    config = configs[0]
    check_batches(data, config)
    generators = [run_generator(s) for s in seeds]
    stack = StackedMLP(mlps, seeds, device)
    opt = stack.optimizer(config)
    on_device = (data.x_train.to(stack.device), data.y_train.to(stack.device))
    n = len(data.y_train)
    noisy = any(c.label_noise > 0 for c in configs)
    x_std = float(data.x_train.std()) if noisy else 0.0
    batch_size = config.batch_size or n
    losses = [[] for _ in mlps]
    running = np.ones(len(mlps), dtype=bool)
    for _ in range(config.epochs):
        orders = [epoch_order(n, batch_size, g) for g in generators]
        orders = (
            torch.arange(n).expand(len(mlps), -1) if orders[0] is None else torch.stack(orders)
        )
        if not noisy:  # the steps index the device's copy of the data
            # one copy per epoch; a copy per step from pageable memory would wait for the
            # GPU's queue every step, so the host could not launch ahead of it
            orders = orders.to(stack.device)
        total = torch.zeros(len(mlps), device=stack.device)
        for start in range(0, n, batch_size):
            idx = orders[:, start : start + batch_size]
            xb, yb = (
                _noisy_batch(data, idx, configs, x_std, generators, stack.device)
                if noisy
                else (on_device[0][idx], on_device[1][idx])
            )
            per_net = stack.loss_and_grads(xb, yb)
            opt.step()
            total += per_net.detach() * yb.shape[1]
        epoch_loss = (total / n).tolist()
        finished = []
        for b in np.flatnonzero(running):
            losses[b].append(epoch_loss[b])
            if stopped(losses[b], config.loss_tol):
                finished.append(b)
        stack.write_back(finished)
        running[finished] = False
        if not running.any():
            break
    stack.write_back(np.flatnonzero(running))
    empty = np.zeros((0, 0, 0))
    return [TrainResult(np.array(lo), np.zeros(0, dtype=int), empty, ()) for lo in losses]
