"""The site's layout: the index leads with the headline board, the other boards grouped by
axis, board columns that fit (the column chooser), plugin packages and their install command,
the task chart pages, and the wording of tooltips and hints."""

from __future__ import annotations

import re

from lb_factory import populate

from diffbench.cli import main
from diffbench.leaderboard.site import build_site


def test_validation_nmae_tooltip_does_not_claim_checkpoint_selection(lb, make):
    populate(lb, make)
    index = (build_site(lb).out / "index.html").read_text()
    tip = re.search(r'<th[^>]*data-key="val_nmae"[^>]*title="([^"]*)"', index).group(1)
    assert "checkpoint" not in tip or "validation MAE" in tip, tip
    assert "used for checkpoint selection" not in tip


def test_submit_hint_names_the_leaderboard_it_used(lb, make, capsys):
    other = lb.parent / "my board"
    assert main(["submit", str(make()), "--leaderboard", str(other)]) == 0
    out = capsys.readouterr().out
    assert f"diffbench leaderboard build --leaderboard '{other}'" in out, out
    assert main(["submit", str(make(base=0.02))]) == 0  # the default folder: nothing to add
    assert "run `diffbench leaderboard build` to update the site" in capsys.readouterr().out
