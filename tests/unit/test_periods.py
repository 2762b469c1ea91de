"""Every period rule (kpialign.core.periods): parsing, ranges, month indexes, windows, filters."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from kpialign.core import periods
from kpialign.core.errors import Refused
from kpialign.core.periods import PeriodError, parse_period


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2025-03", "2025-03"), (" 2025-12 ", "2025-12"), ("2025-Q1", "2025-Q1"), ("2025-q4", "2025-Q4")],
)
def test_parse_period_valid(text, expected):
    assert str(periods.parse_period(text)) == expected


@pytest.mark.parametrize(
    "text", ["2025-13", "2025-00", "2025-3", "25-03", "2025-Q5", "2025-Q0", "2025/03", "", "1800-01"]
)
def test_parse_period_invalid(text):
    with pytest.raises(PeriodError):
        periods.parse_period(text)


def test_parse_period_frequency_mismatch():
    with pytest.raises(PeriodError, match="quarterly period but the KPI is monthly"):
        periods.parse_period("2025-Q1", frequency="monthly")
    with pytest.raises(PeriodError, match="monthly period but the KPI is quarterly"):
        periods.parse_period("2025-01", frequency="quarterly")


def test_periods_between_crosses_years():
    assert periods.periods_between("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert periods.periods_between("2024-Q4", "2025-Q2") == ["2024-Q4", "2025-Q1", "2025-Q2"]
    assert periods.periods_between("2025-05", "2025-05") == ["2025-05"]
    with pytest.raises(PeriodError, match="different frequencies"):
        periods.periods_between("2025-01", "2025-Q2")
    with pytest.raises(PeriodError, match="comes after"):
        periods.periods_between("2025-03", "2025-01")


def test_period_of_and_recent_periods():
    assert periods.period_of(date(2025, 8, 31), "quarterly") == "2025-Q3"
    assert periods.period_of(date(2025, 8, 31), "monthly") == "2025-08"
    assert periods.recent_periods("monthly", count=3, until=date(2025, 2, 10)) == ["2024-12", "2025-01", "2025-02"]


def test_text_order_matches_period_order():
    every = periods.periods_between("2019-01", "2026-12")
    assert every == sorted(every)


def test_month_index_and_label():
    assert periods.month_index("2025-01") == 2025 * 12
    assert periods.month_index("2025-Q2") == 2025 * 12 + 5
    assert periods.month_label(periods.month_index("2024-12")) == "2024-12"
    with pytest.raises(PeriodError):
        periods.month_index("2025-13x")


def test_month_index_of_a_column_matches_each_value_in_place_and_names_the_first_bad_one():
    # A column repeats a few values (each parsed once): every row gets its own value's index,
    # computed here by hand, in the column's order.
    column = ["2026-03", "2025-Q4", "2026-03", "2024-q1", "2025-Q4", "2026-12", "2026-03"] * 50
    expected = []
    for text in column:
        year, rest = int(text[:4]), text[5:].upper()
        expected.append(year * 12 + (int(rest[1:]) * 3 if rest.startswith("Q") else int(rest)) - 1)
    got = periods.month_index(pd.Series(column))
    assert got.dtype == "int64" and got.tolist() == expected
    assert periods.month_index(pd.Series([], dtype="string")).tolist() == []
    with pytest.raises(PeriodError, match="'2026-13x' is not a period"):
        periods.month_index(pd.Series(["2026-01", "2026-13x", "2026-01", "1999-1x"]))  # not the first sorted


def test_month_and_quarter_helpers_of_the_demo_timeline():
    assert periods.month_periods("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]
    assert periods.quarter_of("2026-10") == "2026-Q4"
    assert periods.quarters_ending_in(["2026-02", "2026-03", "2026-04", "2026-06"]) == ["2026-Q1", "2026-Q2"]


def test_quarter_ends_and_trend_windows():
    assert periods.last_quarter_end(periods.month_index("2026-05")) == periods.month_index("2026-03")
    assert periods.last_quarter_end(periods.month_index("2026-06")) == periods.month_index("2026-06")
    m = periods.month_index("2026-05")
    assert periods.window_periods("monthly", m, 3) == ["2026-03", "2026-04", "2026-05"]
    assert periods.window_periods("quarterly", m, 6) == ["2025-Q4", "2026-Q1"]
    assert periods.first_day("2026-q3") == "2026-07-01" and periods.first_day("2026-11") == "2026-11-01"


def test_year_month_and_quarter_filters_and_utc_bounds():
    assert periods.period_filter(None)("1999-01")
    assert periods.period_filter("2026")("2026-Q1") and not periods.period_filter("2026")("2025-12")
    assert periods.period_filter("2026-q1")("2026-Q1") and not periods.period_filter("2026-Q1")("2026-03")
    assert periods.utc_bounds("2026-Q4") == (datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert periods.utc_bounds("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert periods.utc_bounds("2026")[1] == datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(PeriodError, match="2026-13"):
        periods.period_filter("2026-13")


def test_a_period_error_is_a_refusal_and_measurements_reexports_the_same_rules():
    assert issubclass(PeriodError, Refused)
    assert parse_period is periods.parse_period and PeriodError is PeriodError
