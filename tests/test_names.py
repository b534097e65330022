"""The one rule for names that become path components (diffbench.names)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffbench.errors import DiffbenchError
from diffbench.names import NAME_MAX_LENGTH, NAME_RULE, check_name, is_name, safe_name

SHIPPED = [
    "smoke",
    "paper-512",
    "standard-64",
    "ood-constant-d-64",
    "axes",
    "smoke--cnn-small--a66fa7178e",
    "v1.2_final",
]
REFUSED = [
    "",
    ".",
    "..",
    "../x",
    "../../x",
    "x/..",
    "a/b",
    "a\\b",
    "/abs",
    "C:",
    "c:\\x",
    ".hidden",
    "-flag",
    "_x",
    "a..b",
    "x" * (NAME_MAX_LENGTH + 1),
    "tab\tx",
    "new\nline",
    "nul\0x",
    "sp ace",
    "ünï",
    "a:b",
    "~",
    "*",
    "a;b",
]


@pytest.mark.parametrize("name", SHIPPED)
def test_the_names_in_use_obey_the_rule(name: str) -> None:
    assert is_name(name) and check_name(name, "task name") == name


@pytest.mark.parametrize("name", REFUSED, ids=repr)
def test_names_that_could_leave_a_folder_are_refused_in_one_line(name: str) -> None:
    assert not is_name(name)
    with pytest.raises(DiffbenchError) as info:
        check_name(name, "run id")
    message = str(info.value)
    assert message.startswith("run id ") and message.endswith(NAME_RULE)
    assert "\n" not in message and len(message) < 300


@pytest.mark.parametrize("value", [None, 3, 1.5, True, ["smoke"], {"a": 1}, b"smoke"])
def test_a_name_must_be_text(value) -> None:
    with pytest.raises(DiffbenchError, match=rf"^study name must be a string, got {type(value).__name__}; a name is"):
        check_name(value, "study name")


def test_the_longest_name_is_allowed() -> None:
    assert is_name("a" * NAME_MAX_LENGTH) and not is_name("a" * (NAME_MAX_LENGTH + 1))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=300))
def test_a_valid_name_stays_inside_its_folder(text: str) -> None:
    root = Path("/srv/data")
    for name in (text, safe_name(text), safe_name(text, 7)):
        if is_name(name):
            target = Path(os.path.normpath(root / name))
            assert target.parent == root and target.name == name
            assert not Path(name).is_absolute() and os.sep not in name and "/" not in name and "\\" not in name


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=400), st.integers(1, NAME_MAX_LENGTH))
def test_safe_name_always_gives_a_name(text: str, limit: int) -> None:
    name = safe_name(text, limit)
    assert is_name(name) and len(name) <= limit
    assert check_name(name, "x") == name


def test_safe_name_keeps_a_valid_name() -> None:
    for name in SHIPPED:
        assert safe_name(name) == name


@pytest.mark.parametrize("limit", [0, -1, NAME_MAX_LENGTH + 1])
def test_safe_name_limit_is_bounded(limit: int) -> None:
    with pytest.raises(DiffbenchError, match=r"name length limit must be in \[1, 128\]"):
        safe_name("x", limit)
