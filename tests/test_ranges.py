"""Bounded integer lists (diffbench.ranges): ``--seeds``, ``--train-counts``, ``--test-counts``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffbench.errors import DiffbenchError
from diffbench.ranges import INT_BOUND, MAX_INT_LIST, parse_int_list


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", [0]),
        ("0,1,2", [0, 1, 2]),
        ("0-4", [0, 1, 2, 3, 4]),
        ("1-3,7", [1, 2, 3, 7]),
        (" 1 , 2 ,", [1, 2]),
        ("-3", [-3]),
        ("-3-1", [-3, -2, -1, 0, 1]),
        (5, [5]),
        (f"0-{MAX_INT_LIST - 1}", list(range(MAX_INT_LIST))),
    ],
)
def test_lists_and_ranges(text, expected) -> None:
    assert parse_int_list(text, "--seeds") == expected


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("0-99999999999", r"^--seeds names 100000000000 integers; at most 10000 are allowed$"),
        ("0-9999,20000-20005", r"^--seeds names more than 10000 integers; at most 10000 are allowed$"),
        (f"0-{MAX_INT_LIST}", r"^--seeds names 10001 integers; at most 10000 are allowed$"),
        ("9" * 5000, r"^--seeds must be integers like 0,1,2 or ranges like 1-10, got '9{60}'\.\.\.$"),
        (str(INT_BOUND + 1), r"^--seeds holds an integer outside"),
        ("5-2", r"^--seeds must be integers like 0,1,2 or ranges like 1-10, got '5-2'$"),
        ("a", r"must be integers like"),
        ("1.5", r"must be integers like"),
        ("", r"^--seeds must name at least one integer, got ''$"),
        (",", r"^--seeds must name at least one integer"),
        (None, r"must be integers like"),
        (True, r"must be integers like"),
        ([1, 2], r"must be integers like"),
    ],
)
def test_bad_lists_are_one_line_and_bounded(text, pattern: str) -> None:
    with pytest.raises(DiffbenchError, match=pattern) as info:
        parse_int_list(text, "--seeds")
    assert "\n" not in str(info.value) and len(str(info.value)) < 200


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet="0123456789-, x", max_size=40))
def test_any_text_gives_a_bounded_list_or_one_error(text: str) -> None:
    try:
        out = parse_int_list(text, "--seeds")
    except DiffbenchError as exc:
        assert "\n" not in str(exc)
        return
    assert 1 <= len(out) <= MAX_INT_LIST and all(-INT_BOUND <= v <= INT_BOUND for v in out)
