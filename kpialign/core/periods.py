"""Every period rule in one place: parsing and validating ``YYYY-MM`` and ``YYYY-Qn``, month
indexes, labels, bounds, quarter ends and windows of periods.

Periods are strings: ``YYYY-MM`` for monthly KPIs and ``YYYY-Qn`` for quarterly ones. They sort
correctly as text within one frequency. Scoring months are integers ``year * 12 + month - 1``
("month index"); a quarter maps to its last month.

Pure functions (stdlib, numpy, pandas); a bad period raises :class:`PeriodError`, a
:class:`~kpialign.core.errors.Refused` whose message says how to write one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from kpialign.core.errors import Refused

MONTHLY = "monthly"
QUARTERLY = "quarterly"
_MONTHLY = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTERLY = re.compile(r"^(\d{4})-[Qq]([1-4])$")
MIN_YEAR, MAX_YEAR = 1900, 2200


class PeriodError(Refused):
    """A period string is not ``YYYY-MM`` or ``YYYY-Qn`` (or not of the kind asked for)."""


# ------------------------------------------------------------------------------ parsing


@dataclass(frozen=True, order=True)
class Period:
    """A parsed period; ``number`` is the month (1..12) or the quarter (1..4)."""

    year: int
    frequency_rank: int  # only for a stable order between frequencies (monthly first)
    number: int

    @property
    def frequency(self) -> str:
        return MONTHLY if self.frequency_rank == 0 else QUARTERLY

    @property
    def index(self) -> int:
        """Consecutive integer: periods of one frequency differ by 1 from one to the next."""
        per_year = 12 if self.frequency_rank == 0 else 4
        return self.year * per_year + (self.number - 1)

    def __str__(self) -> str:
        if self.frequency_rank == 0:
            return f"{self.year:04d}-{self.number:02d}"
        return f"{self.year:04d}-Q{self.number}"

    def shift(self, steps: int) -> Period:
        per_year = 12 if self.frequency_rank == 0 else 4
        idx = self.index + steps
        return Period(idx // per_year, self.frequency_rank, idx % per_year + 1)


def parse_period(text: str, *, frequency: str | None = None) -> Period:
    """Parse ``YYYY-MM`` or ``YYYY-Qn``; with ``frequency`` the period must be of that kind."""
    if not isinstance(text, str):
        raise PeriodError(f"A period must be text like 2025-03 or 2025-Q1, not {text!r}.")
    s = text.strip()
    m = _MONTHLY.match(s)
    if m:
        period = Period(int(m.group(1)), 0, int(m.group(2)))
    else:
        m = _QUARTERLY.match(s)
        if not m:
            raise PeriodError(f"{text!r} is not a period: write YYYY-MM (e.g. 2025-03) or YYYY-Qn (e.g. 2025-Q1).")
        period = Period(int(m.group(1)), 1, int(m.group(2)))
    if not MIN_YEAR <= period.year <= MAX_YEAR:
        raise PeriodError(f"{text!r}: the year must be between {MIN_YEAR} and {MAX_YEAR}.")
    if frequency is not None and period.frequency != frequency:
        example = "2025-03" if frequency == MONTHLY else "2025-Q1"
        raise PeriodError(f"{text!r} is a {period.frequency} period but the KPI is {frequency} (e.g. {example}).")
    return period


def normalise_period(text: str, *, frequency: str | None = None) -> str:
    """The canonical spelling of a period (``2025-q1`` -> ``2025-Q1``)."""
    return str(parse_period(text, frequency=frequency))


# ----------------------------------------------------------------------- days and ranges


def period_of(day: date, frequency: str) -> str:
    """The period that contains ``day``."""
    if frequency == MONTHLY:
        return f"{day.year:04d}-{day.month:02d}"
    if frequency == QUARTERLY:
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    raise PeriodError(f"Unknown frequency {frequency!r}: use monthly or quarterly.")


def periods_between(start: str, end: str) -> list[str]:
    """Every period from ``start`` to ``end`` inclusive (both of the same frequency)."""
    a, b = parse_period(start), parse_period(end)
    if a.frequency != b.frequency:
        raise PeriodError(f"{start!r} and {end!r} are of different frequencies.")
    if b.index < a.index:
        raise PeriodError(f"{start!r} comes after {end!r}.")
    if b.index - a.index > 12 * 300:
        raise PeriodError("That range of periods is too long.")
    return [str(a.shift(i)) for i in range(b.index - a.index + 1)]


def recent_periods(frequency: str, *, count: int, until: date | None = None) -> list[str]:
    """The ``count`` periods up to and including the one containing ``until`` (default: today)."""
    last = parse_period(period_of(until or date.today(), frequency))
    return [str(last.shift(-i)) for i in range(count - 1, -1, -1)]


def complete_periods(frequency: str, start: date, end: date) -> list[str]:
    """The periods of ``frequency`` that end between ``start`` and ``end`` (a quarter still running is left out)."""
    periods = period_range_for(frequency, start, end)
    return [p for p in periods if start <= period_bounds(p)[1] <= end]


def period_bounds(period: str) -> tuple[date, date]:
    """The first and last day of a period."""
    p = parse_period(period)
    first_month = p.number if p.frequency_rank == 0 else 3 * (p.number - 1) + 1
    last_month = first_month if p.frequency_rank == 0 else first_month + 2
    first = date(p.year, first_month, 1)
    after = date(p.year + (last_month == 12), last_month % 12 + 1, 1)
    return first, date.fromordinal(after.toordinal() - 1)


def period_range_for(frequency: str, start_day: date, end_day: date) -> list[str]:
    """The periods of ``frequency`` that overlap ``start_day``..``end_day``."""
    return periods_between(period_of(start_day, frequency), period_of(end_day, frequency))


def first_day(period: str) -> str:
    """``YYYY-MM-01`` of the period's first month (a quarter starts in month 3n-2)."""
    p = period.upper()
    if "Q" in p:
        year, q = p.split("-Q")
        return f"{year}-{3 * int(q) - 2:02d}-01"
    return period + "-01"


