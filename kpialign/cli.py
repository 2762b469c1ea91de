"""``python -m kpialign <command>``: automation and tests. Errors go to stderr with a non-zero exit.

Each command is a function ``cmd_<name>(args) -> int`` registered in :func:`build_parser`.
The database comes from ``KPIALIGN_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError, OperationalError

from kpialign import db
from kpialign.config import load_settings
from kpialign.core.errors import KpialignError
from kpialign.services import accounts, directory


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
    summary = demo.seed_demo(engine, scale=args.scale, seed=args.seed, progress=progress)
    print(summary.describe())
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    password = None
    generated = False
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not args.no_password:
        password = accounts.generate_password()
        generated = True
    with db.write_session(_engine()) as session:
        account = accounts.create_user(
            session,
            email=args.email,
            roles=args.role,
            password=password,
            name=args.name or "",
            department=args.department,
            actor="cli",
        )
        email = account.email
    print(f"Created {email} with role(s): {', '.join(args.role)}")
    if generated:
        print(f"Password (shown once, store it safely): {password}")
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
            summary = csvio.import_kpis(session, data=data, scope=scope, dry_run=args.dry_run, filename=path.name)
    except csvio.KpiImportError as exc:
        for issue in exc.validation.issues:
            where = f"row {issue.row}" if issue.row else "file"
            column = f", column {issue.column}" if issue.column else ""
            value = f", value {issue.value!r}" if issue.value else ""
            print(f"{args.file}: {where}{column}{value}: {issue.reason}", file=sys.stderr)
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
                session,
                data=files[0].read_bytes(),
                people=files[1].read_bytes() if args.people else None,
                actor=args.actor,
                as_of=as_of,
                deactivate_missing=args.deactivate_missing,
                dry_run=args.dry_run,
                filename=names,
            )
    except directory.DirectoryImportError as exc:
        for issue in exc.plan.issues:
            where = f"row {issue.row}" if issue.row else "file"
            column = f", column {issue.column}" if issue.column else ""
            value = f", value {issue.value!r}" if issue.value else ""
            print(f"{issue.file or names}: {where}{column}{value}: {issue.reason}", file=sys.stderr)
        raise CliError(str(exc)) from None
    print(plan.describe())
    return 0


def _wave_id(session, name: str) -> int:
    from kpialign.services import surveys

    try:
        return surveys.get_wave(session, name=name).id
    except surveys.SurveyError as exc:
        raise CliError(str(exc)) from None


def cmd_invite(args: argparse.Namespace) -> int:
    """Make personal survey links and print them as CSV (the only place the raw tokens appear)."""
    from pathlib import Path

    from kpialign.config import secret_key
    from kpialign.services import surveys

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
                    session, wave_id=wave_id, csv_text=csv_text, key=key, base_url=settings.base_url, actor=args.actor
                )
            else:
                links = surveys.invite_department(
                    session,
                    wave_id=wave_id,
                    department=args.department,
                    count=args.count,
                    key=key,
                    base_url=settings.base_url,
                    actor=args.actor,
                )
    except surveys.SurveyError as exc:
        raise CliError(str(exc)) from None
    sys.stdout.write(surveys.links_csv(links))
    print(f"{len(links)} personal link(s) for wave {args.wave!r}; they are shown only now.", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write one kind of export as safe CSV to stdout (or --output FILE); the export is audited.

    The portal's Exports page calls the same :func:`kpialign.exports.prepare_export`, so the
    same filters on the same day give byte-identical files.
    """
    from pathlib import Path

    from kpialign import exports
    from kpialign.services import surveys

    engine = _engine()
    if args.kind in exports.SURVEY_KINDS and not args.wave:
        with db.read_session(engine) as session:
            names = surveys.list_waves(session)["name"].tolist()
        known = f" Waves: {', '.join(names)}." if names else " There are no survey waves yet."
        raise CliError(f"export {args.kind} needs --wave NAME.{known}")
    result = exports.build_export(
        engine,
        kind=args.kind,
        actor=args.actor,
        roles=exports.CLI_ROLES,
        wave=args.wave,
        period=args.period,
        excel=args.excel,
    )
    if args.output:
        Path(args.output).write_bytes(result.data)
        print(f"Wrote {result.rows} row(s) to {args.output} (suggested name: {result.filename})", file=sys.stderr)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(result.data)
        sys.stdout.buffer.flush()
    return 0


def cmd_scorecard(args: argparse.Namespace) -> int:
    """Print the department scorecard (the Overview page's table) as a table, CSV or JSON."""
    import json
    import math

    from kpialign.core import csv_out
    from kpialign.scorecard import build as scorecard

    with db.read_session(_engine()) as session:
        try:
            sc = scorecard.build_scorecard(session, period=args.period, wave=args.wave)
        except scorecard.ScorecardError as exc:
            raise CliError(str(exc)) from exc
    table = scorecard.scorecard_table(sc.departments)
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
    p.set_defaults(func=cmd_seed_demo)

    p = sub.add_parser("create-user", help="create an account (prints a generated password once)")
    p.add_argument("email")
    p.add_argument(
        "--role", action="append", required=True, help="employee, kpi_owner, leader, hr or admin; repeatable"
    )
    p.add_argument("--department", help="home department; required for kpi_owner (the department they keep)")
    p.add_argument("--name", help="display name")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    group.add_argument("--no-password", action="store_true", help="no local password (single sign-on only)")
    p.set_defaults(func=cmd_create_user)

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
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--department", help="make --count links for this department")
    how.add_argument("--from-csv", metavar="FILE", help="one link per row of a CSV with columns email,department")
    p.add_argument("--count", type=int, help="how many links (with --department)")
    p.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    p.set_defaults(func=cmd_invite)

    p = sub.add_parser("repair-counts", help="store the counts of closed survey waves that lack them (older databases)")
    p.set_defaults(func=cmd_repair_counts)

    from kpialign.exports import KINDS as EXPORT_KINDS

    p = sub.add_parser("scorecard", help="print the department scorecard (the Overview page's numbers)")
    p.add_argument("--period", help="month YYYY-MM (default: the latest month with data)")
    p.add_argument("--wave", help="survey wave name (default: the latest closed wave)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_scorecard)

    p = sub.add_parser("export", help="write an export as safe CSV to stdout (privacy thresholds applied; audited)")
    p.add_argument("kind", choices=list(EXPORT_KINDS), metavar="KIND", help=f"one of: {', '.join(EXPORT_KINDS)}")
    p.add_argument("--wave", help="the survey wave's name (results, participation, responses, comments; scorecard)")
    p.add_argument("--period", help="YYYY-MM or YYYY-Qn (scorecard); also YYYY for kpis and audit")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p.add_argument("--excel", action="store_true", help="Excel flavour: UTF-8 with a byte-order mark")
    p.add_argument("--actor", default="cli", help="the name recorded in the audit log (default: cli)")
    p.set_defaults(func=cmd_export)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
