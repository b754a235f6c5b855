"""Quick-look figures: CoaddResult.plot(), fastcoadd.plotting and `fastcoadd preview`."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from astropy.visualization import AsinhStretch, LinearStretch
from astropy.wcs import WCS

import fastcoadd as fc
from fastcoadd.cli import main
from fastcoadd.demo import make_demo_warps

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from fastcoadd import plotting  # noqa: E402


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    paths = make_demo_warps(folder / "warps", n_warps=4, shape=(48, 64), seed=3)
    result = fc.assemble(paths, output=folder / "coadd.fits")
    return folder, paths, result


def png_shape(path):
    from matplotlib.image import imread

    return imread(path).shape


def axes_titles(figure):
    return [ax.get_title() for ax in figure.axes if ax.get_title()]


def test_plot_has_image_nimage_and_mask_panels_on_wcs_axes(demo):
    _, _, result = demo
    figure = result.plot()
    titles = axes_titles(figure)
    assert titles[0] == "IMAGE (asinh stretch)"
    assert titles[1].startswith("NIMAGE")
    assert titles[2].startswith("MASK CLIPPED:")
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert all(type(ax).__name__ == "WCSAxes" for ax in panels)
    assert panels[0].coords[0].get_axislabel() == "RA" and panels[0].coords[1].get_axislabel() == "Dec"
    colorbars = [ax for ax in figure.axes if not ax.get_title()]
    assert len(colorbars) == 3
    assert "meanclip coadd of 4 of 4 warps, 48x64 px" in figure.get_suptitle()


def test_plot_chosen_plane_and_zscale(demo):
    _, _, result = demo
    figure = result.plot(plane="sat", stretch="zscale")
    titles = axes_titles(figure)
    assert titles[0] == "IMAGE (zscale stretch)" and titles[2].startswith("MASK SAT:")
    with pytest.raises(fc.ConfigError, match="not one of"):
        result.plot(plane="NOPE")
    with pytest.raises(fc.ConfigError, match="stretch"):
        result.plot(stretch="log")


def test_plot_does_not_touch_pyplot(demo):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    demo[2].plot()
    assert plt.get_fignums() == before


def test_plot_into_a_given_figure(demo):
    from matplotlib.figure import Figure

    figure = Figure()
    assert demo[2].plot(figure=figure) is figure


def test_plot_without_wcs_uses_pixel_axes():
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    figure = plotting.plot_planes(image, np.zeros((3, 4), np.int32), {"NO_DATA": 8}, title="t")
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert len(panels) == 2 and panels[0].get_xlabel() == "x (pixel)"


def test_normalization():
    image = np.zeros((20, 20), np.float32)
    image[5, 5] = 1000.0
    image[0, 0] = np.nan
    image[1, :] = np.linspace(-3, 3, 20)
    asinh = plotting.image_normalization(image, "asinh")
    assert isinstance(asinh.stretch, AsinhStretch) and asinh.vmin < 0 < asinh.vmax
    zscale = plotting.image_normalization(image, "zscale")
    assert isinstance(zscale.stretch, LinearStretch)
    flat = plotting.image_normalization(np.ones((4, 4)), "asinh")
    assert flat.vmax > flat.vmin
    empty = plotting.image_normalization(np.full((4, 4), np.nan), "zscale")
    assert (empty.vmin, empty.vmax) == (0.0, 1.0)


def test_default_plane_is_the_first_useful_one():
    planes = {"BAD": 0, "SAT": 1, "CLIPPED": 9}
    mask = np.zeros((2, 2), np.int32)
    assert plotting._choose_plane(None, planes, mask) == "CLIPPED"  # none set: first present
    mask[0, 0] = 1 << 1
    assert plotting._choose_plane(None, planes, mask) == "SAT"
    mask[1, 1] = 1 << 9
    assert plotting._choose_plane(None, planes, mask) == "CLIPPED"
    assert plotting._choose_plane(None, {"GHOST": 3}, mask) == "GHOST"


def test_save_preview_of_coadd_and_warp(demo, tmp_path):
    folder, paths, _ = demo
    out = plotting.save_preview(folder / "coadd.fits", tmp_path / "c.png", dpi=50)
    assert out == tmp_path / "c.png" and png_shape(out)[2] in (3, 4)
    warp_png = plotting.save_preview(paths[0], tmp_path / "w.png", dpi=50)
    height, width = png_shape(warp_png)[:2]
    assert width > height  # two panels side by side
    svg = plotting.save_preview(folder / "coadd.fits", tmp_path / "c.svg")
    assert svg.read_text().lstrip().startswith("<?xml")


def test_save_preview_default_output_name(demo, tmp_path):
    _, _, result = demo
    coadd = fc.write_coadd(result, tmp_path / "mine.fits")
    assert plotting.save_preview(coadd) == tmp_path / "mine.png"
    assert (tmp_path / "mine.png").exists()


def test_wcs_is_used_when_present():
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [10.0, 20.0]
    wcs.wcs.cdelt = [-1e-4, 1e-4]
    figure = plotting.plot_planes(np.ones((5, 5)), np.zeros((5, 5), np.int32), {"BAD": 0}, wcs=wcs)
    assert type(figure.axes[0]).__name__ == "WCSAxes"


def test_preview_command(demo, tmp_path, capsys):
    folder, _, _ = demo
    out = tmp_path / "coadd.png"
    assert main(["preview", str(folder / "coadd.fits"), "-o", str(out), "--plane", "NO_DATA",
                 "--stretch", "zscale", "--dpi", "40"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.stat().st_size > 1000


@pytest.mark.parametrize(("args", "code", "message"), [
    (["{coadd}", "--plane", "NOPE"], 2, "mask plane 'NOPE' is not one of"),
    (["{missing}"], 3, "no such file"),
    (["{coadd}", "-o", "{tmp}/nowhere/c.png"], 8, "does not exist"),
    (["{coadd}", "-o", "{tmp}/c.unknownformat"], 2, "cannot write c.unknownformat"),
])
def test_preview_errors(demo, tmp_path, capsys, args, code, message):
    folder, _, _ = demo
    values = {"coadd": folder / "coadd.fits", "missing": tmp_path / "missing.fits", "tmp": tmp_path}
    assert main(["preview", *[a.format(**values) for a in args]]) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_preview_of_a_file_that_is_not_a_warp(tmp_path, capsys):
    from astropy.io import fits

    fits.PrimaryHDU(np.zeros((3, 3))).writeto(tmp_path / "plain.fits")
    assert main(["preview", str(tmp_path / "plain.fits")]) == 3
    assert "missing extension IMAGE, MASK" in capsys.readouterr().err


def test_missing_matplotlib_is_a_clear_error(demo, monkeypatch, tmp_path, capsys):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'fastcoadd\[plot\]'"):
        demo[2].plot()
    folder, _, _ = demo
    assert main(["preview", str(folder / "coadd.fits"), "-o", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "matplotlib, which is not installed" in err and "internal error" not in err
    assert not (tmp_path / "x.png").exists()


def test_preview_and_info_on_the_demo_command_output(tmp_path, capsys):
    folder = tmp_path / "demo-out"
    assert main(["demo", str(folder), "--warps", "3", "--size", "64"]) == 0
    coadd = folder / "coadd.fits"
    assert main(["info", str(coadd)]) == 0
    assert f"{coadd}: coadd, 64 x 64 pixels" in capsys.readouterr().out
    assert main(["preview", str(coadd), "-o", str(folder / "coadd.png")]) == 0
    assert (folder / "coadd.png").stat().st_size > 1000
    assert main(["preview", str(folder / "warps" / "warp_000.fits")]) == 0  # next to the warp
    assert (folder / "warps" / "warp_000.png").exists()
