"""The line-of-sight question bank shipped with kpialign (our own wording).

Likert items use a 5-point agree scale: 1 strongly disagree .. 5 strongly agree; 4 and 5
are "favourable". ``OBJ_PICK`` asks respondents to pick the organisation's objectives from
a list that mixes the real ones with the plausible decoys below; it measures knowledge,
not only self-report. ``COMMENT`` is an optional free-text item.
"""

from __future__ import annotations

from dataclasses import dataclass

LIKERT_LABELS = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Neither agree nor disagree",
    4: "Agree",
    5: "Strongly agree",
}
FAVOURABLE = (4, 5)

DIMENSIONS = {
    "awareness": "Awareness of the strategic objectives",
    "line_of_sight": "How my role contributes",
    "kpi_understanding": "Understanding of my department's KPIs",
    "cross_team": "Cross-team alignment",
    "leadership": "Leadership communication of goals",
}


@dataclass(frozen=True)
class BankQuestion:
    code: str
    text: str
    dimension: str
    kind: str = "likert5"
    reverse: bool = False


QUESTION_BANK: tuple[BankQuestion, ...] = (
    BankQuestion("AW1", "I could name our organisation's most important goals for this year.", "awareness"),
    BankQuestion("AW2", "I know which of our strategic objectives matter most right now.", "awareness"),
    BankQuestion("LS1", "I can see how my daily work helps the organisation reach its goals.", "line_of_sight"),
    BankQuestion("LS2", "When I have to choose what to work on, our objectives guide my choice.", "line_of_sight"),
    BankQuestion("LS3", "My personal goals are clearly connected to my department's goals.", "line_of_sight"),
    BankQuestion("KU1", "I know which measures (KPIs) my department is judged on.", "kpi_understanding"),
    BankQuestion("KU2", "I understand how my department is doing against its targets.", "kpi_understanding"),
    BankQuestion("CT1", "Other teams and mine work towards the same priorities.", "cross_team"),
    BankQuestion("CT2", "When priorities conflict between teams, they get resolved quickly.", "cross_team"),
    BankQuestion("LC1", "Leaders explain the reasons behind our strategic objectives.", "leadership"),
    BankQuestion("LC2", "My manager regularly talks with us about progress on our goals.", "leadership"),
    BankQuestion(
        "OBJ_PICK",
        "Which of these are our organisation's strategic objectives? Pick all that apply.",
        "awareness",
        kind="objective_pick",
    ),
    BankQuestion(
        "COMMENT", "Anything else you would like to tell us about goals and priorities? (optional)", "", "text"
    ),
)

LINE_OF_SIGHT_CODES = tuple(q.code for q in QUESTION_BANK if q.kind == "likert5")

# Plausible objectives that are not ours, mixed with the real ones in the OBJ_PICK item.
DECOY_OBJECTIVES = (
    "Open offices in three new countries",
    "Halve the number of products we sell",
    "Become the lowest-price provider in every market",
    "Move all staff to a four-day week",
    "Replace our sales team with online self-service",
)

# A respondent "knows the objectives" when their objective-pick score reaches this.
OBJ_PICK_KNOWS = 80


def objective_pick_score(*, picked: set[str], real: set[str], decoys: set[str]) -> int:
    """Knowledge score 0..100 stored as the OBJ_PICK answer's value.

    Percent of the real objectives recognised, minus one real objective's worth for every
    decoy picked (so ticking everything scores 0), clipped to 0..100. Only this score is
    stored, never the picks themselves.
    """
    if not real:
        return 0
    hits = len(picked & real)
    false_picks = len(picked & decoys)
    return round(max(0.0, min(1.0, (hits - false_picks) / len(real))) * 100)
