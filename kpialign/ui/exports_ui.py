"""The Exports page's file preparation: a progress bar while the file is written, then the file.

The file is built by :func:`kpialign.exports.build_export` (the same as the CLI), part by part;
the bar follows the parts written. The file is offered only after its audit event is committed.
"""

from __future__ import annotations

from collections.abc import Collection

import streamlit as st

from kpialign import exports
from kpialign.ui import data
from kpialign.ui.widgets import refusals


def prepare(
    *, kind: str, actor: str, roles: Collection[str], wave: str | None, period: str | None, excel: bool
) -> exports.ExportFile | None:
    """Build and record one export with a progress bar; ``None`` (with the reason shown) when refused."""
    bar = st.progress(0.0, text="Preparing the file…")

    def progress(share: float) -> None:
        bar.progress(share, text=f"Writing the file… {share:.0%}")

    export: exports.ExportFile | None = None
    try:
        with refusals():
            export = exports.build_export(
                data.engine(),
                kind=kind,
                actor=actor,
                roles=roles,
                wave=wave,
                period=period,
                excel=excel,
                progress=progress,
            )
    finally:
        bar.empty()
    return export
