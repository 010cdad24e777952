"""The reproduction driver: resumable cached results and a report that shows every panel."""

import xarray as xr

from fastspring import reproduce as rp
from fastspring.report import Panel, write_report


def test_cached_computes_once_and_leaves_no_partial_file(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return xr.Dataset({"a": ("x", [1.0, 2.0])})

    first = rp.cached(tmp_path / "a.nc", compute)
    again = rp.cached(tmp_path / "a.nc", compute)
    assert len(calls) == 1
    xr.testing.assert_identical(first, again)
    assert not list(tmp_path.glob("*.part"))


def test_report_lists_every_panel_with_caption_and_numbers(tmp_path):
    panels = [
        Panel("one", "First <figure>", "one.png", "Caption & more.", {"measured": 0.123456}),
        Panel("two", "Second", "two.png", "Another caption."),
    ]
    text = write_report(panels, tmp_path / "report.html", title="T").read_text()
    assert text.count("<section") == 2
    assert 'src="one.png"' in text and 'src="two.png"' in text
    assert "First &lt;figure&gt;" in text and "Caption &amp; more." in text
    assert "0.1235" in text


def test_reproduce_runs_each_experiment_and_writes_report(tmp_path, monkeypatch):
    seen = []

    def fake(out, quick):
        seen.append(quick)
        (out / "fake.png").write_bytes(b"png")
        return Panel("fake", "Fake", "fake.png", "cap")

    monkeypatch.setattr(rp, "EXPERIMENTS", [fake, fake])
    path = rp.reproduce(tmp_path / "out", quick=True, progress=False)
    assert seen == [True, True]
    assert path.name == "report.html" and path.read_text().count("<section") == 2


def test_mu_plus_zero_panel_quick_matches_theory(tmp_path):
    panel = rp.mu_plus_zero(tmp_path, quick=True)
    curv = [v for k, v in panel.numbers.items() if "curvature" in k]
    assert abs(curv[0]) < 1e-9  # sigma = 0: linear (Eq. 7 with mu_plus = 0)
    assert all(c > 0.05 for c in curv[1:])  # any noise: convex
    assert (tmp_path / "mu_plus_zero.png").stat().st_size > 10_000
