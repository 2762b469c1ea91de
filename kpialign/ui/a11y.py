"""Accessibility workarounds for what Streamlit itself renders (WCAG 2.1 AA, checked with axe-core).

Streamlit 1.67's sidebar navigation with sections renders ``<ul data-testid="stSidebarNavItems">``
whose children are one ``<div>`` per section holding the section header and the ``<li>`` links,
so the list has non-item children and the items have no list parent (axe: ``list`` and
``listitem``, both "serious"; screen readers announce broken list counts). Until Streamlit
renders a list per section, a constant script gives the same structure in ARIA: the outer list
becomes a plain container and each section's ``<div>`` a list. A ``MutationObserver`` keeps
this when Streamlit redraws the navigation. Nothing variable reaches the script.
"""

from __future__ import annotations

import streamlit as st

_SCRIPT = """
(() => {
  if (window.__kpialignNavFix) return;
  window.__kpialignNavFix = true;
  const fix = () => {
    document.querySelectorAll('ul[data-testid="stSidebarNavItems"]').forEach((ul) => {
      if (![...ul.children].some((c) => c.tagName === "DIV")) return;
      if (ul.getAttribute("role") !== "none") ul.setAttribute("role", "none");
      [...ul.children].forEach((c) => {
        if (c.tagName === "DIV" && c.getAttribute("role") !== "list") c.setAttribute("role", "list");
      });
    });
  };
  fix();
  new MutationObserver(fix).observe(document.body, {childList: true, subtree: true});
})();
"""


def sidebar_nav_semantics() -> None:
    """Install the navigation fix once per browser page (call inside ``st.sidebar``)."""
    hide = '<style>[data-testid="stElementContainer"]:has(script[data-kpialign-a11y]){display:none}</style>'
    st.html(f"{hide}<script data-kpialign-a11y>{_SCRIPT}</script>", unsafe_allow_javascript=True)
