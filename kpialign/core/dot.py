"""A small, safe Graphviz DOT writer (pure: text in, text out).

User text (KPI, department and objective names) ends up in DOT labels, so every string is
written as a double-quoted DOT string with backslashes, quotes and line breaks escaped: a name
cannot close the string, start an attribute, inject an HTML-like label (``<...>`` only means
HTML outside quotes) or use Graphviz escapes such as ``\\N`` or ``\\G``. Control characters are
dropped and long labels are shortened with an ellipsis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_LABEL = 60
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote(text: object, *, max_len: int | None = None) -> str:
    """``text`` as a DOT double-quoted string (escaped, control characters removed)."""
    s = _CONTROL.sub("", str(text)).replace("\r\n", "\n").replace("\r", "\n")
    if max_len is not None and len(s) > max_len:
        s = s[: max_len - 1] + "…"
    s = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{s}"'


def label(*lines: object, max_len: int = MAX_LABEL) -> str:
    """A multi-line label: each line shortened on its own, joined by DOT line breaks."""
    parts = [quote(line, max_len=max_len)[1:-1] for line in lines if line is not None and str(line) != ""]
    return '"' + "\\n".join(parts) + '"'


def node_id(kind: str, key: int) -> str:
    """A DOT identifier made only from our own kinds and integer keys (never from user text)."""
    ident = f"{kind}_{int(key)}"  # int(): keys are database ids
    if not _ID.match(ident):
        raise ValueError(f"not a safe DOT identifier: {ident!r}")
    return ident


def _attrs(attrs: dict[str, str]) -> str:
    """Attributes whose values are already quoted (``quote``/``label``) or plain tokens we chose."""
    if not attrs:
        return ""
    return " [" + ", ".join(f"{k}={v}" for k, v in attrs.items()) + "]"


@dataclass
class Graph:
    """A directed graph with optional clusters; attributes are pre-quoted strings."""

    attrs: dict[str, str] = field(default_factory=dict)
    node_defaults: dict[str, str] = field(default_factory=dict)
    edge_defaults: dict[str, str] = field(default_factory=dict)
    nodes: list[tuple[str, dict[str, str], str | None]] = field(default_factory=list)  # id, attrs, cluster
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    clusters: dict[str, dict[str, str]] = field(default_factory=dict)
    ranks: list[list[str]] = field(default_factory=list)  # groups of nodes drawn on one rank

    def node(self, ident: str, cluster: str | None = None, **attrs: str) -> None:
        self.nodes.append((ident, attrs, cluster))

    def edge(self, a: str, b: str, **attrs: str) -> None:
        self.edges.append((a, b, attrs))

    def cluster(self, ident: str, **attrs: str) -> None:
        self.clusters[ident] = attrs

    def to_dot(self) -> str:
        out = ["digraph G {"]
        for k, v in self.attrs.items():
            out.append(f"  {k}={v};")
        if self.node_defaults:
            out.append(f"  node{_attrs(self.node_defaults)};")
        if self.edge_defaults:
            out.append(f"  edge{_attrs(self.edge_defaults)};")
        for cid, cattrs in self.clusters.items():
            out.append(f"  subgraph cluster_{cid} {{")
            for k, v in cattrs.items():
                out.append(f"    {k}={v};")
            out.extend(f"    {n}{_attrs(a)};" for n, a, c in self.nodes if c == cid)
            out.append("  }")
        out.extend(f"  {n}{_attrs(a)};" for n, a, c in self.nodes if c is None or c not in self.clusters)
        out.extend(f"  {a} -> {b}{_attrs(attrs)};" for a, b, attrs in self.edges)
        for group in self.ranks:
            if group:
                out.append("  { rank=same; " + " ".join(f"{n};" for n in group) + " }")
        out.append("}")
        return "\n".join(out)
