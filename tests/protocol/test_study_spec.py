"""A study YAML's values are checked for what they are, each bad one a one-line error that
says what is allowed (issue #16 item 10: `seeds: 0` said "required and must not be empty")."""

from __future__ import annotations

import pytest

from diffbench.errors import DiffbenchError
from diffbench.studies.spec import load_study

GOOD = {"name": "s", "models": "[cnn-small]", "tasks": "[smoke]", "seeds": "[0, 1]"}


def _write(tmp_path, **changes):
    fields = {**GOOD, **changes}
    path = tmp_path / "study.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in fields.items() if v is not None))
    return path


def test_a_good_study_loads(tmp_path):
    spec = load_study(str(_write(tmp_path)))
    assert spec.seeds == [0, 1] and spec.models == ["cnn-small"] and spec.tasks == ["smoke"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"seeds": "0"}, "seeds must be a list of non-negative integers"),
        ({"seeds": "[0, 0]"}, "must not repeat"),
        ({"seeds": "[-1]"}, "non-negative integers"),
        ({"seeds": "[true]"}, "non-negative integers"),
        ({"models": "cnn-small"}, "models must be a list of model names"),
        ({"tasks": "smoke"}, "tasks must be a list of task names"),
        ({"train_fractions": "0.5"}, "train_fractions must be a list of numbers in (0, 1]"),
        ({"train_fractions": "[1.5]"}, "train_fractions must be a list of numbers in (0, 1]"),
        ({"analysis": "scaling-law"}, "analysis must be a list"),
        ({"seeds": None}, "'seeds' is required"),
    ],
)
def test_bad_values_are_one_line_and_name_what_is_allowed(tmp_path, change, words):
    with pytest.raises(DiffbenchError) as info:
        load_study(str(_write(tmp_path, **change)))
    assert words in str(info.value) and "\n" not in str(info.value)
