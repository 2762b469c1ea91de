"""Shared widgets and helpers for pages.

User text (names from CSV, comments, KPI names, e-mail addresses) must never be interpreted as
Markdown or HTML. Prefer ``st.text`` and ``st.dataframe``, which show text as it is. Where a
Markdown-rendering element is needed (``st.caption``, ``st.markdown``, labels, ``help=``),
pass user text through :func:`plain`.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from kpialign.core.errors import ImportRefused, Refused

log = logging.getLogger("kpialign.pages")
GENERIC_ERROR = "Something went wrong, and nothing was changed. The details are in the server log."

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping all of
# them also disarms Streamlit's extensions (``:red[...]`` directives, ``$...$`` maths).
_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_ZWSP = "\u200b"


def plain(text: object) -> str:
    """``text`` escaped so that a Markdown-rendering Streamlit element shows it literally.

    Backslash-escapes every ASCII punctuation character (Markdown syntax, HTML tags, links,
    ``:color[...]`` directives, ``$`` maths) and puts a zero-width space after each colon, so
    that ``:shortcode:`` emoji and ``:material/icon:`` are not substituted either. Line breaks
    are kept as hard breaks.
    """
    escaped = _PUNCTUATION.sub(r"\\\1", str(text))
    escaped = escaped.replace("\\:", "\\:" + _ZWSP)
    return escaped.replace("\r\n", "\n").replace("\n", "  \n")


# How an import's problems are shown, on every import page (only the columns a frame has).
ISSUE_COLUMNS = {
    "file": st.column_config.TextColumn("File", width=80),
    "row": st.column_config.NumberColumn("Row", help="Spreadsheet row; the header is row 1", format="%d", width=60),
    "column": st.column_config.TextColumn("Column", width=110),
    "value": st.column_config.TextColumn("Value", width=140),
    "reason": st.column_config.TextColumn("Problem", width=640),
}


def import_refusal(refusal: ImportRefused, *, hint: str = "", key: str | None = None) -> None:
    """Show a refused import the one way every page does: its message, then every problem as a table.

    Pages pass the refusal a service raised, or build one from a failed validation
    (``KpiImportError(validation)``) to show the same message before anything is written.
    ``hint`` follows the message (what to do next).
    """
    message = f"{refusal} {hint}" if hint else str(refusal)
    st.error(plain(message), icon=":material/error:")
    frame = refusal.issues_frame()
    config = {name: column for name, column in ISSUE_COLUMNS.items() if name in frame.columns}
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config, key=key)


@dataclass
class Outcome:
    """What happened inside :func:`refusals`: ``failed`` is True when an error was shown."""

    failed: bool = False


@contextmanager
def refusals(generic: str = GENERIC_ERROR) -> Iterator[Outcome]:
    """Run a page action; show a refusal's own message, anything else as ``generic`` plus a log line.

    Only :class:`kpialign.core.errors.Refused` messages reach the user (as plain text; a refused
    import also lists its problems, :func:`import_refusal`); any
    other exception is logged with its traceback and the user sees ``generic``. Streamlit's
    own control flow (``st.rerun``, ``st.stop``) passes through. The block ends at the error::

        with refusals() as outcome:
            with data.writing() as session:
                services.do_something(session=session, ...)
        if not outcome.failed:
            st.success("Done.")
    """
    outcome = Outcome()
    try:
        yield outcome
    except ImportRefused as exc:
        outcome.failed = True
        import_refusal(exc)
    except Refused as exc:
        outcome.failed = True
        st.error(plain(str(exc)), icon=":material/error:")
    except Exception:
        outcome.failed = True
        log.exception("unexpected error in a page action")
        st.error(generic, icon=":material/error:")
