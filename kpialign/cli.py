"""``python -m kpialign <command>``: automation and tests. Errors go to stderr with a non-zero exit.

Each command is a function ``cmd_<name>(args) -> int`` registered in :func:`build_parser`.
The database comes from ``KPIALIGN_DATABASE_URL``.

Start-up speed: the commands that read the scorecard (and with it scipy.stats) import it when
they run, so ``init-db``, which every replica runs at start, and the account commands start
with about a third less CPU (1.6 instead of 2.4 s here).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import date
from pathlib import Path

from sqlalchemy.exc import DBAPIError, OperationalError

from kpialign import db
from kpialign.config import load_settings
from kpialign.core.csv_out import write_csv
from kpialign.core.errors import ImportRefused, KpialignError
from kpialign.core.security import generate_password, valid_web_token
from kpialign.models import Role
from kpialign.services import accounts, directory, kpi_links
from kpialign.services.accounts import UserContext


class CliError(KpialignError):
    """A user error: printed to stderr without a traceback, exit code 1 (or ``code``)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _engine():
    engine = db.make_engine(load_settings().database_url)
    if not db.has_schema(engine):
        db.migrate(engine)
    return engine


def _print_issues(refusal: ImportRefused, source: str) -> None:
    """Every problem of a refused import on stderr, one line each (the pages show the same as a table)."""
    for line in refusal.issue_lines(source):
        print(line, file=sys.stderr)


# ------------------------------------------------------------------------------ commands


def cmd_init_db(args: argparse.Namespace) -> int:
    url = load_settings().database_url
    engine = db.make_engine(url)
    db.migrate(engine)
    print(f"Database is at the newest schema: {engine.url.render_as_string(hide_password=True)}")
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from kpialign.demo import seed as demo

    engine = _engine()
    if not db.is_empty(engine):
        if args.if_empty:
            print("The database already has data; the demo organisation was not seeded.")
            return 0
        raise CliError("The database is not empty; seed the demo only into an empty database (or use --if-empty).")
    progress = demo.text_progress(sys.stderr) if sys.stderr.isatty() or args.progress else None
    summary = demo.seed_demo(engine, scale=args.scale, seed=args.seed, today=args.today, progress=progress)
    print(summary.describe())
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    password = None
    generated = False
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not args.no_password:
        password = generate_password()
        generated = True
    with db.write_session(_engine()) as session:
        account = accounts.create_user(
            session=session,
            email=args.email,
            roles=args.role,
            password=password,
            name=args.name or "",
            department=args.department,
            units=args.unit or None,
            actor="cli",
        )
        email = account.email
    print(f"Created {email} with role(s): {', '.join(args.role)}")
    if generated:
        print(f"Password (shown once, store it safely): {password}")
    return 0


def cmd_manager_units(args: argparse.Namespace) -> int:
    """Make an account manage exactly the named units (``--none`` takes the manager role away)."""
    if not args.unit and not args.none:
        raise CliError("Give one or more --unit NAME, or --none to take the manager role away.")
    with db.write_session(_engine()) as session:
        account_id = accounts.account_id_by_email(session=session, email=args.email)
        unit_ids = accounts.unit_ids_by_name(session=session, names=args.unit or [])
        changed = accounts.set_manager_units(
            session=session, account_id=account_id, department_ids=unit_ids, actor=args.actor
        )
    if not changed:
        print(f"{args.email} already manages exactly that; nothing changed.")
    elif args.none:
        print(f"{args.email} is no longer a manager.")
    else:
        print(f"{args.email} now manages: {', '.join(args.unit)} (each with everything below it)")
    return 0


