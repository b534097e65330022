"""The paper-512 GPU recipe: the README's one-line command is what the task YAML records, and a
run built from it is valid (the recipe exists, the precision is allowed, the budget is a step cap)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from diffbench.cli import build_parser
from diffbench.data import load_task
from diffbench.pipeline.config import build_run_config
from diffbench.training.recipes import resolve_recipe

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_paper_512_command_is_the_recorded_recipe():
    gpu = load_task("paper-512").training["gpu"]
    (line,) = re.findall(r"^diffbench run --model \w+ --task paper-512 .*$", README.read_text(), flags=re.M)
    cfg = build_run_config(build_parser().parse_args(shlex.split(line)[1:]))
    assert cfg.task == "paper-512" and cfg.model in gpu["h200_hours_per_seed_estimate"]
    assert cfg.precision == gpu["precision"] == "bf16-mixed"
    assert cfg.recipe == gpu["recipe"] and resolve_recipe(cfg.recipe)["schedule"] == "onecycle"
    assert cfg.max_steps == gpu["max_steps"]
    assert (cfg.batch_size or load_task("paper-512").training["batch_size"]) == gpu["batch_size"] == 25
    assert len(cfg.seeds) >= 3
    cfg.validate()
    assert set(gpu["h200_hours_per_seed_estimate"]) == {"cnn", "unet", "fno", "resnet"}
    assert "an estimate, not a measurement" in README.read_text()


def test_readme_wall_time_table_matches_the_yaml():
    hours = load_task("paper-512").training["gpu"]["h200_hours_per_seed_estimate"]
    text = README.read_text()
    for preset, h in hours.items():
        (row,) = [r for r in text.splitlines() if r.startswith(f"| `{preset}` | ") and "ms" in r]
        assert f"| {h} |" in row, row
