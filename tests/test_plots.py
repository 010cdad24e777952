"""Tests of the phase-diagram figure: colours centred on 0, labels, overlays, saving."""

import numpy as np
import pytest
import xarray as xr
from matplotlib.collections import QuadMesh
from matplotlib.contour import ContourSet

from fastspring.plots import phase_diagram, save_figure

SIGMA = np.linspace(0.0, 0.5, 6)
MU = np.linspace(0.0, 0.3, 4)


def curvature(scale=1.0):
    s, m = np.meshgrid(SIGMA, MU, indexing="ij")
    da = xr.DataArray(
        scale * np.tanh(5 * (s - m - 0.05)),
        dims=("sigma", "mu_minus"),
        coords={"sigma": SIGMA, "mu_minus": MU},
        name="c_rel",
        attrs={"long_name": "scale-free curvature"},
    )
    da["sigma"].attrs.update(long_name="noise sigma", units="force")
    return da


def mesh_of(ax):
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    return mesh


def test_colours_are_symmetric_about_zero_and_axes_labelled():
    da = curvature(scale=0.7) + 0.2  # values from about -0.5 to 0.9
    ax = phase_diagram(da, "sigma", "mu_minus", title="toy")
    mesh = mesh_of(ax)
    assert mesh.norm.vmin == -mesh.norm.vmax == pytest.approx(-float(abs(da).max()))
    assert mesh.norm(0.0) == pytest.approx(0.5)
    assert ax.get_xlabel() == "noise sigma [force]"
    assert ax.get_ylabel() == "mu_minus"
    assert ax.get_title() == "toy"
    colour_bar = ax.figure.axes[-1]
    assert colour_bar.get_ylabel() == "scale-free curvature"


def test_few_cells_get_one_tick_each_at_their_centre():
    ax = phase_diagram(curvature(), "sigma", "mu_minus")
    np.testing.assert_allclose(ax.get_xticks(), SIGMA)
    np.testing.assert_allclose(ax.get_yticks(), MU)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "0.1", "0.2", "0.3"]
    twelve = xr.DataArray(np.ones((12, 4)), dims=("sigma", "mu_minus"),
                          coords={"sigma": np.arange(12) / 40, "mu_minus": MU})  # fmt: skip
    labels = [t.get_text() for t in phase_diagram(twelve, "sigma", "mu_minus").get_xticklabels()]
    assert labels == ["0", "", "0.05", "", "0.1", "", "0.15", "", "0.2", "", "0.25", ""]
    many = np.linspace(0.0, 1.0, 13)  # more than 12: matplotlib's own ticks
    da = xr.DataArray(np.ones((13, 4)), dims=("sigma", "mu_minus"),
                      coords={"sigma": many, "mu_minus": MU})  # fmt: skip
    assert len(phase_diagram(da, "sigma", "mu_minus").get_xticks()) < 13


def test_heatmap_cells_follow_the_coordinates_whatever_the_dim_order():
    da = curvature()
    mesh = mesh_of(phase_diagram(da.transpose("mu_minus", "sigma"), "sigma", "mu_minus"))
    np.testing.assert_allclose(mesh.get_array().reshape(len(MU), len(SIGMA)), da.T.values)
    x_edges = mesh.get_coordinates()[0, :, 0]
    np.testing.assert_allclose(x_edges, np.linspace(-0.05, 0.55, 7))


def test_boundary_and_shading_are_overlaid_and_limits_fixed():
    da = curvature()
    accuracy = 0.9 - 0.3 * abs(da)
    boundary = (np.linspace(0.05, 0.35, 20), np.linspace(0.0, 0.3, 20))
    ax = phase_diagram(
        da,
        "sigma",
        "mu_minus",
        boundary=boundary,
        shading=accuracy,
        shading_label="test accuracy",
        cbar_ends=("concave", "convex"),
        vmax=1.0,
    )
    (line,) = [ln for ln in ax.lines if ln.get_label() == "predicted linear boundary"]
    np.testing.assert_allclose(line.get_xdata(), boundary[0])
    assert any(isinstance(c, ContourSet) for c in ax.collections)
    assert mesh_of(ax).norm.vmax == 1.0
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["test accuracy", "predicted linear boundary"]
    assert ax.get_xlim() == pytest.approx((-0.05, 0.55))
    words = {t.get_text() for t in ax.figure.axes[-1].texts}
    assert words == {"concave", "convex"}


def test_draws_on_a_given_axes_and_handles_nan_and_single_cells():
    from matplotlib.figure import Figure

    fig = Figure()
    left, right = fig.subplots(1, 2)
    da = curvature()
    da[1, 1] = np.nan
    assert phase_diagram(da, "sigma", "mu_minus", ax=right) is right
    # the grey NaN cell is named in the legend; a grid without NaN gets no legend
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["no finite curvature"]
    assert np.ma.getmaskarray(mesh_of(right).get_array()).sum() == 1
    one = da.isel(sigma=[0], mu_minus=[0]).fillna(0.3)
    phase_diagram(one, "sigma", "mu_minus", ax=left)
    assert left.get_xlim() == pytest.approx((-0.5, 0.5))
    assert left.get_legend() is None


def test_save_figure_writes_a_png(tmp_path):
    ax = phase_diagram(curvature(), "sigma", "mu_minus")
    path = save_figure(ax.figure, tmp_path / "figs" / "phase.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": "sigma", "y": "layer"}, "da must have exactly the two dims 'sigma' and 'layer'"),
        ({"shading": curvature().isel(mu_minus=0)}, "shading must have exactly the two dims"),
        ({"boundary": ([0.0, 1.0], [0.0])}, "boundary must be two 1-D arrays of equal length"),
        ({"vmax": 0.0}, "vmax must be positive"),
        (
            {"da": curvature().isel(sigma=[2, 0, 1])},
            "coordinate 'sigma' must be strictly monotonic",
        ),
    ],
)
def test_invalid_input_is_refused(kwargs, message):
    call = {"da": curvature(), "x": "sigma", "y": "mu_minus", **kwargs}
    with pytest.raises(ValueError, match=message):
        phase_diagram(call.pop("da"), call.pop("x"), call.pop("y"), **call)