# ----------------------------------------------------------- year, month or quarter filters


def _is_year(text: str) -> bool:
    return len(text) == 4 and text.isdigit()


def period_filter(period: str | None) -> Callable[[str], bool]:
    """A predicate on period strings: every period, one year (``YYYY``), or one period."""
    if not period:
        return lambda _p: True
    p = period.strip()
    if _is_year(p):
        return lambda x: x.startswith(p + "-")
    canonical = normalise_period(p)
    return lambda x: x == canonical


def utc_bounds(period: str | None) -> tuple[datetime | None, datetime | None]:
    """``[start, end)`` in UTC of a year (``YYYY``), month or quarter; ``(None, None)`` for none."""
    if not period:
        return None, None
    p = period.strip()
    if _is_year(p):
        y = int(p)
        return datetime(y, 1, 1, tzinfo=UTC), datetime(y + 1, 1, 1, tzinfo=UTC)
    parsed = parse_period(p)
    months = 1 if parsed.frequency == MONTHLY else 3
    first = parsed.number if months == 1 else 3 * (parsed.number - 1) + 1
    start = datetime(parsed.year, first, 1, tzinfo=UTC)
    end_month = first + months
    end = datetime(parsed.year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=UTC)
    return start, end


# ------------------------------------------------------------------------- month indexes


def month_index(period: Any) -> Any:
    """Month index ``year*12 + month-1`` of ``YYYY-MM``; a quarter ``YYYY-Qn`` maps to its last month.

    Works on one string or a pandas Series (vectorised).
    """
    if isinstance(period, str):
        return int(month_index(pd.Series([period]))[0])
    # A column of periods repeats a few dozen values: parse each distinct one once (in order of
    # first appearance, so the first bad value is the one reported) and spread the results back.
    codes, distinct = pd.factorize(pd.Series(period, dtype="string"), use_na_sentinel=False)
    s = pd.Series(distinct, dtype="string")
    year = pd.to_numeric(s.str.slice(0, 4), errors="coerce")
    rest = s.str.slice(5)
    is_q = rest.str.upper().str.startswith("Q")
    num = pd.to_numeric(rest.str.upper().str.lstrip("Q"), errors="coerce")
    month = num.where(~is_q, num * 3)
    idx = year * 12 + month - 1
    if idx.isna().any():
        bad = s[idx.isna()].iloc[0]
        raise PeriodError(f"{bad!r} is not a period: write YYYY-MM or YYYY-Qn.")
    return idx.astype("int64").to_numpy()[codes]


def month_label(idx: Any) -> Any:
    """``YYYY-MM`` for a month index (scalar or array)."""
    if np.ndim(idx) == 0:
        i = int(idx)
        return f"{i // 12:04d}-{i % 12 + 1:02d}"
    return [month_label(i) for i in np.asarray(idx)]


def month_of_day(day: Any) -> int:
    """The month index of a date."""
    return int(day.year) * 12 + int(day.month) - 1


def last_quarter_end(month: int) -> int:
    """The month index of the last quarter end at or before ``month``."""
    return month - ((month % 12) + 1) % 3


def window_periods(frequency: str, month: int, n: int) -> list[str]:
    """The periods of ``frequency`` in the ``n`` months up to month index ``month`` (quarters: their ends)."""
    if frequency == QUARTERLY:
        end = last_quarter_end(month)
        ends = range(end - 3 * (max(n // 3, 1) - 1), end + 1, 3)
        return [f"{m // 12:04d}-Q{(m % 12) // 3 + 1}" for m in ends]
    return [month_label(m) for m in range(month - n + 1, month + 1)]


def month_periods(end: str, n: int) -> list[str]:
    """The ``n`` monthly periods ``YYYY-MM`` ending with ``end`` (oldest first)."""
    idx = month_index(end)
    return [month_label(i) for i in range(idx - n + 1, idx + 1)]


def quarter_of(month: str) -> str:
    """The quarter ``YYYY-Qn`` that contains the month ``YYYY-MM``."""
    y, m = month.split("-")
    return f"{y}-Q{(int(m) - 1) // 3 + 1}"


def quarters_ending_in(months: list[str]) -> list[str]:
    """Quarters whose last month falls inside ``months``."""
    return [quarter_of(m) for m in months if int(m[5:]) % 3 == 0]
