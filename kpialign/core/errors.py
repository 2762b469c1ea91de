"""One error hierarchy for kpialign.

- :class:`KpialignError` is the base of every error kpialign raises on purpose.
- :class:`Refused` is a refusal whose message is written for the person who asked: it names no
  internals and carries no user text that could be taken for markup (pages still show it as
  plain text). It is the only exception whose text a page shows; anything else is shown as a
  generic message and logged (:func:`kpialign.ui.widgets.refusals`). The command line prints
  the message of any :class:`KpialignError` on stderr.

The domain modules keep their own names for their refusals (``AccountError``, ``SurveyError``,
``StrategyError``, ``MeasurementError``, ``ScorecardError``, ``KpiImportError``,
``DisclosureRefused``, ``ExportError``, ``ConfigError``): each is a plain subclass of
:class:`Refused`, so callers may catch the narrow name or just ``Refused``. They stay
``ValueError`` subclasses too (callers that caught ``ValueError`` keep working).
"""

from __future__ import annotations


class KpialignError(Exception):
    """Base class of every error kpialign raises on purpose."""


class Refused(KpialignError, ValueError):
    """A request refused for a reason the user may read; ``str(exc)`` is safe to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
