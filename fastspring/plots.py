"""Figures: phase diagrams of a curvature over two parameters, and single runs.

Figures are built on :class:`matplotlib.figure.Figure` directly, never through
``pyplot``: nothing here needs a display or changes matplotlib's global backend,
so plotting works the same on a headless cluster node and in a notebook.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

#: a diverging map: blue below 0 (concave), white at 0 (linear), red above 0 (convex)
DIVERGING_CMAP = "RdBu_r"
#: a thin white outline that keeps dark lines readable on dark cells
_HALO = [patheffects.withStroke(linewidth=3, foreground="white", alpha=0.7)]


def phase_diagram(
    da,
    x,
    y,
    *,
    ax=None,
    boundary=None,
    boundary_label="predicted linear boundary",
    shading=None,
    shading_label=None,
    title=None,
    cbar_label=None,
    cbar_ends=None,
    vmax=None,
):
    """Draw a 2-D DataArray as a heatmap on a diverging colour map centred on 0.

    Parameters
    ----------
    da : xarray.DataArray
        Two dims, ``x`` and ``y`` (in any order), with coordinates; e.g. the mean
        scale-free curvature over noise x friction.  NaN cells are drawn grey and
        named in the legend.
    x, y : str
        The dims on the horizontal and vertical axes.  Axis labels use the
        coordinates' ``long_name`` (or name) and ``units`` attributes.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (without pyplot) when omitted.
    boundary : (array_like, array_like), optional
        ``(x_values, y_values)`` of a curve to overlay, e.g. the predicted boundary
        of the linear phase; drawn dashed and named in a legend by ``boundary_label``.
    shading : xarray.DataArray, optional
        A second quantity on the same two dims (e.g. test accuracy), overlaid as
        labelled contour lines; ``shading_label`` names it in the legend.
    title : str, optional
        Axes title.
    cbar_label : str, optional
        Colour-bar label; default: ``da``'s ``long_name`` attribute or name.
    cbar_ends : (str, str), optional
        Words written at the low and high ends of the colour bar, e.g.
        ``("concave", "convex")``.
    vmax : float, optional
        Colour limits ``[-vmax, vmax]``; default: the largest ``|da|``.  Equal
        limits make panels comparable.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (its figure is ``ax.figure``).
    """
    values = _grid_values(da, x, y, "da")
    if ax is None:
        ax = Figure(figsize=(5.6, 4.4), layout="constrained").add_subplot()
    xs, ys = (np.asarray(da[name].values) for name in (x, y))
    limit = _colour_limit(values, vmax)
    mesh = ax.pcolormesh(
        _edges(xs, x),
        _edges(ys, y),
        np.ma.masked_invalid(values),
        cmap=_cmap(),
        norm=Normalize(-limit, limit),
        shading="flat",
    )
    _colour_bar(ax, mesh, cbar_label or _label(da), cbar_ends)
    if shading is not None:
        _contours(ax, xs, ys, _grid_values(shading, x, y, "shading"), shading_label)
    if boundary is not None:
        _boundary(ax, boundary, boundary_label)
    ax.set_xlabel(_label(da[x]))
    ax.set_ylabel(_label(da[y]))
    _value_ticks(ax.xaxis, xs)
    _value_ticks(ax.yaxis, ys)
    if title:
        ax.set_title(title)
    handles = ax.get_legend_handles_labels()[0]
    if not np.all(np.isfinite(values)):  # name the grey cells
        handles.append(Patch(color=mesh.cmap.get_bad(), label="no finite curvature"))
    if handles:
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.13),
            ncols=2,
            fontsize="small",
            frameon=False,
        )
    return ax


def save_figure(fig, path, *, dpi=150):
    """Save ``fig`` to ``path`` (format from the suffix), creating parent directories.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, e.g. ``phase_diagram(...).figure``.
    path : str or os.PathLike
        Output file, e.g. ``"phase.png"`` or ``"phase.pdf"``.
    dpi : int
        Resolution of raster formats.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(os.fspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def _grid_values(da, x, y, name):
    if set(da.dims) != {x, y} or x == y:
        raise ValueError(f"{name} must have exactly the two dims {x!r} and {y!r}, got {da.dims}")
    for dim in (x, y):
        if dim not in da.coords:
            raise ValueError(f"{name} needs a coordinate for its dim {dim!r}")
    return np.asarray(da.transpose(y, x).values, dtype=float)


def _edges(centres, name):
    """Cell edges halfway between sorted, distinct centres (a single cell gets width 1)."""
    centres = np.asarray(centres, dtype=float)
    if centres.size == 1:
        return centres[0] + np.array([-0.5, 0.5])
    steps = np.diff(centres)
    if not (np.all(steps > 0) or np.all(steps < 0)):
        raise ValueError(f"coordinate {name!r} must be strictly monotonic to be plotted")
    inner = centres[:-1] + steps / 2
    return np.concatenate([[centres[0] - steps[0] / 2], inner, [centres[-1] + steps[-1] / 2]])


#: axes with at most this many values get one tick per cell, at its centre
_MAX_VALUE_TICKS = 12
#: at most this many of those ticks are labelled (every other one, ...), so labels fit
_MAX_TICK_LABELS = 7


def _value_ticks(axis, values):
    """One tick per cell at its centre when there are few cells; some labelled."""
    if len(values) <= _MAX_VALUE_TICKS:
        every = -(-len(values) // _MAX_TICK_LABELS)
        axis.set_ticks(
            values, [f"{v:.3g}" if i % every == 0 else "" for i, v in enumerate(values)]
        )


def _colour_limit(values, vmax):
    if vmax is not None:
        if not vmax > 0:
            raise ValueError(f"vmax must be positive, got {vmax}")
        return float(vmax)
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def _cmap():
    return colormaps[DIVERGING_CMAP].with_extremes(bad="0.8")


def _colour_bar(ax, mesh, label, ends):
    bar = ax.figure.colorbar(mesh, ax=ax, label=label)
    if ends is not None:
        low, high = ends  # inside the bar's ends, clear of the title and the legend
        for text, y, va in ((low, 0.02, "bottom"), (high, 0.98, "top")):
            bar.ax.text(0.5, y, text, transform=bar.ax.transAxes, ha="center", va=va,
                        rotation=90, size="x-small", path_effects=_HALO)  # fmt: skip


def _contours(ax, xs, ys, values, label):
    if min(values.shape) < 2:
        raise ValueError("shading needs at least 2 values along each dim to draw contours")
    lines = ax.contour(
        xs,
        ys,
        values,
        levels=MaxNLocator(5).tick_values(np.nanmin(values), np.nanmax(values)),
        colors="0.15",
        linewidths=1.0,
    )
    lines.set_path_effects(_HALO)
    for text in ax.clabel(lines, fontsize="x-small", fmt="%.2g"):
        text.set_path_effects(_HALO)
    if label:
        ax.plot([], [], color="0.15", linewidth=1.0, label=label)


def _boundary(ax, boundary, label):
    bx, by = (np.asarray(v, dtype=float) for v in boundary)
    if bx.shape != by.shape or bx.ndim != 1:
        raise ValueError(
            f"boundary must be two 1-D arrays of equal length, got shapes {bx.shape}, {by.shape}"
        )
    limits = ax.get_xlim(), ax.get_ylim()
    ax.plot(bx, by, color="black", linestyle="--", linewidth=2, label=label, path_effects=_HALO)
    ax.set_xlim(limits[0])
    ax.set_ylim(limits[1])


def _label(da):
    name = da.attrs.get("long_name", da.name)
    units = da.attrs.get("units")
    return f"{name} [{units}]" if units else str(name)


def run_figure(result, *, chain=0, prediction=None, title=None):
    """Block trajectories over time and the final load curve of one simulation.

    Parameters
    ----------
    result : fastspring.SimulationResult
    chain : int
        The chain whose trajectories are drawn (the load-curve panel shows the
        mean over all chains with their 5--95 % band).
    prediction : array_like, shape (L + 1,), optional
        A load curve to overlay, e.g. Eq. 7 or Eq. 8 from :mod:`analysis`.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    L = result.chain.L
    fig = Figure(figsize=(10.5, 4.2), layout="constrained")
    ax_t, ax_d = fig.subplots(1, 2)
    cmap = colormaps["viridis"]
    norm = Normalize(0.5, L + 0.5)
    for i in range(L):
        ax_t.plot(result.times, result.trajectory[:, chain, i], color=cmap(norm(i + 1)), lw=1.2)
    bar = fig.colorbar(ScalarMappable(norm, cmap), ax=ax_t, label="block (layer) index")
    bar.set_ticks(
        np.arange(1, L + 1) if L <= 12 else MaxNLocator(8, integer=True).tick_values(1, L)
    )
    ax_t.set_xlabel(r"time $t$ (steps $\times$ dt)")
    ax_t.set_ylabel(r"block position $x_i$")
    ax_t.set_title(f"trajectories, chain {chain}")
    layers = np.arange(L + 1)
    load = result.load
    ax_d.fill_between(
        layers, *np.percentile(load, [5, 95], axis=0), color="C0", alpha=0.25,
        label="5-95 % of chains" if load.shape[0] > 1 else None,
    )  # fmt: skip
    ax_d.plot(layers, load.mean(axis=0), "o-", color="C0", label="simulated (mean)")
    if prediction is not None:
        ax_d.plot(layers, prediction, "k--", lw=1.5, label="prediction")
    y = result.chain.y
    ax_d.plot(layers, y * (L + 1 - layers) / (L + 1), color="0.5", lw=1, ls=":",
              label="linear (equiseparated)")  # fmt: skip
    ax_d.set_xlabel(r"layer $\ell$")
    ax_d.set_ylabel(r"load $d_\ell = y - x_\ell$")
    ax_d.set_title(f"final load curve, t = {result.times[-1]:g}")
    ax_d.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_d.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig
