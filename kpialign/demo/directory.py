"""The demo organisations as a directory export (units CSV + people CSV), for the directory import.

``enterprise_directory`` describes the enterprise demo's 200 units and its 50,000 employees as
an HR system would export them: one row per person with a home unit, everyone an employee, one
manager per unit (scoped to it), a KPI owner per unit with KPIs, a few HR people, leaders and
admins. Deterministic for a given seed (the unit tree is the enterprise plan of the same seed).
"""

from __future__ import annotations

import csv
import io

import numpy as np

from kpialign.demo.seed import _enterprise_plan, _small_plan, calendar_for

FIRST = ("Alex", "Sam", "Kim", "Noa", "Lea", "Max", "Ana", "Ben", "Eva", "Ian", "Mia", "Tom", "Zoe", "Raj", "Yui")
LAST = ("Berg", "Costa", "Dahl", "Evans", "Fischer", "Garcia", "Haas", "Ito", "Jensen", "Kowal", "Lund", "Moreau")
DOMAIN = "enterprise.kpialign.test"


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def unit_id(unit_number: int) -> str:
    """The directory id of the demo's unit number ``n`` (``U0001``...)."""
    return f"U{unit_number:04d}"


def demo_directory(scale: str = "enterprise", seed: int = 7) -> tuple[bytes, bytes]:
    """``(units_csv, people_csv)`` for the demo organisation of ``scale`` and ``seed``."""
    cal = calendar_for(None)  # the unit tree does not depend on the demo's dates
    plan = _small_plan(cal) if scale == "small" else _enterprise_plan(np.random.default_rng(seed), cal)
    units = [[unit_id(u.id), u.name, unit_id(u.parent_id) if u.parent_id else "", u.headcount] for u in plan.units]
    kpi_units = {uid for uid, _spec in plan.kpi_specs}
    people: list[list[object]] = []
    n = 0
    for u in plan.units:
        for i in range(u.headcount):
            n += 1
            first, last = FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]
            roles = ["employee"]
            manages = ""
            if i == 0:
                roles.append("manager")
                manages = unit_id(u.id)
            elif i == 1 and u.id in kpi_units:
                roles.append("kpi_owner")
                manages = unit_id(u.id)
            elif n % 2500 == 7:
                roles.append("hr")
            elif n % 5000 == 11:
                roles.append("leader")
            if n in (2, 3):
                roles.append("admin")
            people.append(
                [f"{first}.{last}.{n}@{DOMAIN}".lower(), f"{first} {last}", unit_id(u.id), "|".join(roles), manages]
            )
    return (
        _csv(["unit_id", "unit_name", "parent_unit_id", "headcount"], units),
        _csv(["email", "name", "unit_id", "roles", "manages"], people),
    )