def cmd_set_department(args: argparse.Namespace) -> int:
    """Set or change an account's home department (``--none`` clears it); audited."""
    if bool(args.department) == bool(args.none):
        raise CliError("Give a DEPARTMENT, or --none to clear the home department.")
    with db.write_session(_engine()) as session:
        account_id = accounts.account_by_email(session=session, email=args.email)
        dept_id = None if args.none else accounts.department_by_name(session=session, name=args.department)
        changed = accounts.set_home_department(
            session=session, account_id=account_id, department_id=dept_id, actor=args.actor
        )
    where = "no home department" if args.none else f"home department {args.department.strip()}"
    print(f"{args.email} now has {where}." if changed else f"{args.email} already had {where}; nothing changed.")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from kpialign import backup

    try:
        result = backup.backup(args.file, force=args.force)
    except backup.BackupError as exc:
        raise CliError(str(exc)) from exc
    print(result.describe())
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from kpialign import backup

    try:
        if args.check_only:
            revision = backup.verify(args.file)
            print(f"{args.file} is a sound kpialign backup (schema revision {revision}); nothing was changed.")
            return 0
        result = backup.restore(args.file)
    except backup.BackupError as exc:
        raise CliError(str(exc)) from exc
    print(result.describe())
    return 0


def cmd_import_kpis(args: argparse.Namespace) -> int:
    """Validate a KPI-values CSV; if it is valid (and not --dry-run), upsert it in one transaction."""
    from pathlib import Path

    from kpialign.services import kpi_import as csvio
    from kpialign.services.measurements import EditScope

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"No such file: {args.file}")
    data = path.read_bytes()
    scope = EditScope.everything(actor=args.actor)
    try:
        with db.write_session(_engine(), bump=not args.dry_run) as session:
            summary = csvio.import_kpis(
                session=session, data=data, scope=scope, dry_run=args.dry_run, filename=path.name
            )
    except csvio.KpiImportError as exc:
        _print_issues(exc, args.file)
        raise CliError(str(exc)) from None
    print(summary.describe())
    return 0


def cmd_import_org(args: argparse.Namespace) -> int:
    """Import the directory (units and people) from CSV; all or nothing, idempotent."""
    from datetime import date
    from pathlib import Path

    files = [Path(args.file)] + ([Path(args.people)] if args.people else [])
    for path in files:
        if not path.is_file():
            raise CliError(f"No such file: {path}")
    try:
        as_of = date.fromisoformat(args.as_of) if args.as_of else date.today()
    except ValueError:
        raise CliError(f"--as-of must be a date YYYY-MM-DD, not {args.as_of!r}") from None
    names = " + ".join(p.name for p in files)
    try:
        with db.write_session(_engine(), bump=not args.dry_run) as session:
            plan = directory.import_directory(
                session=session,
                data=files[0].read_bytes(),
                people=files[1].read_bytes() if args.people else None,
                actor=args.actor,
                as_of=as_of,
                deactivate_missing=args.deactivate_missing,
                dry_run=args.dry_run,
                filename=names,
            )
    except directory.DirectoryImportError as exc:
        _print_issues(exc, names)
        raise CliError(str(exc)) from None
    print(plan.describe())
    return 0


def _wave_id(session, name: str) -> int:
    from kpialign.services import surveys

    try:
        return surveys.get_wave(session=session, name=name).id
    except surveys.SurveyError as exc:
        raise CliError(str(exc)) from None


def cmd_invite(args: argparse.Namespace) -> int:
    """Make personal survey links and print them as CSV (the only place the raw tokens appear)."""
    from pathlib import Path

    from kpialign.config import secret_key
    from kpialign.services import surveys

    if args.send or args.from_accounts:
        return cmd_mail(args)
    settings = load_settings()
    key = secret_key(settings.database_url)
    csv_text = None
    if args.from_csv:
        path = Path(args.from_csv)
        if not path.is_file():
            raise CliError(f"No such file: {args.from_csv}")
        csv_text = path.read_bytes().decode("utf-8-sig", errors="replace")
    elif not args.department or args.count is None:
        raise CliError("Give either --department NAME --count N, or --from-csv FILE.")
    try:
        with db.write_session(_engine()) as session:
            wave_id = _wave_id(session, args.wave)
            if csv_text is not None:
                links = surveys.invite_from_csv(
                    session=session,
                    wave_id=wave_id,
                    csv_text=csv_text,
                    key=key,
                    base_url=settings.base_url,
                    actor=args.actor,
                )
            else:
                links = surveys.invite_department(
                    session=session,
                    wave_id=wave_id,
                    department=args.department,
                    count=args.count,
                    key=key,
                    base_url=settings.base_url,
                    actor=args.actor,
                )
    except surveys.SurveyError as exc:
        raise CliError(str(exc)) from None
    sys.stdout.write(surveys.links_csv(links=links))
    print(f"{len(links)} personal link(s) for wave {args.wave!r}; they are shown only now.", file=sys.stderr)
    return 0


