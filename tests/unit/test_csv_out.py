"""The safe CSV writer (kpialign.services.kpi_import export section): quoting, encoding, formula injection."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from kpialign.core import csv_out

PAYLOADS = ['=HYPERLINK("http://x","y")', "@SUM(1)", "\t=1", "-2+3", "+1", "\r=1", "\n=1", "=1+1"]


def _read(data: bytes) -> list[list[str]]:
    assert not data.startswith(csv_out.UTF8_BOM)
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_payloads_prefixed_numbers_unchanged() -> None:
    df = pd.DataFrame(
        {
            "text": PAYLOADS,
            "int": [-5, 0, 7, -1, 3, 2, 1, -100],
            "float": [-5.0, 0.25, float("nan"), -1.5, 1e-7, 2.0, -0.0, 3.5],
        }
    )
    rows = _read(csv_out.write_csv(df))
    assert rows[0] == ["text", "int", "float"]
    body = rows[1:]
    assert [r[0] for r in body] == ["'" + p for p in PAYLOADS]
    assert [r[1] for r in body] == ["-5", "0", "7", "-1", "3", "2", "1", "-100"]
    assert [r[2] for r in body] == ["-5.0", "0.25", "", "-1.5", "1e-07", "2.0", "-0.0", "3.5"]
    # Numbers read back as the same numbers.
    assert [float(r[2]) for r in body if r[2]] == [v for v in df["float"] if v == v]


def test_text_that_looks_harmless_is_untouched() -> None:
    values = ["Sales", "2+3", "a=b", " =1", "'quoted", "Ünïcødé — ok", "", "x-y"]
    rows = _read(csv_out.write_csv([{"v": v} for v in values]))
    assert [r[0] for r in rows[1:]] == values


def test_rfc4180_quoting_and_crlf() -> None:
    data = csv_out.write_csv([{"a": 'say "hi"', "b": "x,y", "c": "line1\nline2", "d": "plain"}])
    assert data == b'a,b,c,d\r\n"say ""hi""","x,y","line1\nline2",plain\r\n'
    assert _read(data)[1] == ['say "hi"', "x,y", "line1\nline2", "plain"]


def test_excel_flavour_adds_bom_only() -> None:
    df = pd.DataFrame({"department": ["Zürich", "=cmd"], "n": [5, 6]})
    plain = csv_out.write_csv(df)
    excel = csv_out.write_csv(df, excel=True)
    assert excel == csv_out.UTF8_BOM + plain
    assert not plain.startswith(csv_out.UTF8_BOM)
    expected = [["department", "n"], ["Zürich", "5"], ["'=cmd", "6"]]
    assert csv_out.read_csv_rows(excel) == csv_out.read_csv_rows(plain) == expected


def test_missing_bool_dates_numpy_decimal() -> None:
    row = {
        "none": None,
        "na": pd.NA,
        "nat": pd.NaT,
        "nan": np.float64("nan"),
        "t": True,
        "f": np.bool_(False),
        "i64": np.int64(-5),
        "dec": Decimal("-2.50"),
        "day": date(2026, 11, 27),
        "at": datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
    }
    rows = _read(csv_out.write_csv([row]))
    assert rows[1] == ["", "", "", "", "true", "false", "-5", "-2.50", "2026-11-27", "2026-11-27T09:30:00+00:00"]


def test_nullable_pandas_columns() -> None:
    df = pd.DataFrame(
        {
            "n": pd.array([5, None], dtype="Int64"),
            "pct": pd.array([0.5, None], dtype="Float64"),
            "s": pd.array(["-x", None], dtype="string"),
            "flag": pd.array([True, None], dtype="boolean"),
        }
    )
    assert _read(csv_out.write_csv(df))[1:] == [["5", "0.5", "'-x", "true"], ["", "", "", ""]]


def test_header_is_neutralised_and_columns_selectable() -> None:
    df = pd.DataFrame({"=evil": [1], "ok": [2]})
    assert _read(csv_out.write_csv(df))[0] == ["'=evil", "ok"]
    assert _read(csv_out.write_csv(df, columns=["ok"])) == [["ok"], ["2"]]


def test_sequence_rows_need_columns() -> None:
    with pytest.raises(csv_out.CsvExportError):
        csv_out.write_csv([[1, 2]])
    assert csv_out.write_csv([[1, "-1"]], columns=["a", "b"]) == b"a,b\r\n1,'-1\r\n"
    with pytest.raises(csv_out.CsvExportError):
        csv_out.write_csv([[1]], columns=["a", "b"])


