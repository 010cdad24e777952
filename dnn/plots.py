"""DNN figures: phase diagrams (paper Fig. 1) and load curves over epochs (paper Fig. 4, left).

Figures of the DNN experiments, built on :class:`matplotlib.figure.Figure`, never ``pyplot``.
"""

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fastspring.plots import phase_diagram as _heatmap

from .phase import summarize

#: axes drawn on a log10 scale
_LOG_AXES = ("lr", "batch_size")


def phase_figure(ds, kind="trace_ratio", *, ax=None, vmax=None):
    """Colour = scale-free curvature of the seed-mean load curve; contours = test accuracy.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`dnn.phase_diagram`.
    kind : {"trace_ratio", "pinv"}
        Separation measure whose curves are shown.
    ax : matplotlib.axes.Axes, optional
    vmax : float, optional
        Colour limits ``[-vmax, vmax]`` of ``c_rel``; default the largest ``|c_rel|``
        (pass 1, the bound for a monotone curve, to compare panels).

    Returns
    -------
    matplotlib.axes.Axes
    """
    summary = summarize(ds, kind)
    axis = ds.attrs["axis"]
    x = axis
    if axis in _LOG_AXES:
        x = f"log10_{axis}"
        summary = summary.assign_coords({x: (axis, np.log10(summary[axis].values))})
        summary = summary.swap_dims({axis: x})
        summary[x].attrs["long_name"] = f"log10 {ds[axis].attrs.get('long_name', axis)}"
    shading = (
        summary["test_accuracy"] if min(summary.sizes[x], summary.sizes["alpha"]) > 1 else None
    )
    return _heatmap(
        summary["c_rel"], x, "alpha", ax=ax, shading=shading,
        shading_label="test accuracy" if shading is not None else None,
        cbar_ends=("concave (lazy)", "convex"), vmax=vmax,
        title=f"{ds.attrs.get('epochs', '?')} epochs, {_count(ds.sizes['seed'], 'seed')}, "
        f"D: {kind}",
    )  # fmt: skip


def curve_figure(ds, kind="trace_ratio", *, ax=None):
    """Load curves ``D_l`` against the layer, one line per recorded epoch (colour = epoch).

    Parameters
    ----------
    ds : xarray.Dataset
        :meth:`dnn.train.TrainResult.to_xarray` of a run with recorded curves.
    kind : {"trace_ratio", "pinv", "regression"}

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ds.sizes.get("record", 0) == 0:
        raise ValueError("this run recorded no load curves (use record_every)")
    if ax is None:
        ax = Figure(figsize=(5.2, 4.0), layout="constrained").add_subplot()
    epochs = ds["record"].values
    norm = Normalize(epochs.min(), max(epochs.max(), 1))
    cmap = colormaps["viridis"]
    for epoch, curve in zip(epochs, ds["D"].sel(kind=kind).values, strict=True):
        ax.plot(ds["layer"].values, curve, marker="o", markersize=3, color=cmap(norm(epoch)))
    bar = ax.figure.colorbar(ScalarMappable(norm, cmap), ax=ax, label="epoch")
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer $l$ (0 = normalised input)")
    ax.set_ylabel(f"load $D_l$ ({kind})")
    settings = [f"{k} {ds.attrs[k]:g}" for k in _CURVE_SETTINGS if k in ds.attrs]
    ax.set_title(", ".join([str(ds.attrs.get("model", "network"))] + settings), size="medium")
    return ax


#: the training settings named in a curve figure's title, when the run's attrs hold them
_CURVE_SETTINGS = ("alpha", "label_noise", "dropout", "lr")


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"
