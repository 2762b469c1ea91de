"""The page registry: which page each role may open. ``app.py`` builds ``st.navigation`` from it.

Add a page by adding one :class:`PageSpec`; the page script itself must also call
``auth.require(...)`` with the same roles (defence in depth).
"""

from __future__ import annotations

from dataclasses import dataclass

from kpialign.models import Role

EMPLOYEE, KPI_OWNER, LEADER, HR, ADMIN, MANAGER = (r.value for r in Role)
EVERYONE = frozenset(r.value for r in Role)


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    roles: frozenset[str]
    section: str
    url_path: str
    default: bool = False


PAGES: list[PageSpec] = [
    PageSpec("pages/home.py", "Home", ":material/home:", EVERYONE, "Portal", "home", default=True),
    PageSpec("pages/strategy.py", "Our strategy", ":material/flag_circle:", EVERYONE, "Portal", "our-strategy"),
    PageSpec("pages/our_results.py", "Our results", ":material/forum:", EVERYONE, "Portal", "our-results"),
    PageSpec(
        "pages/team_conversation.py",
        "Team conversation",
        ":material/groups:",
        frozenset({MANAGER}),
        "Portal",
        "team-conversation",
    ),
    PageSpec("pages/survey.py", "Survey", ":material/how_to_vote:", EVERYONE, "Survey", "survey"),
    PageSpec("pages/hr_waves.py", "Survey waves", ":material/campaign:", frozenset({HR}), "HR", "survey-waves"),
    PageSpec("pages/exports.py", "Exports", ":material/download:", frozenset({HR, ADMIN}), "HR", "exports"),
    PageSpec(
        "pages/admin_users.py", "Users and roles", ":material/manage_accounts:", frozenset({ADMIN}), "Admin", "users"
    ),
    PageSpec(
        "pages/alignment_map.py",
        "Alignment map",
        ":material/hub:",
        frozenset({LEADER, ADMIN, KPI_OWNER}),
        "KPIs",
        "alignment-map",
    ),
    PageSpec(
        "pages/kpi_data.py", "KPI data", ":material/edit_note:", frozenset({KPI_OWNER, ADMIN}), "KPIs", "kpi-data"
    ),
    PageSpec(
        "pages/kpi_import.py",
        "Import KPI data",
        ":material/upload_file:",
        frozenset({KPI_OWNER, ADMIN}),
        "KPIs",
        "kpi-import",
    ),
    PageSpec(
        "pages/strategy_setup.py",
        "Strategy setup",
        ":material/account_tree:",
        frozenset({ADMIN}),
        "Admin",
        "strategy-setup",
    ),
    PageSpec(
        "pages/admin_scoring.py", "Scoring settings", ":material/tune:", frozenset({ADMIN}), "Admin", "scoring-settings"
    ),
    PageSpec(
        "pages/directory_import.py",
        "Directory import",
        ":material/groups:",
        frozenset({ADMIN}),
        "Admin",
        "directory-import",
    ),
    PageSpec(
        "pages/strategy_import.py",
        "Strategy import",
        ":material/upload_file:",
        frozenset({ADMIN}),
        "Admin",
        "strategy-import",
    ),
    PageSpec("pages/reorganise.py", "Reorganise", ":material/account_tree:", frozenset({ADMIN}), "Admin", "reorganise"),
    PageSpec("pages/audit_log.py", "Audit log", ":material/history:", frozenset({ADMIN}), "Admin", "audit"),
    PageSpec(
        "pages/overview.py",
        "Overview",
        ":material/dashboard:",
        frozenset({LEADER, ADMIN, MANAGER}),
        "Scorecard",
        "overview",
    ),
    PageSpec(
        "pages/department.py",
        "Department",
        ":material/apartment:",
        frozenset({LEADER, ADMIN, MANAGER}),
        "Scorecard",
        "department",
    ),
    PageSpec(
        "pages/objectives.py", "Objectives", ":material/flag:", frozenset({LEADER, ADMIN}), "Scorecard", "objectives"
    ),
    PageSpec(
        "pages/survey_results.py",
        "Survey results",
        ":material/bar_chart:",
        frozenset({LEADER, ADMIN, HR, MANAGER}),
        "Scorecard",
        "survey-results",
    ),
    PageSpec(
        "pages/reviews.py",
        "Reviews",
        ":material/event_note:",
        frozenset({MANAGER, LEADER, ADMIN}),
        "Scorecard",
        "reviews",
    ),
    PageSpec("pages/actions.py", "Actions", ":material/task_alt:", EVERYONE, "Portal", "actions"),
    PageSpec(
        "pages/strategy_map.py",
        "Strategy map",
        ":material/schema:",
        frozenset({LEADER, ADMIN, MANAGER, KPI_OWNER}),
        "Scorecard",
        "strategy-map",
    ),
    PageSpec(
        "pages/conflicts.py",
        "Conflicts",
        ":material/call_split:",
        frozenset({LEADER, ADMIN, MANAGER}),
        "Scorecard",
        "conflicts",
    ),
    # Every role: committee members may hold any role; the page shows only the committees one sits on.
    PageSpec("pages/committee.py", "Committees", ":material/groups:", EVERYONE, "Scorecard", "committee"),
    PageSpec(
        "pages/kpi_links.py",
        "KPI links",
        ":material/link:",
        frozenset({ADMIN, MANAGER, KPI_OWNER}),
        "KPIs",
        "kpi-links",
    ),
    PageSpec(
        "pages/committees_setup.py",
        "Committees setup",
        ":material/group_add:",
        frozenset({ADMIN}),
        "Admin",
        "committees",
    ),
    PageSpec(
        "pages/comments.py", "Comments", ":material/forum:", frozenset({LEADER, MANAGER}), "Scorecard", "comments"
    ),
    PageSpec(
        "pages/how_scores_work.py",
        "How scores work",
        ":material/help:",
        frozenset({LEADER, ADMIN, HR, MANAGER}),
        "Scorecard",
        "how-scores-work",
    ),
]

SECTION_ORDER = ["Portal", "Survey", "Scorecard", "KPIs", "HR", "Admin", "Account"]


# Employees (and managers without a wider role) start on the strategy page, not on the organisation's counts.
EMPLOYEE_HOME = "pages/strategy.py"


def home_for(roles: frozenset[str] | set[str]) -> str:
    """The default page for a user with ``roles``."""
    if set(roles) <= {EMPLOYEE, MANAGER}:
        return EMPLOYEE_HOME
    return next(p.path for p in PAGES if p.default)


def allowed(roles: frozenset[str] | set[str]) -> list[PageSpec]:
    return [p for p in PAGES if p.roles.intersection(roles)]


def has_page(path: str) -> bool:
    """Whether ``path`` is registered (pages built on other branches link here once they land)."""
    return any(p.path == path for p in PAGES)


def roles_for(path: str) -> frozenset[str]:
    for p in PAGES:
        if p.path == path:
            return p.roles
    raise KeyError(path)