def cmd_mail(args: argparse.Namespace) -> int:
    """``invite --send`` (add recipients from --from-csv or --from-accounts, then send what is
    pending: a second run resumes) and ``remind`` (the next reminder round). Exit 3 when the mail
    server stopped the run (run the same command again to resume)."""
    from pathlib import Path

    from kpialign import mail
    from kpialign.config import mail_settings, secret_key
    from kpialign.services import surveys

    kind = mail.REMINDER if args.command == "remind" else mail.INVITATION
    if kind == mail.INVITATION and not args.send:
        raise CliError("--from-accounts adds e-mail recipients: add --send to e-mail them their links.")
    if kind == mail.INVITATION and args.department:
        raise CliError(
            "--send e-mails personal links: give --from-csv FILE or --from-accounts (or neither, to resume)."
        )
    settings, cfg = load_settings(), mail_settings()
    key = secret_key(settings.database_url)
    engine = _engine()
    try:
        with db.write_session(engine) as session:
            wave_id = _wave_id(session, args.wave)
            recipients = None
            if kind == mail.INVITATION and args.from_csv:
                path = Path(args.from_csv)
                if not path.is_file():
                    raise CliError(f"No such file: {args.from_csv}")
                recipients = mail.parse_recipients_csv(
                    path.read_bytes().decode("utf-8-sig", errors="replace"),
                    departments=mail.wave_departments(session, wave_id=wave_id),
                )
            elif kind == mail.INVITATION and args.from_accounts:
                recipients = mail.recipients_from_accounts(session, wave_id=wave_id)
            if recipients is not None:
                if recipients.problems:
                    for p in recipients.problems:
                        print(f"row {p.row}: {p.value}: {p.problem}", file=sys.stderr)
                    raise CliError(f"{len(recipients.problems)} row(s) to fix; nothing was added or sent.")
                added = mail.add_recipients(session, wave_id=wave_id, recipients=recipients, key=key, actor=args.actor)
                print(f"{added.added} recipient(s) added ({added.already} already had a link).", file=sys.stderr)
    except surveys.SurveyError as exc:
        raise CliError(str(exc)) from None

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"  {done}/{total}", file=sys.stderr)

    try:
        report = mail.send(
            engine, wave_id=wave_id, kind=kind, settings=cfg, key=key, base_url=settings.base_url,
            actor=args.actor, progress=progress,
        )  # fmt: skip
    except mail.MailError as exc:
        raise CliError(str(exc)) from None
    what = "invitation(s)" if kind == mail.INVITATION else "reminder(s)"
    where = f" to {cfg.dry_run_dir} (dry run)" if report.dry_run else ""
    print(f"{report.sent} {what} sent{where}; {report.refused} refused by the server; {report.in_doubt} in doubt.")
    for problem in report.problems[:20]:
        print(f"  refused: {problem}", file=sys.stderr)
    if report.error:
        raise CliError(f"{report.error} {report.left} left: run the same command again to resume.", code=3)
    return 0


def cmd_reissue_link(args: argparse.Namespace) -> int:
    """Replace one person's lost or leaked link; prints the new link once (the old one stops working)."""
    from kpialign.config import secret_key
    from kpialign.services import surveys

    settings = load_settings()
    try:
        with db.write_session(_engine()) as session:
            link = surveys.reissue_link(
                session=session,
                link=args.link,
                key=secret_key(settings.database_url),
                base_url=settings.base_url,
                actor=args.actor,
            )
    except surveys.SurveyError as exc:
        raise CliError(str(exc)) from None
    print(link)
    print("The old link no longer works; the new one is shown only now.", file=sys.stderr)
    return 0


