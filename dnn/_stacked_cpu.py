"""CPU kernels of a stacked training step: the element-wise parts, fused per layer.

A stack's step on a CPU spends its time in two kinds of work: batched matrix products
(left to torch's ``bmm``, i.e. MKL) and the element-wise BatchNorm, LeakyReLU, dropout
and cross-entropy arithmetic around them. As torch ops the latter are ~30 small kernels
per layer, each a pass over memory with its own dispatch and temporary; here each is
one pass per layer, writing into buffers the caller keeps. The arithmetic is that of
:class:`dnn.batched.StackedMLP`'s torch ops (its module docstring has the equations), in
float32 with the reductions over the batch accumulated in float64.

Arrays are ``(B, n, d)`` (network, sample, feature) and ``(B, d)``, C-contiguous
float32. An optional input is passed as an empty array: ``gamma`` of shape ``(0, 0)``
means no BatchNorm and ``mask`` of shape ``(0, 0, 0)`` no dropout.
"""

import numpy as np

from fastspring._jit import device, jit


@device
def _affine(zhat, gamma, beta):
    """BatchNorm's output ``gamma zhat + beta`` (one rounding path for both passes)."""
    return gamma * zhat + beta


@jit
def norm_act_forward(z, gamma, beta, alpha, mask, eps, momentum, run_mean, run_var, h, scale):
    """``h = mask * LeakyReLU_alpha(BN(z))`` of one hidden layer, in training mode.

    Parameters
    ----------
    z : (B, n, d) float32
        Pre-activations ``W h_in + b``; overwritten with ``zhat = (z - mean_n z) / sigma``
        when there is BatchNorm (kept otherwise), which the backward pass reads.
    gamma, beta : (B, d) float32
        BatchNorm's affine parameters; ``(0, 0)`` for none (``beta`` is then ignored).
    alpha : (B,) float32
        Each network's LeakyReLU slope (1: identity, for the input BatchNorm).
    mask : (B, n, d) float32
        Dropout masks (already scaled by ``1 / (1 - p)``), or ``(0, 0, 0)``.
    eps, momentum : float
        BatchNorm's ``eps`` and running-statistics momentum.
    run_mean, run_var : (B, d) float32
        Running mean and unbiased running variance, updated in place.
    h : (B, n, d) float32
        Output.
    scale : (B, d) float32
        Output: ``gamma / sigma``, for the backward pass.
    """
    nets, n, d = z.shape
    norm, dropout = gamma.shape[0] > 0, mask.shape[0] > 0
    acc = np.empty(d)
    mean = np.zeros(d, dtype=np.float32)
    inv = np.ones(d, dtype=np.float32)
    for b in range(nets):
        if norm:
            acc[:] = 0.0
            for i in range(n):
                for j in range(d):
                    acc[j] += z[b, i, j]
            for j in range(d):
                mean[j] = acc[j] / n
            acc[:] = 0.0
            for i in range(n):
                for j in range(d):
                    c = z[b, i, j] - mean[j]
                    acc[j] += c * c
            for j in range(d):
                var = acc[j] / n
                inv[j] = 1.0 / np.sqrt(np.float32(var) + np.float32(eps))
                scale[b, j] = inv[j] * gamma[b, j]
                run_mean[b, j] = (1.0 - momentum) * run_mean[b, j] + momentum * mean[j]
                run_var[b, j] = (1.0 - momentum) * run_var[b, j] + momentum * var * n / (n - 1)
        a = alpha[b]
        for i in range(n):
            for j in range(d):
                zhat = (z[b, i, j] - mean[j]) * inv[j]
                z[b, i, j] = zhat
                u = _affine(zhat, gamma[b, j], beta[b, j]) if norm else zhat
                out = u if u > 0 else a * u
                h[b, i, j] = out * mask[b, i, j] if dropout else out


