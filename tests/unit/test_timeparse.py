"""The fast date parser gives exactly strptime's answers and errors."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.connectors.timeparse import parser

FORMATS = ["%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y%m%d", "%d %b %Y"]


def strptime_or_error(text: str, fmt: str) -> datetime | str:
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        return "error"


def fast_or_error(text: str, fmt: str) -> datetime | str:
    try:
        return parser(fmt)(text)
    except ValueError:
        return "error"


@settings(max_examples=300, deadline=None, derandomize=True)
@given(fmt=st.sampled_from(FORMATS),
       text=st.text(alphabet="0123456789/-: aJnF", max_size=20)
       | st.datetimes(min_value=datetime(1000, 1, 1)).map(lambda d: d.strftime("%d/%m/%Y %H:%M")))
def test_same_answer_as_strptime(fmt: str, text: str) -> None:
    assert fast_or_error(text, fmt) == strptime_or_error(text, fmt)


@pytest.mark.parametrize("text,fmt", [
    ("07/03/2025 23:55", "%d/%m/%Y %H:%M"), ("7/3/2025 9:05", "%d/%m/%Y %H:%M"), ("31/02/2025", "%d/%m/%Y"),
    ("00/01/2025", "%d/%m/%Y"), ("2025-03-07 23:58:60", "%Y-%m-%d %H:%M:%S"), ("07/03/2025  23:55", "%d/%m/%Y %H:%M"),
    ("24/03/2025 24:00", "%d/%m/%Y %H:%M"), ("07 Mar 2025", "%d %b %Y"),
])
def test_edge_cases_match_strptime(text: str, fmt: str) -> None:
    assert fast_or_error(text, fmt) == strptime_or_error(text, fmt)