def cmd_revoke_links(args: argparse.Namespace) -> int:
    """Withdraw the unused links of a wave (optionally of one department)."""
    from kpialign.services import surveys

    try:
        with db.write_session(_engine()) as session:
            wave_id = _wave_id(session, args.wave)
            dept_id = accounts.department_by_name(session=session, name=args.department) if args.department else None
            n = surveys.revoke_unused_links(session=session, wave_id=wave_id, actor=args.actor, department_id=dept_id)
    except surveys.SurveyError as exc:
        raise CliError(str(exc)) from None
    print(f"{n} unused link(s) of wave {args.wave!r} withdrawn.")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write one kind of export as safe CSV to stdout (or --output FILE); the export is audited.

    The portal's Exports page calls the same :func:`kpialign.exports.build_export`, so the
    same filters on the same day give byte-identical files. The file is streamed: memory stays
    bounded however large the export.
    """
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from kpialign import exports
    from kpialign.services import surveys

    engine = _engine()
    if args.kind in exports.SURVEY_KINDS and not args.wave:
        with db.read_session(engine) as session:
            names = surveys.list_waves(session=session)["name"].tolist()
        known = f" Waves: {', '.join(names)}." if names else " There are no survey waves yet."
        raise CliError(f"export {args.kind} needs --wave NAME.{known}")
    # Written chunk by chunk to a temporary file, and handed out (renamed into place, or copied
    # to stdout) only once the export's audit event is committed.
    target = Path(args.output) if args.output else None
    if target is not None and not target.parent.is_dir():
        raise CliError(f"export: there is no folder {str(target.parent)!r} to write {target.name!r} in.")
    with tempfile.NamedTemporaryFile(
        "wb", dir=target.parent if target else None, prefix=".kpialign-export-", delete=False
    ) as tmp:
        try:
            result = exports.build_export(
                engine,
                kind=args.kind,
                actor=args.actor,
                roles=exports.CLI_ROLES,
                wave=args.wave,
                period=args.period,
                excel=args.excel,
                out=tmp,
            )
        except BaseException:
            tmp.close()
            Path(tmp.name).unlink(missing_ok=True)
            raise
    if target is not None:
        os.replace(tmp.name, target)
        print(f"Wrote {result.rows} row(s) to {args.output} (suggested name: {result.filename})", file=sys.stderr)
    else:
        sys.stdout.flush()
        with open(tmp.name, "rb") as done:
            shutil.copyfileobj(done, sys.stdout.buffer)
        Path(tmp.name).unlink(missing_ok=True)
        sys.stdout.buffer.flush()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write a review pack PDF: one department's (``--department``) or the organisation's."""
    from pathlib import Path

    from sqlalchemy import func, select

    from kpialign import reports
    from kpialign.models import Department

    with db.read_session(_engine()) as session:
        try:
            if args.organisation:
                pdf = reports.organisation_pack(session, period=args.period, progress=_pack_progress(args))
                name = reports.pack_filename("organisation", args.period)
            else:
                found = session.execute(
                    select(Department.id, Department.name).where(func.lower(Department.name) == args.department.lower())
                ).all()
                if len(found) != 1:
                    raise CliError(f"There is no department named {args.department!r}.")
                pdf = reports.department_pack(session, department_id=found[0][0], period=args.period)
                name = reports.pack_filename(found[0][1], args.period)
        except ValueError as exc:  # ReportError, ReviewError, a bad period
            raise CliError(str(exc)) from exc
    out = Path(args.output or name)
    out.write_bytes(pdf)
    print(f"Wrote {out} ({len(pdf) / 1024:.0f} KiB)")
    return 0


def _pack_progress(args: argparse.Namespace) -> Callable[[int, int, str], None] | None:
    """A progress bar on stderr for the organisation pack (a terminal, or ``--progress``)."""
    from kpialign.demo.seed import text_progress

    if not (sys.stderr.isatty() or args.progress):
        return None
    bar = text_progress(sys.stderr)

    def step(done: int, total: int, department: str) -> None:
        bar(done / total, f"{'preparing' if done <= total // 2 else 'writing'} {department[:40]}")

    return step


