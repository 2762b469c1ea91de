"""One error hierarchy: every refusal kpialign raises on purpose is a Refused (safe to show)."""

from __future__ import annotations

from datetime import date

import pytest

from kpialign import backup, cli, config, exports
from kpialign.core import privacy, scoring
from kpialign.core.csv_out import CsvExportError
from kpialign.core.errors import ImportIssue, ImportRefused, KpialignError, Refused
from kpialign.core.periods import PeriodError
from kpialign.services import (
    accounts,
    directory,
    kpi_import,
    kpi_links,
    measurements,
    strategy,
    strategy_import,
    surveys,
)

REFUSALS = [
    accounts.AccountError,
    surveys.SurveyError,
    surveys.LinkProblem,
    strategy.StrategyError,
    measurements.MeasurementError,
    PeriodError,
    measurements.ScopeError,
    kpi_import.KpiImportError,
    scoring.ScorecardError,
    privacy.DisclosureRefused,
    exports.ExportError,
    config.ConfigError,
]


@pytest.mark.parametrize("cls", REFUSALS, ids=lambda c: c.__name__)
def test_every_domain_refusal_is_a_refused_and_a_value_error(cls):
    assert issubclass(cls, Refused) and issubclass(cls, KpialignError) and issubclass(cls, ValueError)


@pytest.mark.parametrize("cls", [CsvExportError, backup.BackupError, cli.CliError], ids=lambda c: c.__name__)
def test_internal_and_operator_errors_are_kpialign_errors_but_not_refusals(cls):
    assert issubclass(cls, KpialignError) and not issubclass(cls, Refused)


def test_a_refusal_keeps_its_message():
    exc = Refused("The wave is closed.")
    assert str(exc) == exc.message == "The wave is closed."


def _four_import_refusals(issues):
    """Each import's own refusal, built from a failed validation or plan holding ``issues``."""
    return [
        kpi_import.KpiImportError(kpi_import.ImportValidation(issues=list(issues))),
        kpi_links.LinkImportError(kpi_links.LinkImportValidation(issues=list(issues))),
        directory.DirectoryImportError(directory.DirectoryPlan(as_of=date(2026, 1, 1), issues=list(issues))),
        strategy_import.StrategyImportError(strategy_import.StrategyPlan(issues=list(issues))),
    ]


def test_every_import_refusal_is_one_import_refused_carrying_the_problems_of_its_validation():
    issues = [ImportIssue(0, "", "", "The file is empty."), ImportIssue(3, "period", "2024-13", "Not a period.")]
    for exc in _four_import_refusals(issues):
        assert isinstance(exc, ImportRefused), type(exc).__name__
        assert exc.issues == tuple(issues), type(exc).__name__
        assert "2 problems" in str(exc), str(exc)


def test_an_import_refusal_lists_its_problems_as_a_table_with_a_file_column_only_where_a_problem_names_a_file():
    single = ImportRefused([ImportIssue(2, "kpi", "Sales", "Unknown KPI.")])
    assert list(single.issues_frame().columns) == ["row", "column", "value", "reason"]
    assert single.issues_frame().to_dict("records") == [
        {"row": 2, "column": "kpi", "value": "Sales", "reason": "Unknown KPI."}
    ]
    several = ImportRefused(
        [directory.file_issue(file="people", row=4, column="email", value="x", reason="Not an e-mail address.")]
    )
    assert list(several.issues_frame().columns) == ["file", "row", "column", "value", "reason"]
    assert several.issues_frame()["file"].tolist() == ["people"]
    assert str(single) == "The file has 1 problem; nothing was imported."


def test_the_directory_and_strategy_plans_keep_their_file_column_even_when_no_problem_names_a_file():
    plan = strategy_import.StrategyPlan(issues=[ImportIssue(0, "", "", "No file was given.")])
    assert list(plan.issues_frame().columns) == ["file", "row", "column", "value", "reason"]
    validation = kpi_import.ImportValidation(
        issues=[directory.file_issue(file="units", row=1, column="x", value="x", reason="Unknown column.")]
    )
    assert list(validation.issues_frame().columns) == ["row", "column", "value", "reason"]


def test_the_command_line_prints_one_line_per_problem_with_its_file_row_column_and_value():
    exc = ImportRefused(
        [
            ImportIssue(0, "", "", "The file is empty."),
            ImportIssue(5, "actual", "abc", "Not a number."),
            directory.file_issue(file="people", row=2, column="", value="", reason="Duplicate person."),
        ]
    )
    assert exc.issue_lines("values.csv") == [
        "values.csv: file: The file is empty.",
        "values.csv: row 5, column actual, value 'abc': Not a number.",
        "people: row 2: Duplicate person.",
    ]
