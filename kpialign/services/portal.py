"""What the portal's first page needs to know about the database itself: is it the demo, has it any account.

Demo mode follows the database, never the environment: ``seed-demo`` writes the
:data:`DEMO_MARKER` setting, and only on such a database does the sign-in page list the demo
accounts and their public password. A real database (even one started with ``make run``) never
shows them; an empty one instead says how to create the first admin.
"""

from __future__ import annotations

from sqlmodel import Session, func, select

from kpialign.models import Account, Setting

DEMO_MARKER = "demo.seeded"  # setting written by seed-demo (JSON: scale, seed, today)


def is_demo(*, session: Session) -> bool:
    """True when the demo organisation was seeded into this database."""
    return session.get(Setting, DEMO_MARKER) is not None


def has_accounts(*, session: Session) -> bool:
    """True once any account exists (an empty database needs its first admin)."""
    return session.exec(select(func.count()).select_from(Account)).one() > 0


FIRST_ADMIN_COMMAND = "python -m kpialign create-user you@example.com --role admin"
