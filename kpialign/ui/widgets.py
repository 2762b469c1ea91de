"""Shared widgets and helpers for pages.

User text (names from CSV, comments, KPI names, e-mail addresses) must never be interpreted as
Markdown or HTML. Prefer ``st.text`` and ``st.dataframe``, which show text as it is. Where a
Markdown-rendering element is needed (``st.caption``, ``st.markdown``, labels, ``help=``),
pass user text through :func:`plain`.
"""

from __future__ import annotations

import re
import string

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
