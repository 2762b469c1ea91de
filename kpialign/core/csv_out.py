"""The one safe CSV writer: every CSV file kpialign hands out goes through :func:`write_csv`.

RFC 4180 files that are safe to open in a spreadsheet:

- Quoting per RFC 4180 (csv module, QUOTE_MINIMAL) with CRLF line ends.
- UTF-8; a byte-order mark only for the "Excel" flavour (Excel needs it to read UTF-8).
- CSV/formula injection: a *text* cell that starts with = + - @ tab CR or LF is prefixed
  with an apostrophe, so a spreadsheet shows it as text instead of running it. Real numbers
  (int, float, Decimal, numpy numbers) are written as numbers: -5 stays -5, while the
  string "-2+3" becomes "'-2+3".
- Missing values (None, NaN, pd.NA, NaT) are empty cells; booleans are ``true``/``false``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal

import numpy as np
import pandas as pd

from kpialign.core.errors import KpialignError

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
UTF8_BOM = b"\xef\xbb\xbf"
CSV_MIME = "text/csv"


class CsvExportError(KpialignError, ValueError):
    """The data cannot be written as CSV (e.g. rows without column names)."""


def neutralise(text: str) -> str:
    """``text`` with an apostrophe in front if a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return False


def _number(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    # Shortest text that reads back as the same float (repr); integral floats keep their ".0".
    return repr(float(value))


def safe_cell(value: object) -> str:
    """The text written for one cell (see the module docstring for the rules)."""
    if _is_missing(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return _number(float(value))
    if isinstance(value, Decimal):
        return "" if value.is_nan() else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise(value)
    return neutralise(str(value))


# A column longer than this is written through its distinct values (a few hundred distinct
# answers or names in 10^5 rows): each distinct value is made text once, then repeated.
_BY_VALUE_ROWS = 256


def _float_cell(x: float) -> str:
    return "" if x != x else _number(x)  # x != x: NaN


def _float_cells(values: np.ndarray) -> list[str]:
    """Floats as :func:`safe_cell` writes them; NaN is empty."""
    values = values.astype("float64", copy=False)
    # here: a long column with repeats is made text once per distinct value; not with -0.0,
    # which np.unique merges with 0.0 although the two are written differently
    if len(values) > _BY_VALUE_ROWS and not (np.signbit(values) & (values == 0)).any():
        uniques, inverse = np.unique(values, return_inverse=True)
        if len(uniques) * 4 < len(values):
            texts = np.array([_float_cell(x) for x in uniques.tolist()], dtype=object)
            return texts[inverse].tolist()
    items = values.tolist()
    if np.isinf(values).any():
        return [_float_cell(x) for x in items]
    return [repr(x) if x == x else "" for x in items]  # finite: _number is repr; x == x: not NaN


def _text_cells(values: list) -> list[str]:
    """Cells of an object or string column: text neutralised, anything else through :func:`safe_cell`."""
    prefixes = FORMULA_PREFIXES
    return [
        ("'" + v if v.startswith(prefixes) else v)
        if type(v) is str
        else safe_cell(v)  # exact str: a subclass takes the slow path
        for v in values
    ]


def _int_cells(values: np.ndarray, missing: np.ndarray | None = None) -> list[str]:
    """Integers as :func:`safe_cell` writes them (``str``); ``missing`` cells are empty."""
    if len(values) <= _BY_VALUE_ROWS:
        if missing is None:
            return [str(x) for x in values.tolist()]
        return ["" if m else str(x) for x, m in zip(values.tolist(), missing.tolist(), strict=True)]
    uniques, inverse = np.unique(values, return_inverse=True)
    texts = np.array([*(str(x) for x in uniques.tolist()), ""], dtype=object)
    if missing is not None:
        inverse = np.where(missing, len(uniques), inverse)
    return texts[inverse].tolist()


def _string_cells(col: pd.Series) -> list[str]:
    """A pandas string column (every cell text or missing), neutralised once per distinct value."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)  # missing -> -1: the last text, ""
    texts = np.array([*(neutralise(str(u)) for u in uniques), ""], dtype=object)
    return texts[codes].tolist()


def _column_cells(col: pd.Series) -> list[str]:
    """The cells of one column, as :func:`safe_cell` writes them, a column at a time.

    Numpy and nullable (masked) numbers and booleans take a fast path (the same text as
    :func:`safe_cell`, without its per-cell type checks), so does plain text; any other cell
    goes through :func:`safe_cell`.
    """
    dtype = col.dtype
    kind = dtype.kind if isinstance(dtype, np.dtype) else ""
    if kind == "f":
        return _float_cells(col.to_numpy())
    if kind in ("i", "u"):
        return _int_cells(col.to_numpy())
    if kind == "b":
        return ["true" if x else "false" for x in col.to_numpy().tolist()]
    numpy_dtype = getattr(dtype, "numpy_dtype", None)  # here: pandas' masked Int64, Float64, boolean
    if isinstance(numpy_dtype, np.dtype) and numpy_dtype.kind in "fiub" and not isinstance(dtype, np.dtype):
        if numpy_dtype.kind == "f":
            return _float_cells(col.to_numpy(dtype="float64", na_value=np.nan))
        missing = col.isna().to_numpy(dtype=bool)
        if numpy_dtype.kind != "b":
            return _int_cells(col.to_numpy(dtype=numpy_dtype, na_value=0), missing)
        values = col.to_numpy(dtype=numpy_dtype, na_value=0).tolist()
        return ["" if m else ("true" if x else "false") for x, m in zip(values, missing.tolist(), strict=True)]
    if isinstance(dtype, pd.StringDtype) and len(col) > _BY_VALUE_ROWS:
        return _string_cells(col)
    return _text_cells(col.to_numpy(dtype=object).tolist())


def _rows(data: pd.DataFrame | Iterable, columns: Sequence[str] | None) -> tuple[list[str], Iterable[Sequence]]:
    if isinstance(data, pd.DataFrame):
        header = [str(c) for c in (columns if columns is not None else data.columns)]
        frame = data if columns is None else data[list(columns)]
        # here: a column at a time (the per-cell type checks were most of a large export's time)
        cells = [_column_cells(frame.iloc[:, i]) for i in range(frame.shape[1])]
        return header, zip(*cells, strict=True) if cells else ([] for _ in range(len(frame)))
    items = list(data)
    if items and isinstance(items[0], Mapping):
        header = [str(c) for c in (columns if columns is not None else items[0].keys())]
        return header, ([row.get(c) for c in header] for row in items)
    if columns is None:
        raise CsvExportError("write_csv: rows given as sequences need column names (columns=...).")
    return [str(c) for c in columns], items


def write_csv(
    rows_or_df: pd.DataFrame | Iterable[Mapping] | Iterable[Sequence],
    *,
    excel: bool = False,
    columns: Sequence[str] | None = None,
) -> bytes:
    """A safe CSV file (bytes) from a DataFrame, a list of dicts or a list of rows.

    ``excel=True`` adds the UTF-8 byte-order mark that Excel needs to detect UTF-8; the
    content is otherwise identical. The header row is neutralised like any text cell.
    """
    if isinstance(rows_or_df, pd.DataFrame):  # here: the one DataFrame path, streamed or not
        cols = list(columns) if columns is not None else list(rows_or_df.columns)
        return b"".join(iter_csv(rows_or_df, columns=cols, excel=excel))
    header, rows = _rows(rows_or_df, columns)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    width = len(header)
    for row in rows:
        cells = [safe_cell(v) for v in row]
        if len(cells) != width:
            raise CsvExportError(f"write_csv: a row has {len(cells)} cells but there are {width} columns.")
        writer.writerow(cells)
    data = buf.getvalue().encode("utf-8")
    return UTF8_BOM + data if excel else data


def iter_csv(
    frames: pd.DataFrame | Iterable[pd.DataFrame],
    *,
    columns: Sequence[str],
    excel: bool = False,
    chunk_rows: int = 20_000,
) -> Iterator[bytes]:
    """The bytes of :func:`write_csv` for DataFrames, as chunks (a streamed export).

    ``frames``: one DataFrame or an iterable of DataFrames (the file's rows in order, each frame
    holding ``columns``); a large frame is cut into pieces of ``chunk_rows`` rows, so that only one
    piece's cells exist as text at a time. The first chunk is the header (after the byte-order
    mark in the Excel flavour). ``b"".join(iter_csv(df, columns=df.columns))`` equals
    ``write_csv(df)`` byte for byte: the cells go through the same column-wise rules.
    """
    header = [str(c) for c in columns]
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    first = buf.getvalue().encode("utf-8")
    yield UTF8_BOM + first if excel else first
    for frame in [frames] if isinstance(frames, pd.DataFrame) else frames:
        for start in range(0, len(frame), max(1, chunk_rows)):
            piece = frame.iloc[start : start + chunk_rows]
            _, rows = _rows(piece, list(columns))
            buf.seek(0)
            buf.truncate()
            writer.writerows(rows)
            yield buf.getvalue().encode("utf-8")


def read_csv_rows(data: bytes) -> list[list[str]]:
    """Read a file written by :func:`write_csv` back into rows of strings (tests, previews)."""
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._]+")


def filename_part(text: str) -> str:
    """``text`` reduced to letters, digits, dots and underscores joined by dashes (for file names)."""
    return _UNSAFE_NAME.sub("-", text).strip("-.") or "all"


def export_filename(kind: str, scope: str | None, day: date, *, ext: str = "csv") -> str:
    """``kpialign-<kind>-<wave or period>-<YYYY-MM-DD>.csv``; the scope is left out when there is none."""
    parts = ["kpialign", filename_part(kind)]
    if scope:
        parts.append(filename_part(scope))
    parts.append(day.isoformat())
    return "-".join(parts) + "." + ext
