"""The run options: run ids and reproduce commands stay exactly what they were (golden values
recorded before the options got one typed definition), every committed submission's command
parses back to its own run id and command, and the flags, the --config YAML and the run id
all come from the one definition."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import pytest

from diffbench.errors import DiffbenchError
from diffbench.pipeline.commands import build_run_config, register
from diffbench.pipeline.config import RunConfig

ROOT = Path(__file__).resolve().parents[2]

GOLDEN = [
    (
        {},
        "t--m--33b7f54bf3",
        "diffbench run --model unet-small --task standard-64 --seeds 0 --devices 1 --accelerator auto --precision 32-true --loss mae",
    ),
    (
        dict(model="cnn-small", task="smoke", seeds=[0, 1, 2]),
        "t--m--a66fa7178e",
        "diffbench run --model cnn-small --task smoke --seeds 0,1,2 --devices 1 --accelerator auto --precision 32-true --loss mae",
    ),
    (
        dict(
            model={"class_path": "pkg.mod:Net", "init_args": {"w": 8}},
            task="smoke",
            seeds=[3],
            devices=2,
            accelerator="cpu",
            num_nodes=2,
            max_epochs=4,
            batch_size=8,
            lr=0.001,
            loss="mse",
            recipe="fast",
            precision="bf16-mixed",
            train_counts=[1, 2, 3],
            test_counts=[5, 9],
            train_fraction=0.25,
            model_args={"width": 16, "depth": 2},
            out="elsewhere",
            data_dir="d",
            wandb_mode="disabled",
            num_workers=2,
            images=0,
        ),
        "t--m--359a8074d2",
        "diffbench run --model '{\"class_path\": \"pkg.mod:Net\", \"init_args\": {\"w\": 8}}' --task smoke --seeds 3 --devices 2 "
        "--accelerator cpu --precision bf16-mixed --loss mse --max-epochs 4 --batch-size 8 --lr 0.001 --recipe fast --num-nodes 2 "
        "--train-counts 1-3 --test-counts 5,9 --train-fraction 0.25 --model-args '{\"depth\": 2, \"width\": 16}'",
    ),
    (
        dict(
            model="unet-small",
            task="smoke",
            max_steps=30,
            check_val_every_n_epoch=3,
            uq=["mc-dropout", "residual"],
            channels_last=True,
            resume=True,
            progress=False,
            wandb_group="g",
        ),
        "t--m--fb271a2fef",
        "diffbench run --model unet-small --task smoke --seeds 0 --devices 1 --accelerator auto --precision 32-true --loss mae "
        "--max-steps 30 --val-every 3 --uq mc-dropout,residual --channels-last",
    ),
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser


@pytest.mark.parametrize("values, run_id, command", GOLDEN)
def test_run_ids_and_commands_are_unchanged(values, run_id, command):
    cfg = RunConfig(**values)
    assert cfg.run_id("m", "t") == run_id
    assert cfg.command() == command
    again = build_run_config(_parser().parse_args(shlex.split(command)[1:]))
    assert again.command() == command
    if isinstance(values.get("model", ""), str):  # a class-path dict comes back as its JSON text
        assert again.run_id("m", "t") == run_id


def test_every_committed_submission_reproduces_its_run_id():
    paths = sorted((ROOT / "leaderboard" / "submissions").glob("*/*.json"))
    assert paths
    for path in paths:
        result = json.loads(path.read_text())
        result = result.get("result", result)
        cfg = build_run_config(_parser().parse_args(shlex.split(result["command"])[1:]))
        assert cfg.run_id(result["model"]["name"], result["task"]["name"]) == result["run_id"], path.name
        assert cfg.command() == result["command"], path.name


def test_flags_and_config_keys_agree(tmp_path):
    """Every option the YAML may set has a flag, and the same value either way."""
    yaml_cfg = tmp_path / "c.yaml"
    yaml_cfg.write_text(
        "task: smoke\nseeds: 0-1\ntrain-counts: 1,3\ncheck_val_every_n_epoch: 2\nmodel_args: {width: 8}\n"
        "channels_last: true\nuq: residual\n"
    )
    from_yaml = build_run_config(_parser().parse_args(["run", "--config", str(yaml_cfg)]))
    from_flags = build_run_config(
        _parser().parse_args(
            [
                "run",
                "--task",
                "smoke",
                "--seeds",
                "0-1",
                "--train-counts",
                "1,3",
                "--val-every",
                "2",
                "--model-args",
                '{"width": 8}',
                "--channels-last",
                "--uq",
                "residual",
            ]
        )
    )
    assert from_yaml == from_flags
    assert from_yaml.seeds == [0, 1] and from_yaml.train_counts == [1, 3] and from_yaml.uq == ["residual"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("channels_last: 1\n", "channels_last must be true or false"),
        ("train_fraction: 1.5\n", "--train-fraction must be in (0, 1]"),
        ("model_args: '[1]'\n", "--model-args must be a JSON object"),
        ("seeds: a-b\n", "--seeds must be integers"),
        ("progress: false\n", "unknown option(s) progress"),
    ],
)
def test_bad_config_values_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(DiffbenchError) as info:
        build_run_config(_parser().parse_args(["run", "--config", str(path)]))
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "values, message",
    [
        (dict(seeds=[0, 0]), "--seeds must not repeat a seed"),
        (dict(seeds=[-1]), "--seeds must be non-negative integers"),
        (dict(devices=0), "--devices must be a positive integer, got 0"),
        (dict(num_nodes=True), "--num-nodes must be a positive integer, got True"),
        (dict(accelerator="tpu"), "unknown accelerator 'tpu'; allowed: auto, cpu, gpu"),
        (dict(precision="8-true"), "unknown precision '8-true'; allowed: 32-true"),
        (dict(max_steps=0), "--max-steps must be a positive integer, got 0"),
        (dict(check_val_every_n_epoch=0), "--val-every must be a positive integer, got 0"),
    ],
)
def test_validate_refuses_bad_values_in_one_line(values, message):
    with pytest.raises(DiffbenchError) as info:
        RunConfig(**values).validate()
    assert message in str(info.value) and "\n" not in str(info.value)
    RunConfig().validate()  # the defaults pass