@jit
def norm_act_backward(dh, z, gamma, beta, alpha, mask, scale, dgamma, dbeta, need_input):
    """Gradient through one hidden layer's dropout, LeakyReLU and BatchNorm.

    Parameters
    ----------
    dh : (B, n, d) float32
        Gradient of the loss with respect to the layer's output ``h``; overwritten with
        the gradient with respect to its pre-activation ``z`` (when ``need_input``).
    z, gamma, beta, alpha, mask, scale :
        As left by :func:`norm_act_forward` (``z`` holds ``zhat`` under BatchNorm).
    dgamma, dbeta : (B, d) float32
        Output: BatchNorm's parameter gradients (ignored without BatchNorm).
    need_input : bool
        Whether ``dz`` is wanted (not for the input BatchNorm).
    """
    nets, n, d = dh.shape
    norm, dropout = gamma.shape[0] > 0, mask.shape[0] > 0
    sum_du = np.empty(d)
    sum_duz = np.empty(d)
    mean_du = np.empty(d, dtype=np.float32)
    mean_duz = np.empty(d, dtype=np.float32)
    for b in range(nets):
        a = alpha[b]
        sum_du[:] = 0.0
        sum_duz[:] = 0.0
        for i in range(n):
            for j in range(d):
                u = _affine(z[b, i, j], gamma[b, j], beta[b, j]) if norm else z[b, i, j]
                g = dh[b, i, j] * mask[b, i, j] if dropout else dh[b, i, j]
                du = g if u > 0 else a * g
                dh[b, i, j] = du
                if norm:
                    sum_du[j] += du
                    sum_duz[j] += du * z[b, i, j]
        if norm:
            for j in range(d):
                dbeta[b, j] = sum_du[j]
                dgamma[b, j] = sum_duz[j]
                mean_du[j] = dbeta[b, j] / n
                mean_duz[j] = dgamma[b, j] / n
            if need_input:
                for i in range(n):
                    for j in range(d):
                        dz = (dh[b, i, j] - mean_du[j] - z[b, i, j] * mean_duz[j]) * scale[b, j]
                        dh[b, i, j] = dz


@jit
def cross_entropy(logits, y, loss):
    """Per-network mean cross-entropy of ``logits`` against labels ``y``, and its gradient.

    ``loss[b] = mean_n (logsumexp(logits[b, n]) - logits[b, n, y])``; ``logits`` is
    overwritten with ``(softmax(logits) - onehot(y)) / n``.
    """
    nets, n, c = logits.shape
    row = np.empty(c)
    for b in range(nets):
        total = 0.0
        for i in range(n):
            top = logits[b, i, 0]
            for k in range(1, c):
                top = max(top, logits[b, i, k])
            norm = 0.0
            for k in range(c):
                row[k] = np.exp(np.float64(logits[b, i, k] - top))
                norm += row[k]
            total += np.log(norm) + top - logits[b, i, y[b, i]]
            for k in range(c):
                grad = row[k] / norm - (1.0 if k == y[b, i] else 0.0)
                logits[b, i, k] = grad / n
        loss[b] = total / n


@jit
def adam_step(p, g, m, v, lr, beta1, beta2, eps, step):
    """Step ``step`` (from 1) of Adam over flat float32 arrays, in place (one pass).

    PyTorch's update (``torch.optim.Adam``, no weight decay): ``m = beta1 m + (1 - beta1)
    g``, ``v = beta2 v + (1 - beta2) g^2``, ``p -= lr / (1 - beta1^step) m /
    (sqrt(v) / sqrt(1 - beta2^step) + eps)``.
    """
    step_size = np.float32(lr / (1.0 - beta1**step))
    root_correction = np.float32(np.sqrt(1.0 - beta2**step))
    keep1, keep2 = np.float32(beta1), np.float32(beta2)
    take1, take2 = np.float32(1.0 - beta1), np.float32(1.0 - beta2)
    tiny = np.float32(eps)
    for i in range(p.size):
        mi = keep1 * m[i] + take1 * g[i]
        vi = keep2 * v[i] + take2 * g[i] * g[i]
        m[i] = mi
        v[i] = vi
        p[i] -= step_size * mi / (np.sqrt(vi) / root_correction + tiny)
