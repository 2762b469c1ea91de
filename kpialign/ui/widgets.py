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

from kpialign.core.errors import Refused

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


@dataclass
class Outcome:
    """What happened inside :func:`refusals`: ``failed`` is True when an error was shown."""

    failed: bool = False


@contextmanager
def refusals(generic: str = GENERIC_ERROR) -> Iterator[Outcome]:
    """Run a page action; show a refusal's own message, anything else as ``generic`` plus a log line.

    Only :class:`kpialign.core.errors.Refused` messages reach the user (as plain text); any
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
    except Refused as exc:
        outcome.failed = True
        st.error(plain(str(exc)), icon=":material/error:")
    except Exception:
        outcome.failed = True
        log.exception("unexpected error in a page action")
        st.error(generic, icon=":material/error:")