def test_empty_frame_has_header_only() -> None:
    assert csv_out.write_csv(pd.DataFrame(columns=["a", "b"])) == b"a,b\r\n"


def test_export_filename() -> None:
    day = date(2026, 11, 27)
    assert csv_out.export_filename("results", "2026-Q3", day) == "kpialign-results-2026-Q3-2026-11-27.csv"
    assert csv_out.export_filename("results", "Pulse 2026 / Q3", day) == "kpialign-results-Pulse-2026-Q3-2026-11-27.csv"
    assert csv_out.export_filename("audit", None, day) == "kpialign-audit-2026-11-27.csv"
    assert csv_out.export_filename("kpis", "../../etc", day) == "kpialign-kpis-etc-2026-11-27.csv"


@pytest.mark.parametrize("repeat", [1, 120])
def test_a_dataframe_is_written_column_by_column_exactly_as_cell_by_cell(repeat):
    """The column-wise fast path writes the very bytes the per-cell rules give, for every dtype;
    ``repeat``: 600 rows take the paths that make each distinct value text once."""
    import csv
    import io
    from datetime import date
    from decimal import Decimal

    import numpy as np
    import pandas as pd

    from kpialign.core import csv_out

    frame = pd.DataFrame(
        {
            "float": [1.5, float("nan"), float("inf"), -0.0, 1e-05],
            "float32": np.array([0.1, 2.0, np.nan, -3.5, 7.25], dtype="float32"),
            "int": [1, -2, 3, 0, 10**12],
            "bool": [True, False, True, False, True],
            "text": ["=SUM(A1)", "-2+3", "plain", "@x", None],
            "nullable": pd.array([1, None, 3, None, 5], dtype="Int64"),
            "string": pd.array(["a", None, "+1", "b", "\tc"], dtype="string"),
            "category": pd.Categorical(["x", "y", "x", None, "=z"]),
            "day": [date(2026, 1, d) for d in range(1, 6)],
            "decimal": [Decimal("1.10"), Decimal("NaN"), Decimal("-2"), Decimal("0"), Decimal("3.5")],
            "masked_float": pd.array([0.1, None, float("inf"), -2.0, 1e16], dtype="Float64"),
            "masked_bool": pd.array([True, None, False, True, None], dtype="boolean"),
            "masked_uint": pd.array([0, 255, None, 7, 1], dtype="UInt8"),
            "str": pd.Series(["x", "=1", None, "+", "y"], dtype="str"),
            "mixed": [1, "=a", 2.5, True, float("nan")],
        }
    )
    frame = pd.concat([frame] * repeat, ignore_index=True)
    if repeat > 1:  # here: many distinct values too, not only repeats
        frame["int"] = frame["int"] * np.arange(len(frame))
        frame["nullable"] = frame["nullable"] - pd.array(np.arange(len(frame)), dtype="Int64")
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(list(frame.columns))
    for row in frame.itertuples(index=False, name=None):
        writer.writerow([csv_out.safe_cell(v) for v in row])
    assert csv_out.write_csv(frame) == buf.getvalue().encode("utf-8")


def test_streamed_chunks_join_to_the_very_bytes_of_write_csv():
    """iter_csv: header first, then the rows a piece at a time; joined, the file write_csv gives."""
    frame = pd.DataFrame(
        {
            "name": [f"=row{i}" if i % 3 == 0 else f"row {i}" for i in range(25)],
            "n": pd.array([i if i % 4 else None for i in range(25)], dtype="Int64"),
            "share": [i / 7 for i in range(25)],
        }
    )
    pieces = [frame.iloc[:10], frame.iloc[10:10], frame.iloc[10:]]
    for excel in (False, True):
        chunks = list(csv_out.iter_csv(pieces, columns=list(frame.columns), excel=excel, chunk_rows=4))
        assert b"".join(chunks) == csv_out.write_csv(frame, excel=excel)
        assert chunks[0] == (csv_out.UTF8_BOM if excel else b"") + b"name,n,share\r\n"
        # 10 rows -> 3 pieces of at most 4 rows, an empty frame -> none, 15 rows -> 4 pieces
        assert [c.count(b"\r\n") for c in chunks[1:]] == [4, 4, 2, 4, 4, 4, 3]