def cmd_scorecard(args: argparse.Namespace) -> int:
    """Print the department scorecard (the Overview page's table) as a table, CSV or JSON."""
    import json
    import math

    # here: imported when the command runs, for start-up speed (see the module docstring)
    from kpialign.core import csv_out, scoring
    from kpialign.scorecard import build as scorecard
    from kpialign.scorecard import views

    with db.read_session(_engine()) as session:
        try:
            sc = scorecard.build_scorecard(session, period=args.period, wave=args.wave)
        except scoring.ScorecardError as exc:
            raise CliError(str(exc)) from exc
    table = views.scorecard_table(sc.departments)
    if args.format == "json":
        records = table.astype(object).where(table.notna(), None).to_dict(orient="records")
        org = sc.organisation
        payload = {
            "period": sc.period,
            "wave": sc.wave.name if sc.wave else None,
            "organisation": {
                "score": None if math.isnan(org["alignment"]["value"]) else round(org["alignment"]["value"], 1),
                "status": org["status"],
                "departments": org["alignment"]["units"],
            },
            "departments": records,
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    elif args.format == "csv":
        sys.stdout.flush()
        sys.stdout.buffer.write(csv_out.write_csv(table))
        sys.stdout.buffer.flush()
    else:
        wave = sc.wave.name if sc.wave else "none"
        print(f"Department scorecard, period {sc.period or 'none'}, survey wave {wave}")
        print(table.astype(object).where(table.notna(), "").to_string(index=False))
    return 0


def cmd_links(args: argparse.Namespace) -> int:
    """``links import FILE`` (all or nothing) and ``links list`` (every link with its lead-lag evidence)."""
    engine = _engine()
    system = UserContext(account_id=None, email=args.actor, name="", roles=frozenset({Role.ADMIN.value}))
    if args.links_command == "import":
        path = Path(args.file)
        if not path.is_file():
            raise CliError(f"No such file: {args.file}")
        try:
            with db.write_session(engine, bump=not args.dry_run) as session:
                summary = kpi_links.import_links(
                    session=session, data=path.read_bytes(), user=system, dry_run=args.dry_run, filename=path.name
                )
        except kpi_links.LinkImportError as exc:
            _print_issues(exc, args.file)
            raise CliError(str(exc)) from None
        print(summary.describe())
        return 0
    # here: imported when the command runs, for start-up speed (see the module docstring)
    from kpialign.scorecard import links as links_read
    from kpialign.scorecard.build import build_scorecard

    with db.read_session(engine) as session:
        frame = kpi_links.links_frame(session=session)
        sc = build_scorecard(session)
    table = links_read.links_with_evidence(frame, sc)[LINKS_LIST_COLUMNS] if not frame.empty else frame
    if args.format == "csv":
        sys.stdout.flush()
        sys.stdout.buffer.write(write_csv(table.reindex(columns=LINKS_LIST_COLUMNS)))
        sys.stdout.buffer.flush()
    elif table.empty:
        print("No KPI links are drawn.")
    else:
        print(table.astype(object).where(table.notna(), "").to_string(index=False))
    return 0


LINKS_LIST_COLUMNS = [
    "driver_department",
    "driver",
    "outcome_department",
    "outcome",
    "expected_lag",
    "expected_sign",
    "in_cycle",
    "n",
    "lag_tested",
    "granger_f",
    "p",
    "q",
    "verdict",
    "missing_periods",
]


def cmd_repair_counts(args: argparse.Namespace) -> int:
    """Store the counts of closed waves that lack them (databases from before the counts were stored on close)."""
    from kpialign.scorecard import counts

    repaired = counts.repair_engine(_engine())
    print(
        f"Stored the counts of {len(repaired)} closed wave(s)."
        if repaired
        else "Every closed wave's counts are stored."
    )
    return 0


# -------------------------------------------------------------------------------- parser


def _iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


class _ExportKinds(Collection[str]):
    """``kpialign.exports.KINDS``, imported only when argparse checks a kind or prints the help:
    the exports module brings the scorecard and scipy.stats, which no other command needs at
    start (start-up speed, see the module docstring)."""

    @staticmethod
    def _kinds() -> tuple[str, ...]:
        from kpialign.exports import KINDS

        return KINDS

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds()

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds())

    def __len__(self) -> int:
        return len(self._kinds())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kpialign", description="kpialign command line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init-db", help="create or upgrade the database schema (Alembic upgrade head)")
    p.set_defaults(func=cmd_init_db)

    p = sub.add_parser("seed-demo", help="fill an empty database with the deterministic demo organisation")
    p.add_argument("--scale", choices=["small", "enterprise"], default="small")
    p.add_argument("--seed", type=int, default=7, help="random seed; the same seed gives the same data")
    p.add_argument("--if-empty", action="store_true", help="do nothing (exit 0) if the database has data")
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    p.add_argument(
        "--today",
        type=_iso_day,
        default=date.today(),
        metavar="YYYY-MM-DD",
        help="lay the calendar out around this day (default: today): the open wave runs around it",
    )
    p.set_defaults(func=cmd_seed_demo)

    p = sub.add_parser("create-user", help="create an account (prints a generated password once)")
    p.add_argument("email")
    p.add_argument(
        "--role", action="append", required=True, help="employee, kpi_owner, leader, hr, admin or manager; repeatable"
    )
    p.add_argument("--department", help="home department; required for kpi_owner (the department they keep)")
    p.add_argument("--unit", action="append", help="a unit a manager leads (with everything below it); repeatable")
    p.add_argument("--name", help="display name")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    group.add_argument("--no-password", action="store_true", help="no local password (single sign-on only)")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("manager-units", help="set the units a manager leads (each with everything below it)")
    p.add_argument("email", help="the account's e-mail")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--unit", action="append", help="a unit (department name); repeatable")
    what.add_argument("--none", action="store_true", help="take the manager role away")
    p.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    p.set_defaults(func=cmd_manager_units)
    p = sub.add_parser("set-department", help="set or change an account's home department (audited)")
    p.add_argument("email", help="the account's e-mail address")
    p.add_argument("department", nargs="?", help="the department's name")
    p.add_argument("--none", action="store_true", help="clear the home department instead")
    p.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    p.set_defaults(func=cmd_set_department)

    p = sub.add_parser(
        "backup",
        help="write a consistent backup while the portal runs (SQLite: online backup API; PostgreSQL: pg_dump)",
    )
    p.add_argument("file", help="the backup file to write")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="check a backup, then replace the whole database with it (in one transaction)")
    p.add_argument("file", help="a file written by `backup` on the same kind of database")
    p.add_argument("--check-only", action="store_true", help="only check the backup; change nothing")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("import-kpis", help="import KPI actuals (and targets) from a CSV file; all or nothing")
    p.add_argument("file", help="CSV with columns kpi, department, period, actual and optional target")
    p.add_argument("--dry-run", action="store_true", help="validate and report what would change; write nothing")
    p.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    p.set_defaults(func=cmd_import_kpis)

    p = sub.add_parser("import-org", help="import the directory (units, people, roles, headcount) from CSV")
    p.add_argument("file", help="units CSV (unit_id, unit_name, parent_unit_id, headcount), or one combined file")
    p.add_argument("--people", metavar="FILE", help="people CSV (email, name, unit_id, roles, manages)")
    p.add_argument("--dry-run", action="store_true", help="validate and report what would change; write nothing")
    p.add_argument(
        "--deactivate-missing", action="store_true", help="deactivate people and directory units missing from the file"
    )
    p.add_argument("--as-of", help="date of the directory (YYYY-MM-DD; default today): headcount period, event date")
    p.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    p.set_defaults(func=cmd_import_org)

    p = sub.add_parser(
        "invite", help="make personal survey links for a wave and print them as CSV (department,link or email,...)"
    )
    p.add_argument("--wave", required=True, help="the wave's name")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--department", help="make --count links for this department")
    how.add_argument(
        "--from-csv", metavar="FILE", help="one link per row of a CSV with columns email,department (and language)"
    )
    how.add_argument("--from-accounts", action="store_true", help="with --send: the active accounts of the wave")
    p.add_argument("--count", type=int, help="how many links (with --department)")
    p.add_argument(
        "--send", action="store_true", help="e-mail the links (KPIALIGN_SMTP_*; again without a source to resume)"
    )
    p.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    p.set_defaults(func=cmd_invite)

    p = sub.add_parser("repair-counts", help="store the counts of closed survey waves that lack them (older databases)")
    p.set_defaults(func=cmd_repair_counts)
    p = sub.add_parser("remind", help="e-mail the next reminder round to unused links of an open wave (counts only)")
    p.add_argument("--wave", required=True, help="the wave's name")
    p.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    p.set_defaults(func=cmd_mail)
    p = sub.add_parser("reissue-link", help="replace one person's lost link: the old one stops working")
    p.add_argument(
        "link",
        help="the person's old link (or its token), from the list made with invite",
    )
    p.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    p.set_defaults(func=cmd_reissue_link)

    p = sub.add_parser("revoke-links", help="withdraw a wave's unused links (they no longer count as invited)")
    p.add_argument("--wave", required=True, help="the wave's name")
    p.add_argument("--department", help="only this department's links")
    p.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    p.set_defaults(func=cmd_revoke_links)

    p = sub.add_parser("scorecard", help="print the department scorecard (the Overview page's numbers)")
    p.add_argument("--period", help="month YYYY-MM (default: the latest month with data)")
    p.add_argument("--wave", help="survey wave name (default: the latest closed wave)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_scorecard)

    p = sub.add_parser("report", help="write a review pack PDF for a department (or the organisation) and a period")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--department", help="the department's name")
    which.add_argument("--organisation", action="store_true", help="overview plus one page per department")
    p.add_argument("--period", required=True, help="the review period, e.g. 2026-Q3 or 2026-09")
    p.add_argument("--output", help="the PDF file to write (default: a name with the scope and period)")
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export", help="write an export as safe CSV to stdout (privacy thresholds applied; audited)")
    p.add_argument("kind", choices=_ExportKinds(), metavar="KIND", help="one of: %(choices)s")
    p.add_argument("--wave", help="the survey wave's name (results, participation, responses, comments; scorecard)")
    p.add_argument("--period", help="YYYY-MM or YYYY-Qn (scorecard); also YYYY for kpis and audit")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p.add_argument("--excel", action="store_true", help="Excel flavour: UTF-8 with a byte-order mark")
    p.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "links", help="KPI links (driver -> outcome): import a CSV (all or nothing) or list them with evidence"
    )
    links_sub = p.add_subparsers(dest="links_command", required=True)
    q = links_sub.add_parser("import", help="import links from CSV: " + ", ".join(kpi_links.LINK_COLUMNS))
    q.add_argument("file", help="the CSV file")
    q.add_argument("--dry-run", action="store_true", help="validate and report what would change; write nothing")
    q.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    q.set_defaults(func=cmd_links)
    q = links_sub.add_parser("list", help="every link with its lead-lag evidence (BH across the links)")
    q.add_argument("--format", choices=["table", "csv"], default="table")
    q.set_defaults(func=cmd_links, actor="cli")

    return parser


def _bare_token_last(argv: Sequence[str]) -> list[str]:
    """``reissue-link TOKEN`` with a token that begins with "-" (one in 64 of the e-mailed links'
    tokens, and of personal links made before tokens stopped beginning with one): argparse would
    read it as an option and refuse the command, so it is put after "--"."""
    args = list(argv)
    if not args or args[0] != "reissue-link" or "--" in args:
        return args
    dashed = [a for a in args[1:] if a.startswith("-") and valid_web_token(a)]
    if not dashed:
        return args
    return [args[0], *(a for a in args[1:] if a not in dashed), "--", *dashed]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_bare_token_last(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except (KpialignError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OperationalError, DBAPIError) as exc:
        print(f"error: {db.friendly_error(exc)}", file=sys.stderr)
        return 2
