"""The organisation pack's fast paths give what the straightforward ones give: briefs prepared
together, trend windows built at once, chart specs from a template, charts rendered in worker
processes, and the pack's own text layout (issue 14, item 5)."""

from __future__ import annotations

import subprocess
from datetime import date

import numpy as np
import pandas as pd
import pytest
import vl_convert

from kpialign import db, reports
from kpialign.cli import main
from kpialign.core import periods, stats
from kpialign.scorecard import review_brief, views
from tests.conftest import require_pdftotext

TODAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def demo_briefs(demo_sqlite_url):
    """The small demo's scorecard for 2026-Q3 and every department's brief, prepared together."""
    eng = db.make_engine(demo_sqlite_url)
    with db.read_session(eng) as s:
        sc = review_brief.build_for(s, "2026-Q3")
        ids = [int(d) for d in sc.departments["department_id"]]
        briefs = review_brief.prepare_reviews(session=s, department_ids=ids, period="2026-Q3", today=TODAY, sc=sc)
    eng.dispose()
    return sc, briefs


def _same_frames(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    if a.empty and b.empty:
        assert list(a.columns) == list(b.columns) or what == "attainment", what
        return
    if what in ("open_actions", "overdue_actions"):  # an absent link is None or NaN, as pandas infers it
        a, b = (f.astype(object).where(f.notna(), None) for f in (a, b))
    pd.testing.assert_frame_equal(a, b, obj=what)


def test_briefs_prepared_together_are_the_briefs_prepared_one_by_one(demo_engine):
    with db.read_session(demo_engine) as s:
        sc = review_brief.build_for(s, "2026-Q3")
        ids = [int(d) for d in sc.departments["department_id"]]
        together = review_brief.prepare_reviews(session=s, department_ids=ids, period="2026-Q3", today=TODAY, sc=sc)
        alone = [
            review_brief.prepare_review(session=s, department_id=d, period="2026-Q3", today=TODAY, sc=sc) for d in ids
        ]
    assert [b.department_id for b in together] == ids
    assert sum(len(b.open_actions) for b in together) >= 1 and sum(b.kpis["has_checkin"].sum() for b in together) >= 1
    for a, b in zip(alone, together, strict=True):
        for name in a.__dataclass_fields__:
            x, y = getattr(a, name), getattr(b, name)
            if isinstance(x, pd.DataFrame):
                _same_frames(x, y, name)
            elif name == "scores":
                assert x.keys() == y.keys() and all(x[k] == y[k] or (x[k] != x[k] and y[k] != y[k]) for k in x)
            elif name != "settings":
                assert x == y, name


def test_trend_windows_built_at_once_match_a_loop_over_the_kpis(demo_briefs):
    sc, _ = demo_briefs
    s = sc.settings
    series, sen, missing = views.kpi_windows(sc.kpis, sc.attainment, sc.month, s.trend_periods, alpha=s.alpha)
    assert len(sen) >= 10
    parts = []
    for k in sc.kpis.itertuples(index=False):  # here: the reference, one KPI at a time
        window = periods.window_periods(k.frequency, sc.month, s.trend_periods)
        have = sc.attainment[sc.attainment["kpi_id"] == k.kpi_id].set_index("period")
        frame = pd.DataFrame({"period": window})
        frame["actual"] = frame["period"].map(have["actual"])
        frame["target"] = frame["period"].map(have["target"]).fillna(k.target)
        parts.append(frame.assign(kpi_id=k.kpi_id))
        assert missing[k.kpi_id] == frame.loc[frame["actual"].isna(), "period"].tolist()
        vals = frame["actual"].to_numpy(float)
        if np.isfinite(vals).sum() >= 3:
            r = stats.mann_kendall(vals, alpha=s.alpha)
            assert sen[k.kpi_id] == (r.slope, r.intercept)
        else:
            assert k.kpi_id not in sen
    expected = pd.concat(parts, ignore_index=True)
    pd.testing.assert_frame_equal(series[["period", "actual", "target", "kpi_id"]], expected, check_dtype=False)
    assert (series["date"].dt.strftime("%Y-%m-01") == series["period"].map(periods.first_day)).all()


def test_chart_specs_from_the_template_are_altairs_own_but_for_dataset_names(demo_briefs):
    sc, briefs = demo_briefs
    specs = reports.AttainmentSpecs(green=sc.settings.green, amber=sc.settings.amber)
    series = [x for x in (reports._attainment_series(b) for b in briefs) if x is not None]
    assert len(series) >= 3
    made = [specs.spec(x) for x in series]
    assert specs.name is not None  # the template was used, not Altair for every chart
    assert [reports._canonical(m) for m in made] == [reports._canonical(specs.altair(x)) for x in series]
    assert len({reports._canonical(m) for m in made}) == len(made)  # each department's own rows


def test_the_chart_pool_renders_the_pngs_vl_convert_renders_here(demo_briefs):
    sc, briefs = demo_briefs
    specs = reports.AttainmentSpecs(green=sc.settings.green, amber=sc.settings.amber)
    chosen = [specs.spec(x) for x in (reports._attainment_series(b) for b in briefs[:2]) if x is not None]
    with reports.ChartPool(2) as pool:
        assert len(pool._workers) == 2
        tickets = [pool.submit(spec) for spec in chosen]
        pngs = [pool.result(t) for t in reversed(tickets)][::-1]
    assert pngs == [vl_convert.vegalite_to_png(spec, scale=reports.CHART_SCALE) for spec in chosen]
    assert all(p.startswith(b"\x89PNG") for p in pngs)


def test_charts_of_a_worker_that_died_are_rendered_by_the_caller(demo_briefs):
    sc, briefs = demo_briefs
    spec = reports.AttainmentSpecs(green=sc.settings.green, amber=sc.settings.amber).spec(
        reports._attainment_series(briefs[0])
    )
    with reports.ChartPool(1) as pool:
        pool._workers[0][0].kill()
        pool._workers[0][0].wait()
        tickets = [pool.submit(spec) for _ in range(2)]
        assert [pool.result(t) for t in tickets] == [vl_convert.vegalite_to_png(spec, scale=reports.CHART_SCALE)] * 2


def test_the_organisation_pack_reads_the_same_with_worker_processes(demo_sqlite_url, tmp_path):
    require_pdftotext()
    eng = db.make_engine(demo_sqlite_url)
    texts = []
    with db.read_session(eng) as s:
        some = [int(d) for d in review_brief.build_for(s, "2026-Q3").departments["department_id"][:3]]
        for workers in (0, 2):
            path = tmp_path / f"pack-{workers}.pdf"
            pdf = reports.organisation_pack(s, period="2026-Q3", department_ids=some, today=TODAY, workers=workers)
            path.write_bytes(pdf)
            texts.append(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout)
    eng.dispose()
    assert texts[0] == texts[1] and texts[0].count("— review 2026-Q3") == 3


def test_paragraphs_wrap_within_the_line_and_cells_are_cut_with_an_ellipsis():
    pdf = reports.Pack("t")
    pdf.add_page()
    pdf.set_font(pdf.family, "", 9)
    text = "Two large customers delayed their orders to next quarter; " * 6 + "Überlänge-" * 12
    lines = pdf.wrap(text, 120)
    assert len(lines) >= 4
    assert all(pdf.get_string_width(line) <= 120 + 1e-6 for line in lines)  # fpdf2's own measure
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert pdf.wrap("a\nb", 120) == ["a", "b"]
    assert abs(pdf.text_width(text) - pdf.get_string_width(text)) < 1e-6
    cut = pdf.fit(text, 40)
    assert cut.endswith("…") and text.startswith(cut[:-1]) and pdf.get_string_width(cut) <= 40
    assert pdf.get_string_width(text[: len(cut)] + "…") > 40  # nothing more would fit
    assert pdf.fit("short", 40) == "short"


def test_the_report_command_shows_the_organisation_packs_progress(demo_sqlite_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_sqlite_url)
    out = tmp_path / "org.pdf"
    assert main(["report", "--organisation", "--period", "2026-Q3", "--progress", "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert "preparing" in err and "writing" in err and "100.0%" in err
    assert out.read_bytes().startswith(b"%PDF-")
