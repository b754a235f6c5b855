"""Progress reporting: stages and counts reach the callback; the terminal bar draws and finishes lines."""

from __future__ import annotations

import io

import numpy as np
from conftest import memory_warp

import fastcoadd as fc
from fastcoadd.progress import TerminalProgress, wants_progress


def test_callback_sees_every_warp_and_tile():
    calls = []
    warps = [memory_warp(np.full((10, 4), float(i)), visit=i) for i in range(3)]
    fc.assemble(warps, fc.CoaddConfig(tile_shape=(3, 4)), progress=lambda *a: calls.append(a))
    weights = [c for c in calls if c[0] == "weights"]
    stacking = [c for c in calls if c[0] == "stacking"]
    assert weights[0] == ("weights", 0, 3) and weights[-1] == ("weights", 3, 3) and len(weights) == 4
    assert stacking[0] == ("stacking", 0, 4) and stacking[-1] == ("stacking", 4, 4) and len(stacking) == 5


def test_terminal_bar_draws_and_ends_with_newline():
    stream = io.StringIO()
    bar = TerminalProgress(stream, rate=1e9, width=10)
    for done in range(5):
        bar("stacking", done, 4)
    text = stream.getvalue()
    assert text.endswith("[##########] 100.0%  4/4\n")
    assert "\rstacking   [#####.....]  50.0%  2/4" in text


def test_bar_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert wants_progress(Terminal(), quiet=False)
    assert not wants_progress(Terminal(), quiet=True)
    assert not wants_progress(io.StringIO(), quiet=False)
