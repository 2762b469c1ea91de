"""One error hierarchy for kpialign.

- :class:`KpialignError` is the base of every error kpialign raises on purpose.
- :class:`Refused` is a refusal whose message is written for the person who asked: it names no
  internals and carries no user text that could be taken for markup (pages still show it as
  plain text). It is the only exception whose text a page shows; anything else is shown as a
  generic message and logged (:func:`kpialign.ui.widgets.refusals`). The command line prints
  the message of any :class:`KpialignError` on stderr.

- :class:`ImportRefused` is the refusal of a whole imported file (or set of files): it carries
  every problem found as :class:`ImportIssue` rows, so pages show them as one table
  (:meth:`ImportRefused.issues_frame`) and the command line as one line each
  (:meth:`ImportRefused.issue_lines`). Nothing was written when it is raised.

The domain modules keep their own names for their refusals (``AccountError``, ``SurveyError``,
``StrategyError``, ``MeasurementError``, ``ScorecardError``, ``DisclosureRefused``,
``ExportError``, ``ConfigError``; for imports ``KpiImportError``, ``LinkImportError``,
``DirectoryImportError``, ``StrategyImportError``, all :class:`ImportRefused`): each is a plain
subclass of :class:`Refused`, so callers may catch the narrow name or just ``Refused``. They stay
``ValueError`` subclasses too (callers that caught ``ValueError`` keep working).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd


class KpialignError(Exception):
    """Base class of every error kpialign raises on purpose."""


class Refused(KpialignError, ValueError):
    """A request refused for a reason the user may read; ``str(exc)`` is safe to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ImportIssue:
    """One problem in an imported file.

    ``row`` is the spreadsheet row (the header is row 1), 0 for the file as a whole; ``file``
    names the file when one import reads several (``units``/``people``, ``objectives``/``kpis``/
    ``links``), and is empty otherwise.
    """

    row: int
    column: str
    value: str
    reason: str
    file: str = ""


ISSUE_COLUMNS = ("file", "row", "column", "value", "reason")


def issues_frame(issues: Iterable[ImportIssue], *, with_file: bool | None = None) -> pd.DataFrame:
    """Problems as a table: ``row, column, value, reason``, led by ``file`` when any issue names one
    (or always with ``with_file=True``, never with ``False``)."""
    rows = list(issues)
    frame = pd.DataFrame([(i.file, i.row, i.column, i.value, i.reason) for i in rows], columns=list(ISSUE_COLUMNS))
    if not (with_file if with_file is not None else any(i.file for i in rows)):
        frame = frame.drop(columns="file")
    return frame


class ImportRefused(Refused):
    """An import refused as a whole; ``issues`` lists every problem found. Nothing was written."""

    def __init__(self, issues: Iterable[ImportIssue], message: str | None = None):
        self.issues: tuple[ImportIssue, ...] = tuple(issues)
        n = len(self.issues)
        super().__init__(message or f"The file has {n} problem{'s' if n != 1 else ''}; nothing was imported.")

    def issues_frame(self) -> pd.DataFrame:
        """The problems as a table (:func:`issues_frame`)."""
        return issues_frame(self.issues)

    def issue_lines(self, source: str) -> list[str]:
        """One line per problem, ``<file>: row 3, column x, value 'v': reason``, for the command line.

        ``source`` names the input where an issue names no file of its own.
        """
        lines = []
        for issue in self.issues:
            where = f"row {issue.row}" if issue.row else "file"
            column = f", column {issue.column}" if issue.column else ""
            value = f", value {issue.value!r}" if issue.value else ""
            lines.append(f"{issue.file or source}: {where}{column}{value}: {issue.reason}")
        return lines
