"""Phase diagrams of a sweep (paper Fig. 3, S13, S14) with the predicted linear boundary.

The colour is the scale-free curvature of each cell's mean load curve
(``cell_c_rel`` of :func:`fastspring.sweep`) on a diverging map centred on 0:
blue concave (deep layers learn more), white linear, red convex.  The dashed
line is where theory predicts a linear load curve after the sweep's ``steps``
steps, in the plane of the noise ``sigma`` and one friction:

* for ``mu_minus > mu_plus``, at the noise ``sigma*`` where the noise-averaged
  (mean-field) dynamics of :func:`analysis.critical_sigma_mean_field` turn linear:
  concave below, convex above;
* for ``sigma >= sigma*``, along ``mu_minus = mu_plus``, where the large-noise
  effective friction ``(mu_plus - mu_minus) / 2`` of Eq. 8 vanishes; for
  ``mu_minus < mu_plus`` the curve stays concave.

The mean-field dynamics exist for every model: the overdamped map, the Langevin
variant and the inertial model (blocks moving at the stationary mean velocity of one
block, :func:`analysis.langevin_drift`, :func:`analysis.inertial_drift`); they follow
the sweep's noise kind, decay (not for the inertial model, whose line is then left
out) and convention, and its time average (``average_from``).  Measured against the
simulators (``benchmarks/check_phase_transition.py``, see ``benchmarks/RESULTS.md``):
the overdamped and inertial crossings within about 1 %, the Langevin one within 3 % for
``mu_minus <= 2 mu_plus`` and 10-15 % too high at ``mu_minus = 3 mu_plus`` (in the
paper's reference setting).
"""

from __future__ import annotations

import numbers

import numpy as np

from analysis import critical_sigma_mean_field

from .plots import phase_diagram
from .result import from_attr

#: axes that measure the noise, in order of preference for the horizontal axis
NOISE_AXES = ("sigma", "bound", "decay")
_OTHER_FRICTION = {"mu_minus": "mu_plus", "mu_plus": "mu_minus"}
#: the models with a mean-field prediction, and the attributes it needs besides the chain's
_MODEL_ATTRS = {"overdamped": (), "langevin": ("gamma", "sync_convention"), "inertial": ("gamma",)}
#: the noise-level search of each model (the inertial one tabulates a drift per level)
_SEARCH = {"inertial": {"grid": 8, "rounds": 3}}


def linear_boundary(ds, x, y, *, points=6):
    """The predicted boundary of the linear phase in the (``sigma``, friction) plane.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`fastspring.sweep`; with ``average_from`` the prediction is
        for the time-averaged load curve, as the sweep's metrics are.
    x, y : str
        ``x = "sigma"`` and ``y`` one of ``"mu_minus"``, ``"mu_plus"``; the other
        parameters are the sweep's fixed values (attributes).
    points : int
        Friction values at which ``sigma*`` is computed (about 1.5 s each for
        ``steps = 20000``; about 4 s each for the inertial model).

    Returns
    -------
    (ndarray, ndarray) or None
        The curve's x and y values; ``None`` where no prediction applies (other
        axes, decaying noise in the inertial model, a parameter that is a third axis)
        or the friction range holds no crossing.
    """
    a = ds.attrs
    model = a.get("model")
    needed = ("chain_L", "chain_k", "chain_y", f"chain_{_OTHER_FRICTION.get(y)}", "dt", "steps",
              "noise_decay", "noise_bound", *_MODEL_ATTRS.get(model, ()))  # fmt: skip
    if (
        x != "sigma"
        or y not in _OTHER_FRICTION
        or model not in _MODEL_ATTRS
        or not all(name in a for name in needed)
        or (model == "inertial" and float(a["noise_decay"]) > 0.0)
    ):
        return None
    other = float(a[f"chain_{_OTHER_FRICTION[y]}"])
    lo, hi = float(ds[y].min()), float(ds[y].max())
    # a crossing exists for mu_minus > mu_plus
    lo, hi = (max(lo, other), hi) if y == "mu_minus" else (lo, min(hi, other))
    if not lo < hi:
        return None
    ys = np.linspace(lo, hi, points)
    frictions = [(other, v) if y == "mu_minus" else (v, other) for v in ys]
    chain = a["chain_L"], a["chain_k"], a["chain_y"]
    averaged = from_attr(a.get("average_from"))
    options = {
        "kind": a.get("noise_kind", "gaussian"),
        "bound": from_attr(a["noise_bound"]),
        "rounds": 2,
        **_SEARCH.get(model, {}),
        "decay": float(a["noise_decay"]),
        "model": model,
        "average_from": None if averaged is None else int(averaged),
        **{name: a[name] for name in _MODEL_ATTRS[model]},
    }
    sig = np.array(
        [
            critical_sigma_mean_field(*chain, mp, mm, a["dt"], a["steps"], **options)
            for mp, mm in frictions
        ]
    )
    finite = np.isfinite(sig)
    if not finite.any():
        return None
    bx, by = sig[finite], ys[finite]
    if lo <= other <= hi:  # the large-noise branch along mu_minus = mu_plus
        foot = bx[np.argmin(np.abs(by - other))]
        far = 2.0 * max(float(ds[x].max()), bx.max())
        head = ([far, foot], [other, other])
        if y == "mu_minus":
            bx, by = np.r_[head[0], bx], np.r_[head[1], by]
        else:
            bx, by = np.r_[bx, foot, far], np.r_[by, other, other]
    return bx, by


