"""Review packs: one PDF per department and period, and the organisation pack (an overview
page, then one page per department).

Why fpdf2: it is pure Python and installs from PyPI alone (requirements.txt), so a fresh
machine needs nothing from the system; WeasyPrint would need Pango and its fonts from the
operating system, and reportlab's open-source edition is larger for what a few tables and
images need. Charts are Altair charts (kpialign.charts) rendered to PNG by vl-convert-python,
Altair's own export backend, so the pack shows the portal's charts.

The text font is DejaVu Sans (Debian's ``fonts-dejavu-core``, installed by ``make test``)
when it is on the machine, so any name prints; otherwise the PDF core font Helvetica with
characters outside Latin-1 replaced by "?". User text is printed as plain text (never
markdown). Survey figures come from the scorecard, so they are from closed waves only and
suppressed as on the portal's pages.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

import altair as alt
import pandas as pd
import vl_convert
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from sqlmodel import Session

from kpialign import charts
from kpialign.core.errors import Refused
from kpialign.scorecard import review_brief
from kpialign.scorecard.model import Scorecard
from kpialign.scorecard.review_brief import ReviewBrief

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
CHART_SCALE = 1.6  # PNG pixels per chart pixel: sharp on paper, small files
POOL_FROM = 12  # departments from which an organisation pack renders its charts in worker processes
STATUS_FILL = {"green": (200, 230, 201), "amber": (255, 224, 178), "red": (255, 205, 210)}
CONFIDENTIAL = (
    "Confidential, not anonymous: survey figures come from closed waves and from at least k responses; "
    "smaller groups are hidden."
)


class ReportError(Refused):
    """A pack cannot be made; the message is safe to show."""


def _font_files() -> tuple[Path, Path] | None:
    for d in FONT_DIRS:
        regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            return regular, bold
    return None


def chart_spec(chart: alt.TopLevelMixin) -> dict:
    """The Vega-Lite spec of a chart (what vl-convert renders)."""
    # here: the builders are tested charts; Altair's schema validation costs more than the render
    return chart.to_dict(validate=False)


def render_png(chart: alt.TopLevelMixin) -> bytes:
    """An Altair chart as PNG through vl-convert (Altair's export backend)."""
    return vl_convert.vegalite_to_png(chart_spec(chart), scale=CHART_SCALE)


# One worker: Vega-Lite specs in (length-prefixed JSON on stdin), PNGs out (status byte, length,
# bytes on stdout). A plain ``python -c`` process imports vl_convert and nothing else, so it
# starts in a fraction of a second from a Streamlit server as from the CLI (multiprocessing's
# spawn would re-import the parent's main module; fork is unsafe in a threaded server).
_WORKER = r"""
import json, struct, sys
import vl_convert
src, out = sys.stdin.buffer, sys.stdout.buffer
scale = float(sys.argv[1])
while True:
    head = src.read(8)
    if len(head) < 8:
        break
    spec = json.loads(src.read(struct.unpack(">Q", head)[0]))
    try:
        png, status = vl_convert.vegalite_to_png(spec, scale=scale), b"\0"
    except Exception as exc:
        png, status = repr(exc).encode(), b"\1"
    out.write(status + struct.pack(">Q", len(png)) + png)
    out.flush()
"""


def pool_size() -> int:
    """Worker processes for a long pack's charts: one per core, at most 4."""
    return max(1, min(os.cpu_count() or 1, 4))


class ChartPool:
    """Renders charts to PNG in a few worker processes while the caller writes the PDF.

    vl-convert keeps Python's GIL for the whole render (~0.1 s of a JavaScript runtime per
    chart), so threads cannot overlap it with the PDF layout; processes can. ``submit`` returns
    a ticket at once; ``result(ticket)`` waits for that chart. A worker that cannot start or
    fails leaves its charts to be rendered here, so the pack is the same either way.
    """

    def __init__(self, workers: int, *, scale: float = CHART_SCALE):
        self.scale = scale
        self._specs: dict[int, dict] = {}
        self._done: dict[int, bytes | None] = {}
        self._ready = threading.Condition()
        self._next = 0
        self._workers: list[tuple[subprocess.Popen, queue.SimpleQueue, list[int]]] = []
        for _ in range(workers):
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-c", _WORKER, str(scale)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            except OSError:
                break
            inbox: queue.SimpleQueue = queue.SimpleQueue()
            tickets: list[int] = []
            threading.Thread(target=self._feed, args=(proc, inbox), daemon=True).start()
            threading.Thread(target=self._drain, args=(proc, tickets), daemon=True).start()
            self._workers.append((proc, inbox, tickets))

    def __enter__(self) -> ChartPool:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(abandon=exc_type is not None)

    def submit(self, spec: dict) -> int:
        ticket = self._next
        self._next += 1
        self._specs[ticket] = spec
        with self._ready:  # here: under the lock, so a worker that dies now still hands this ticket back
            if not self._workers:
                return ticket
            _, inbox, tickets = self._workers[ticket % len(self._workers)]
            tickets.append(ticket)
        inbox.put(json.dumps(spec).encode())
        return ticket

    def result(self, ticket: int) -> bytes:
        with self._ready:
            while self._workers and ticket not in self._done:
                self._ready.wait()
            png = self._done.pop(ticket, None)
        spec = self._specs.pop(ticket)
        return png if png is not None else vl_convert.vegalite_to_png(spec, scale=self.scale)

    def close(self, *, abandon: bool = False) -> None:
        """Let the workers finish and exit (``abandon``: stop them now, their charts are not needed)."""
        with self._ready:
            workers = list(self._workers)
        for proc, inbox, _ in workers:
            if abandon:
                proc.kill()
            inbox.put(None)
        for proc, _, _ in workers:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @staticmethod
    def _feed(proc: subprocess.Popen, inbox: queue.SimpleQueue) -> None:
        stdin = proc.stdin
        assert stdin is not None
        try:
            while (data := inbox.get()) is not None:
                stdin.write(struct.pack(">Q", len(data)) + data)
                stdin.flush()
        except OSError:
            pass  # the worker died: _drain hands its charts back
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _drain(self, proc: subprocess.Popen, tickets: list[int]) -> None:
        stdout = proc.stdout
        assert stdout is not None
        served = 0
        try:
            while len(head := stdout.read(9)) == 9:
                body = stdout.read(struct.unpack(">Q", head[1:])[0])
                with self._ready:
                    self._done[tickets[served]] = body if head[:1] == b"\0" else None
                    served += 1
                    self._ready.notify_all()
        finally:
            with self._ready:  # here: the worker is gone; whatever it did not render is rendered by result()
                for ticket in tickets[served:]:
                    self._done.setdefault(ticket, None)
                self._workers = [w for w in self._workers if w[0] is not proc]
                self._ready.notify_all()


def _pct(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def _num(x: object) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return "–"
    return f"{float(x):,.4g}" if isinstance(x, float | int) else str(x)


class Pack(FPDF):
    """A4 portrait with a running footer (title, page number)."""

    def __init__(self, title: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.pack_title = title
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(14, 12, 14)
        fonts = _font_files()
        self.unicode = fonts is not None
        if fonts is not None:
            self.add_font("Body", "", str(fonts[0]))
            self.add_font("Body", "B", str(fonts[1]))
            self.family = "Body"
        else:
            self.family = "Helvetica"
        self.set_title(title)
        self.set_creator("kpialign")
        self._char_units: dict[str, dict[str, float]] = {}

    def t(self, text: object) -> str:
        """Text safe for the font in use (user text stays plain text)."""
        s = "" if text is None else str(text)
        return s if self.unicode else s.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.family, "", 7)
        self.set_text_color(110)
        self.cell(0, 4, self.t(f"{self.pack_title}  ·  page {self.page_no()}/{{nb}}"), align="R")
        self.set_text_color(0)

    # -- building blocks ------------------------------------------------------------
    def h1(self, text: str) -> None:
        self.set_font(self.family, "B", 15)
        self.multi_cell(0, 7, self.t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def h2(self, text: str) -> None:
        if self.get_y() > self.h - 40:
            self.add_page()
        self.ln(2)
        self.set_font(self.family, "B", 11)
        self.cell(0, 6, self.t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(180)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1.5)

    def para(self, text: str, *, size: float = 9, bold: bool = False, grey: bool = False) -> None:
        """A paragraph, wrapped at spaces and left-aligned (one cell per line)."""
        self.set_font(self.family, "B" if bold else "", size)
        if grey:
            self.set_text_color(90)
        self.x = self.l_margin
        for line in self.wrap(self.t(text), self.w - self.r_margin - self.l_margin - 2 * self.c_margin):
            self.cell(0, size * 0.5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)

    # here: fpdf2's multi_cell measures every prefix of a line while it wraps (quadratic in the
    # line's length), and fit() measured a cell up to ten times: together most of a page's layout.
    # Both now add up per-character widths, looked up once per font.
    def _units(self, text: str) -> list[float]:
        font = self.current_font
        table = self._char_units.setdefault(font.fontkey, {})
        out = []
        for c in text:
            u = table.get(c)
            if u is None:
                u = table[c] = font.get_text_width(c, 1000.0, None)[1]
            out.append(u)
        return out

    def text_width(self, text: str) -> float:
        """Width of ``text`` in mm in the current font and size (as ``get_string_width``)."""
        return sum(self._units(text)) * self.font_size_pt * 0.001 / self.k

    def wrap(self, text: str, width: float) -> list[str]:
        """``text`` broken into lines of at most ``width`` mm: at spaces, inside a word only if it is longer."""
        scale = self.font_size_pt * 0.001 / self.k
        space = self._units(" ")[0] * scale
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line, used = "", 0.0
            for word in paragraph.split(" "):
                w = sum(self._units(word)) * scale
                if line and used + space + w <= width:
                    line, used = f"{line} {word}", used + space + w
                    continue
                if line:
                    lines.append(line)
                while w > width and len(word) > 1:  # a word longer than a line: cut it
                    cut = self._fitting(self._units(word), width / scale)
                    lines.append(word[:cut])
                    word = word[cut:]
                    w = sum(self._units(word)) * scale
                line, used = word, w
            lines.append(line)
        return lines

    @staticmethod
    def _fitting(units: list[float], room: float) -> int:
        """How many characters of these widths fit in ``room`` (at least one)."""
        acc = 0.0
        for i, u in enumerate(units):
            if acc + u > room:
                return max(i, 1)
            acc += u
        return len(units)

    def grid(
        self,
        header: list[str],
        rows: Iterable[list[object]],
        widths: list[float],
        *,
        size: float = 8,
        fills: list[tuple[int, int, int] | None] | None = None,
        fill_col: int | None = None,
    ) -> None:
        rows = list(rows)
        self.set_font(self.family, "", size)
        with self.table(
            col_widths=tuple(widths),
            text_align="LEFT",
            line_height=size * 0.5,
            first_row_as_headings=True,
            headings_style=FontFace(emphasis="BOLD", fill_color=(238, 238, 238)),
            borders_layout="HORIZONTAL_LINES",
            padding=0.8,
        ) as tab:
            head = tab.row()
            for h in header:
                head.cell(self.t(h))
            for i, values in enumerate(rows):
                r = tab.row()
                for j, v in enumerate(values):
                    colour = fills[i] if fills is not None and j == fill_col else None
                    if colour is not None:
                        r.cell(self.t(v), style=FontFace(fill_color=colour))
                    else:
                        r.cell(self.t(v))
        self.ln(1)

    def fit(self, text: str, width: float) -> str:
        """``text`` cut with an ellipsis to fit ``width`` mm in the current font."""
        units = self._units(text)
        limit = width / (self.font_size_pt * 0.001 / self.k)
        if sum(units) <= limit:
            return text
        room = limit - self._units("…")[0]
        cut = self._fitting(units, room)
        return text[: cut if sum(units[:cut]) <= room else 0] + "…"

    def rows(
        self,
        header: list[str],
        rows: Iterable[list[object]],
        widths: list[float],
        *,
        size: float = 7.5,
        fills: list[tuple[int, int, int] | None] | None = None,
        fill_col: int | None = None,
    ) -> None:
        """A one-line-per-row table (cells cut to fit): the organisation pack's fast layout."""
        height = size * 0.55
        self.set_font(self.family, "B", size)
        self.set_fill_color(238, 238, 238)
        for h, w in zip(header, widths, strict=True):
            self.line_cell(w, height, self.t(h), fill=True)
        self.ln(height)
        self.set_font(self.family, "", size)
        self.set_draw_color(220)
        for i, values in enumerate(rows):
            if self.get_y() + height > self.h - self.b_margin:
                self.add_page()
            for j, (v, w) in enumerate(zip(values, widths, strict=True)):
                colour = fills[i] if fills is not None and j == fill_col else None
                if colour is not None:
                    self.set_fill_color(*colour)
                self.line_cell(w, height, self.fit(self.t(v), w - 1), bottom=True, fill=colour is not None)
            self.ln(height)
        self.ln(1)

    def line_cell(self, w: float, h: float, text: str, *, fill: bool = False, bottom: bool = False) -> None:
        """What ``cell(w, h, text, border="B" if bottom else 0, fill=fill)`` draws for one line of plain
        text that fits, without cell()'s text layout machinery (a table row is mostly cells)."""
        x, y = self.x, self.y
        if fill:
            self.rect(x, y, w, h, style="F")
        if bottom:
            self.line(x, y + h, x + w, y + h)
        if text:
            self.text(x + self.c_margin, y + 0.5 * h + 0.3 * self.font_size, text)
        self.x = x + w

    def chart(self, png: bytes, *, width: float) -> None:
        self.image(io.BytesIO(png), x=self.l_margin, w=width)
        self.ln(1)


# ------------------------------------------------------------------------------ sections


def _scores_line(b: ReviewBrief) -> str:
    s = b.scores
    u = "hidden (fewer than k responses)" if s["u_suppressed"] else _pct(s["understanding"])
    a = (
        "–"
        if math.isnan(s["alignment"])
        else f"{s['alignment']:.1f} ({s['status']}{', partial' if s['partial'] else ''})"
    )
    return (
        f"Alignment score A {a}   ·   Performance P {_pct(s['performance'])}   ·   Understanding U {u}   ·   "
        f"Coverage C {_pct(s['coverage'])}   ·   {s['n_with_data']} of {s['n_kpis']} KPIs with data"
    )


def _kpi_rows(b: ReviewBrief) -> tuple[list[list[object]], list]:
    rows, fills = [], []
    for k in b.kpis.itertuples(index=False):
        target = f"{_num(k.range_low)} to {_num(k.range_high)}" if k.polarity == "range" else _num(k.target)
        rows.append(
            [
                k.name,
                k.period_used if isinstance(k.period_used, str) else "–",
                _num(k.actual) + (f" {k.unit}" if k.unit and not pd.isna(k.actual) else ""),
                target,
                "–" if pd.isna(k.attainment_pct) else f"{k.attainment_pct:.0f}%",
                k.status,
                k.trend,
                k.checkin_status or "none",
            ]
        )
        fills.append(STATUS_FILL.get(str(k.status)))
    return rows, fills


def _actions_rows(frame: pd.DataFrame) -> list[list[object]]:
    out = []
    for a in frame.itertuples(index=False):
        link = a.kpi or (f"{a.question} ({a.wave})" if a.question else "") or a.objective
        due = a.due_on.isoformat() if a.due_on else "–"
        out.append([a.title, a.owner or "–", due + (" OVERDUE" if a.overdue else ""), a.status_label, link])
    return out


def _department_section(pdf: Pack, b: ReviewBrief, *, compact: bool, today: date, png: bytes | None) -> None:
    pdf.h1(f"{b.department} — review {b.period}")
    survey = (
        f"survey {b.wave}" + (f" vs {b.previous_wave}" if b.previous_wave else "") if b.wave else "no closed survey"
    )
    pdf.para(f"Prepared {today.isoformat()} · KPIs as of {b.scored_month or '–'} · {survey}", grey=True, size=8)
    if b.review:
        r = b.review
        held = r["held_on"].isoformat() if r.get("held_on") else "not yet held"
        signed = f"; signed off by {r['signed_off_by']}" if r.get("signed_off_by") else ""
        pdf.para(f"Review: {held}{signed}" + ("; period locked" if b.locked else ""), size=8)
        for label, key in (("Attendees", "attendees"), ("Summary", "summary"), ("Decisions", "decisions")):
            if r.get(key) and not compact:
                pdf.para(f"{label}: {r[key]}", size=8)
    pdf.ln(1)
    pdf.para(_scores_line(b), size=8.5, bold=True)

    pdf.h2("KPIs")
    if b.kpis.empty:
        pdf.para("This department has no active KPIs.")
    else:
        rows, fills = _kpi_rows(b)
        widths = [48, 16, 24, 20, 18, 14, 12, 30]
        header = ["KPI", "period", "actual", "target", "attain.", "status", "trend", "check-in"]
        if compact:
            pdf.rows(header, rows, widths, fills=fills, fill_col=5)
        else:
            pdf.grid(header, rows, widths, fills=fills, fill_col=5)
        if png is not None:
            pdf.chart(png, width=182 if not compact else 170)
            pdf.para(
                "Blue: actual; green dashed: target."
                if not compact
                else "Attainment % per KPI; green dashed: target (100 %); amber and grey: status thresholds.",
                size=7,
                grey=True,
            )

    pdf.h2("Check-ins")
    notes = b.kpis[b.kpis["has_checkin"]]
    if notes.empty:
        pdf.para("No KPI has a check-in for this period.", size=8.5)
    if compact:
        # here: one page per department: the KPIs off track or at risk, one line each
        notes = notes[notes["checkin_status"] != "On track"]
        pdf.rows(
            ["KPI", "check-in", "why", "next steps"],
            [[k.name, f"{k.checkin_status} ({k.checkin_period})", k.analysis, k.next_steps]
             for k in notes.itertuples(index=False)],
            [42, 28, 70, 42],
        )  # fmt: skip
        notes = notes.iloc[0:0]
    for k in notes.itertuples(index=False):
        pdf.para(f"{k.name} — {k.checkin_status} ({k.checkin_period})", size=8.5, bold=True)
        if k.analysis:
            pdf.para(f"Why: {k.analysis}", size=8.5)
        if k.next_steps:
            pdf.para(f"Next steps: {k.next_steps}", size=8.5)
    missing = b.without_checkin
    if len(missing):
        pdf.para(f"Without a check-in: {', '.join(missing['name'])}", size=8.5, grey=True)

    pdf.h2("Survey: changes since the previous wave")
    pdf.para(b.survey_note, size=8.5)
    ch = b.survey_changes
    if compact and not ch.empty:
        # here: one page per department in the organisation pack, so only the significant changes
        shown = ch[ch["significant"]]
        pdf.para(f"{len(ch)} items compared; {len(shown)} changed significantly (BH across the items).", size=8.5)
        ch = shown
    if not ch.empty and compact:
        pdf.rows(
            ["item", "question", "favourable", "before", "change"],
            [[c.code, c.text, _pct(c.fav_now), _pct(c.fav_before), f"{100 * c.fav_diff:+.0f} pts"]
             for c in ch.itertuples(index=False)],
            [12, 110, 20, 20, 20],
        )  # fmt: skip
    elif not ch.empty:
        pdf.grid(
            ["item", "question", "favourable", "before", "change", "95% interval", "signif."],
            [
                [
                    c.code,
                    c.text,
                    _pct(c.fav_now),
                    _pct(c.fav_before),
                    f"{100 * c.fav_diff:+.0f} pts",
                    f"{100 * c.low:+.0f} to {100 * c.high:+.0f}",
                    "yes" if c.significant else "no",
                ]
                for c in ch.itertuples(index=False)
            ],
            [12, 80, 18, 16, 16, 24, 16],
            size=7.5,
        )

    pdf.h2("Open actions")
    if b.open_actions.empty:
        pdf.para("No open actions.", size=8.5)
    elif compact:
        pdf.rows(["action", "owner", "due", "status", "about"], _actions_rows(b.open_actions), [66, 32, 30, 20, 34])
    else:
        pdf.grid(["action", "owner", "due", "status", "about"], _actions_rows(b.open_actions), [66, 32, 30, 20, 34])
    pdf.para(CONFIDENTIAL, size=6.5, grey=True)


class AttainmentSpecs:
    """The organisation pack's attainment charts as Vega-Lite specs, one per department.

    Altair builds and serialises the chart once (~40 ms of Python per chart); every other
    department gets that spec with its own rows (serialised by Altair's ``to_values``) in place
    of the first department's. The first two specs are checked against Altair's own; if they
    differ (a new Altair), every chart goes through Altair.
    """

    def __init__(self, *, green: float, amber: float):
        self.green, self.amber = green, amber
        self.template: dict | None = None
        self.name: str | None = None
        self.checked = 0

    def altair(self, series: pd.DataFrame) -> dict:
        return chart_spec(charts.review_attainment(series, green=self.green, amber=self.amber))

    def spec(self, series: pd.DataFrame) -> dict:
        rows = alt.to_values(charts.review_attainment_rows(series))["values"]
        if self.template is None:
            self.template = self.altair(series)
            found = [k for k, v in self.template.get("datasets", {}).items() if v == rows]
            self.name = found[0] if len(found) == 1 else None
            self.checked = 1 if self.name else 2
            return self.template
        if self.name is None:
            return self.altair(series)
        spec = {**self.template, "datasets": {**self.template["datasets"], self.name: rows}}
        if self.checked < 2:
            self.checked += 1
            if _canonical(spec) != _canonical(own := self.altair(series)):
                self.name = None
                return own
        return spec


def _canonical(spec: dict) -> str:
    """A spec as text with its datasets named by position (Altair names them by a hash of the rows)."""
    text = json.dumps(spec)
    for i, name in enumerate(spec.get("datasets", {})):
        text = text.replace(json.dumps(name), f'"dataset-{i}"')
    return text


def _chart(b: ReviewBrief, *, compact: bool) -> alt.TopLevelMixin | None:
    """The pack's chart of a department: attainment % (organisation pack) or actuals (its own pack)."""
    names = dict(zip(b.kpis["kpi_id"], b.kpis["name"], strict=True))
    if compact:
        att = _attainment_series(b)
        s = b.settings
        return None if att is None else charts.review_attainment(att, green=s.green, amber=s.amber)
    series = b.series.assign(kpi=b.series["kpi_id"].map(names)) if len(b.series) else b.series
    if series.empty or series["actual"].notna().sum() == 0:
        return None
    return charts.review_kpis(series)


def _attainment_series(b: ReviewBrief) -> pd.DataFrame | None:
    """The organisation pack chart's data: each KPI's attainment % in the trend window (None: nothing to draw)."""
    names = dict(zip(b.kpis["kpi_id"], b.kpis["name"], strict=True))
    att = b.attainment.assign(kpi=b.attainment["kpi_id"].map(names))
    return None if att["attainment_pct"].notna().sum() == 0 else att


# --------------------------------------------------------------------------------- packs


def department_pack(session: Session, *, department_id: int, period: str, today: date | None = None) -> bytes:
    """The review pack of one department for one period, as PDF bytes."""
    today = today or date.today()
    try:
        brief = review_brief.prepare_review(session=session, department_id=department_id, period=period, today=today)
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    pdf = Pack(f"Review pack · {brief.department} · {brief.period}")
    pdf.add_page()
    chart = _chart(brief, compact=False)
    _department_section(pdf, brief, compact=False, today=today, png=None if chart is None else render_png(chart))
    return bytes(pdf.output())


def organisation_pack(
    session: Session,
    *,
    period: str,
    department_ids: list[int] | None = None,
    today: date | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int | None = None,
) -> bytes:
    """The organisation pack: an overview page, then one page per department (PDF bytes).

    ``progress(done, total, department)`` is called after each department (for a progress bar).
    The charts are rendered by ``workers`` processes (default: one per core for a pack of at
    least :data:`POOL_FROM` departments, none for fewer) while the pages are written.
    """
    today = today or date.today()
    try:
        sc = review_brief.build_for(session, period)
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    depts = sc.departments.sort_values(["division", "department"])
    if department_ids is not None:
        depts = depts[depts["department_id"].isin(department_ids)]
    if depts.empty:
        raise ReportError("There are no scored departments to put in the pack.")
    total = len(depts)
    if workers is None:
        workers = pool_size() if total >= POOL_FROM else 0
    with ChartPool(workers) as pool:
        return _organisation_pdf(session, sc, depts, period=period, today=today, progress=progress, pool=pool)


def _organisation_pdf(
    session: Session,
    sc: Scorecard,
    depts: pd.DataFrame,
    *,
    period: str,
    today: date,
    progress: Callable[[int, int, str], None] | None,
    pool: ChartPool,
) -> bytes:
    total = len(depts)
    ids = [int(d) for d in depts["department_id"]]
    briefs = review_brief.prepare_reviews(session=session, department_ids=ids, period=period, today=today, sc=sc)
    tickets = []
    specs = AttainmentSpecs(green=sc.settings.green, amber=sc.settings.amber)
    for i, b in enumerate(briefs):
        series = _attainment_series(b)
        tickets.append(None if series is None else pool.submit(specs.spec(series)))  # rendered while we go on
        if progress is not None:
            progress(i + 1, 2 * total, b.department)

    pdf = Pack(f"Organisation review pack · {briefs[0].period}")
    pdf.add_page()
    pdf.h1(f"Organisation review pack — {briefs[0].period}")
    org = sc.organisation
    wave = f"survey {sc.wave.name}" if sc.wave else "no closed survey"
    pdf.para(f"Prepared {today.isoformat()} · KPIs as of {sc.period or '–'} · {wave} · {total} departments", grey=True)
    score = (org.get("alignment") or {}).get("value", math.nan)
    if not math.isnan(score):
        pdf.para(f"Organisation alignment score {score:.1f} (headcount-weighted mean of departments)", bold=True)
    rows, fills = [], []
    for b in briefs:
        s = b.scores
        rows.append(
            [
                b.department,
                "–" if math.isnan(s["alignment"]) else f"{s['alignment']:.0f}",
                s["status"],
                _pct(s["performance"]),
                "hidden" if s["u_suppressed"] else _pct(s["understanding"]),
                _pct(s["coverage"]),
                str(int((b.kpis["status"] == "red").sum())),
                str(len(b.without_checkin)),
                str(len(b.open_actions)),
                str(len(b.overdue_actions)),
            ]
        )
        fills.append(STATUS_FILL.get(s["status"]))
    pdf.rows(
        ["department", "A", "status", "P", "U", "C", "red KPIs", "no check-in", "open actions", "overdue"],
        rows,
        [52, 10, 14, 12, 14, 12, 16, 18, 18, 16],
        size=7.5,
        fills=fills,
        fill_col=2,
    )
    pdf.para(CONFIDENTIAL, size=6.5, grey=True)
    for i, (b, ticket) in enumerate(zip(briefs, tickets, strict=True)):
        pdf.add_page()
        _department_section(pdf, b, compact=True, today=today, png=None if ticket is None else pool.result(ticket))
        if progress is not None:
            progress(total + i + 1, 2 * total, b.department)
    return bytes(pdf.output())


def pack_filename(scope: str, period: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in scope).strip("-") or "pack"
    return f"kpialign-review-{safe}-{period}.pdf"
