"""One error hierarchy: every refusal kpialign raises on purpose is a Refused (safe to show)."""

from __future__ import annotations

import pytest

from kpialign import backup, cli, config, exports
from kpialign.core import privacy
from kpialign.core.errors import KpialignError, Refused
from kpialign.scorecard import build as scorecard
from kpialign.services import accounts, kpi_import, measurements, strategy, surveys

REFUSALS = [
    accounts.AccountError,
    surveys.SurveyError,
    surveys.LinkProblem,
    strategy.StrategyError,
    measurements.MeasurementError,
    measurements.PeriodError,
    measurements.ScopeError,
    kpi_import.KpiImportError,
    scorecard.ScorecardError,
    privacy.DisclosureRefused,
    exports.ExportError,
    config.ConfigError,
]


@pytest.mark.parametrize("cls", REFUSALS, ids=lambda c: c.__name__)
def test_every_domain_refusal_is_a_refused_and_a_value_error(cls):
    assert issubclass(cls, Refused) and issubclass(cls, KpialignError) and issubclass(cls, ValueError)


@pytest.mark.parametrize("cls", [kpi_import.CsvExportError, backup.BackupError, cli.CliError], ids=lambda c: c.__name__)
def test_internal_and_operator_errors_are_kpialign_errors_but_not_refusals(cls):
    assert issubclass(cls, KpialignError) and not issubclass(cls, Refused)


def test_a_refusal_keeps_its_message():
    exc = Refused("The wave is closed.")
    assert str(exc) == exc.message == "The wave is closed."