def phase_figure(ds, x=None, y=None, *, variable="cell_c_rel", ax=None, title=None, vmax=None):
    """Draw a sweep's phase diagram: colour = ``variable``, the predicted boundary dashed.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`fastspring.sweep` with (at least) two grid axes.
    x, y : str, optional
        Horizontal and vertical axes; default: the noise axis horizontally (the
        paper's orientation) and the other axis vertically.
    variable : str
        A per-cell variable; the default is the scale-free curvature of the
        mean load curve.
    ax : matplotlib.axes.Axes, optional
        Where to draw (a new figure without pyplot otherwise).
    title : str, optional
        Default: the model and its fixed parameters.
    vmax : float, optional
        Colour limits ``[-vmax, vmax]`` (default: the largest magnitude).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``variable`` does not have exactly the two dims ``x`` and ``y``.
    """
    da = ds[variable]
    if da.ndim != 2:
        raise ValueError(
            f"{variable} has dims {da.dims}; a phase diagram needs exactly two grid axes "
            "(select the others first, e.g. ds.isel(L=0))"
        )
    if x is None and y is None:
        noise = [d for d in NOISE_AXES if d in da.dims]
        x = noise[0] if noise else da.dims[1]
    if x is None or y is None:
        x, y = (x, _other(da.dims, x)) if y is None else (_other(da.dims, y), y)
    boundary = linear_boundary(ds, x, y)
    return phase_diagram(
        da,
        x,
        y,
        ax=ax,
        boundary=boundary,
        boundary_label="predicted linear (mean field)",
        title=_title(ds) if title is None else title,
        cbar_ends=("concave", "convex"),
        vmax=vmax,
    )


def _other(dims, name):
    if name not in dims:
        raise ValueError(f"{name!r} is not a dim of the phase diagram's variable {dims}")
    return next(d for d in dims if d != name)


_SYMBOLS = {"L": "L", "k": "k", "y": "y", "mu_plus": "μ₊", "mu_minus": "μ₋", "gamma": "γ"}


def _title(ds):
    """The model and its fixed parameters, then the run and any non-default noise."""
    a = ds.attrs
    values = {name: a.get(f"chain_{name}", a.get(name)) for name in _SYMBOLS}
    fixed = [f"{_SYMBOLS[n]} = {v:g}" for n, v in values.items() if isinstance(v, numbers.Real)]
    run = [f"{a['chains_per_cell']} chains"]
    if "steps" in a:
        run.append(f"{a['steps']} steps" + (f" of dt = {a['dt']:g}" if "dt" in a else ""))
    noise = []
    if a.get("noise_kind", "gaussian") != "gaussian":
        noise.append(f"{a['noise_kind']} noise, bound {a['noise_bound']:g}")
    if a.get("noise_synchronous"):
        noise.append("synchronous noise" + (" (sum)" if a.get("sync_convention") == "sum" else ""))
    if a.get("noise_decay"):
        noise.append(f"decay λ = {a['noise_decay']:g}")
    lines = [f"{a.get('model', '')} model: " + ", ".join(fixed), " × ".join(run)]
    return "\n".join(lines + ([", ".join(noise)] if noise else []))
