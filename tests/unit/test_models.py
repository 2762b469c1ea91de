"""One KPI shape: the table, the data models and every KPI column list agree (kpialign.models)."""

from __future__ import annotations

from dataclasses import fields

import pytest
from pydantic import ValidationError

from kpialign import exports
from kpialign.models import Kpi, KpiCreate, KpiRead, KpiUpdate, kpi_columns
from kpialign.services import strategy


def test_the_table_and_the_data_models_have_the_same_kpi_fields():
    table = set(Kpi.__table__.columns.keys())
    assert set(KpiRead.model_fields) == table
    assert set(KpiUpdate.model_fields) == table - {"id"}
    assert {f.name for f in fields(strategy.KpiInput)} == set(KpiCreate.model_fields)


def test_every_kpi_column_list_follows_kpiread():
    assert list(strategy.KPI_FIELDS) == kpi_columns()
    assert exports.KPIS_COLUMNS[2:11] == kpi_columns(without=("department_id", "name", "description", "owner_id"))
    assert kpi_columns()[:2] == ["department_id", "name"] and "id" not in kpi_columns()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": "  "}, "KPI name cannot be empty"),
        ({"polarity": "sideways"}, "polarity must be higher, lower or range"),
        ({"weight": -1}, "weight must be a number, 0 or more"),
        ({"target": float("inf")}, "target must be a finite number"),
        ({"baseline": "ten"}, "baseline must be a number"),
        ({"unit": "x" * 41}, "unit is too long"),
    ],
)
def test_kpicreate_gives_one_plain_message_per_field(values, message):
    with pytest.raises(ValidationError) as caught:
        KpiCreate.model_validate({"department_id": 1, "name": "Revenue", "target": 10, **values})
    assert [e["loc"][0] for e in caught.value.errors()] == list(values)
    assert message in caught.value.errors()[0]["msg"]


def test_kpicreate_cleans_text_and_drops_the_range_of_a_non_range_kpi():
    kpi = KpiCreate(department_id=1, name="  Net   revenue ", unit=" EUR ", target=5, range_low=1, range_high=2)
    assert (kpi.name, kpi.unit, kpi.range_low, kpi.range_high) == ("Net revenue", "EUR", None, None)
    assert KpiCreate(department_id=1, name="R", polarity="range", range_low=1, range_high=3, baseline=float("nan"))


@pytest.mark.parametrize("name", ["Department", "Objective", "SurveyWave", "Question", "Kpi"])
def test_each_table_has_base_create_update_and_read_models_with_its_columns(name):
    import kpialign.models as m

    table = set(getattr(m, name).__table__.columns.keys())
    assert set(getattr(m, f"{name}Read").model_fields) == table
    assert set(getattr(m, f"{name}Update").model_fields) == table - {"id"}
    assert set(getattr(m, f"{name}Create").model_fields) <= table - {"id"}
    assert issubclass(getattr(m, f"{name}Create"), getattr(m, f"{name}Base"))
