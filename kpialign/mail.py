"""Survey invitations and reminders by e-mail: recipients, templates, resumable sending.

**Recipients.** From a CSV (``email,department`` and an optional ``language``; every malformed
row is listed by its row number and nothing is added until the file is fixed) or from the active
accounts of the wave's departments. Each recipient gets a personal link (an ``invitation``) and
an ``invitation_address`` row with the address, which is deleted when the wave closes
(:func:`kpialign.services.surveys.close_wave`). Nothing links an address to a response.

**Links without stored tokens.** A link's token is derived, never stored:
``token = base64url(HMAC-SHA256(secret key, "kpialign-invitation:" + token_seed))[:32]`` where
``token_seed`` is random per address. The database keeps the seed and, as for every link, only
``hash_token(token)``; with the server's secret (``KPIALIGN_SECRET_KEY``, never in the
database) a reminder rebuilds the same link. A database dump alone opens nobody's survey.

**Sending at most once.** Every message is claimed first: its row is set to ``sending`` (and a
reminder's ``reminders_sent`` incremented) in a committed transaction, conditionally on the state
it was seen in, so two senders never claim the same row. Only then is the SMTP conversation held;
afterwards the row becomes ``sent``. When the server refuses before accepting the message (a
refused connection, ``MAIL``/``RCPT`` answered with an error, the message's data rejected), the
claim is undone and a later run sends it. When the connection drops or times out while the server
is accepting the data, nobody knows whether it arrived: the row stays ``sending`` ("in doubt") and
is never sent again automatically, so nobody gets two copies. A crash leaves at most the one
message in flight in doubt. HR may release in-doubt rows explicitly (:func:`release_in_doubt`).

**Reminders** go only to links that were e-mailed, are not used and not revoked, in rounds: round
*r* reminds every such address that has had *r - 1* reminders, up to ``max_reminders``. An
interrupted round is resumed by the next run, which finishes it before a new round starts. HR
sees counts only, never who has or has not answered; a count is shown only where at least the
wave's minimum group was invited (:func:`kpialign.core.privacy.participation_visible`).

**Audit.** Each run writes one audit row with counts (sent, refused, in doubt, left), never
addresses.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import html
import io
import os
import re
import secrets
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from kpialign import audit, db
from kpialign.config import MailSettings
from kpialign.core import i18n, privacy
from kpialign.core.security import hash_token, survey_link
from kpialign.models import (
    Account,
    Department,
    Invitation,
    InvitationAddress,
    MailTemplate,
    SurveyWave,
    WaveStatus,
    utcnow,
)
from kpialign.services import surveys
from kpialign.services.surveys import SurveyError

INVITATION, REMINDER = "invitation", "reminder"
KINDS = (INVITATION, REMINDER)
PLACEHOLDERS = ("link", "wave", "closes_on", "confidentiality")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_RECIPIENTS = 20_000
MAX_SUBJECT = 300
MAX_BODY = 20_000


class MailError(SurveyError):
    """Mail could not be prepared or sent; the message is safe to show."""


# ------------------------------------------------------------------------------ tokens


def new_seed() -> str:
    return secrets.token_urlsafe(24)


def derive_token(seed: str, key: bytes) -> str:
    """The link token of an e-mailed invitation: an HMAC of its stored seed under the server's key."""
    digest = hmac.new(key, b"kpialign-invitation:" + seed.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:32]


def personal_link(base_url: str, seed: str, key: bytes, language: str) -> str:
    """The recipient's survey link, in the language of the e-mail that carries it."""
    return f"{survey_link(base_url, derive_token(seed, key))}&lang={language}"


# -------------------------------------------------------------------------- recipients

# A practical address check (RFC 5321 sizes; a dotted domain; no spaces, quotes or brackets):
# stricter than the RFC's quoted forms, which real directories do not export.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})+$")


def address_problem(email: str) -> str | None:
    """Why ``email`` cannot be used as a recipient, or ``None``."""
    if not email:
        return "no e-mail address"
    if len(email) > 254 or len(email.split("@", 1)[0]) > 64:
        return "e-mail address too long"
    if not _EMAIL.match(email):
        return "not a valid e-mail address"
    return None


@dataclass(frozen=True)
class Recipient:
    email: str
    department: str
    language: str | None = None
    row: int = 0  # the CSV row (1 = header), 0 when not from a file


@dataclass(frozen=True)
class RowProblem:
    row: int
    value: str
    problem: str


@dataclass(frozen=True)
class RecipientList:
    """A checked recipient list: nothing may be added while ``problems`` is not empty."""

    recipients: tuple[Recipient, ...]
    problems: tuple[RowProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.recipients)


def parse_recipients_csv(text: str, *, departments: Mapping[str, int] | None = None) -> RecipientList:
    """Read ``email,department[,language]``; every bad row is reported with its row number.

    ``departments`` (name -> id, e.g. the wave's) makes an unknown department a row problem too.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    rows = list(reader)
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise MailError("The CSV file is empty.")
    header = [c.strip().lower() for c in rows[0]]
    if "email" not in header or "department" not in header:
        raise MailError("The CSV needs a header row with the columns email and department (and optionally language).")
    ie, idp = header.index("email"), header.index("department")
    il = header.index("language") if "language" in header else None
    out: list[Recipient] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        email = row[ie].strip() if ie < len(row) else ""
        dept = row[idp].strip() if idp < len(row) else ""
        lang_raw = row[il].strip() if il is not None and il < len(row) else ""
        lang = i18n.normalise(lang_raw) if lang_raw else None
        if (why := address_problem(email)) is not None:
            problems.append(RowProblem(n, email, why))
        elif email.lower() in seen:
            problems.append(RowProblem(n, email, f"appears twice (also row {seen[email.lower()]})"))
        elif not dept:
            problems.append(RowProblem(n, email, "no department"))
        elif departments is not None and dept not in departments:
            problems.append(RowProblem(n, dept, "department not in this wave"))
        elif lang_raw and lang is None:
            problems.append(RowProblem(n, lang_raw, f"unknown language (use {', '.join(i18n.LANGUAGES)})"))
        else:
            seen[email.lower()] = n
            out.append(Recipient(email=email, department=dept, language=lang, row=n))
    if len(out) > MAX_RECIPIENTS:
        raise MailError(f"At most {MAX_RECIPIENTS} recipients per file.")
    return RecipientList(tuple(out), tuple(problems))


def wave_departments(session: Session, *, wave_id: int) -> dict[str, int]:
    """The wave's departments, name -> id (to check a recipient file's department column)."""
    wave = surveys.get_wave(session=session, wave_id=wave_id)
    return dict(
        session.exec(
            select(Department.name, Department.id).where(col(Department.id).in_(list(wave.department_ids)))
        ).all()
    )


def recipients_from_accounts(session: Session, *, wave_id: int) -> RecipientList:
    """The active accounts of the wave's departments, in their preferred language."""
    wave = surveys.get_wave(session=session, wave_id=wave_id)
    rows = session.exec(
        select(Account.email, Department.name, Account.language)
        .join(Department, Department.id == Account.department_id)
        .where(Account.active == True, col(Account.department_id).in_(list(wave.department_ids)))  # noqa: E712
        .order_by(Account.email)  # type: ignore[arg-type]
    ).all()
    out, problems = [], []
    for email, dept, lang in rows:
        if (why := address_problem(email)) is not None:
            problems.append(RowProblem(0, email, why))
        else:
            out.append(Recipient(email=email, department=dept, language=i18n.normalise(lang)))
    return RecipientList(tuple(out), tuple(problems))


@dataclass(frozen=True)
class Added:
    added: int
    already: int  # addresses that already had a link in this wave (not added again)


def add_recipients(session: Session, *, wave_id: int, recipients: RecipientList, key: bytes, actor: str) -> Added:
    """One personal link and address row per new recipient (state ``pending``); nothing is sent yet.

    Refused as a whole while the list has problems. An address that already has a link in this
    wave is skipped (case-insensitively), so adding the same file twice invites nobody twice.
    """
    if recipients.problems:
        raise MailError(f"The list has {len(recipients.problems)} problem(s); fix them first, nothing was added.")
    if not recipients.recipients:
        raise MailError("The list has no recipients.")
    names = sorted({r.department for r in recipients.recipients})
    depts = dict(session.exec(select(Department.name, Department.id).where(col(Department.name).in_(names))).all())
    unknown = [n for n in names if n not in depts]
    if unknown:
        raise MailError(f"Unknown departments, nothing was added: {', '.join(unknown[:10])}.")
    wave = surveys.check_can_invite(session=session, wave_id=wave_id, department_ids={int(d) for d in depts.values()})
    existing = {
        e.lower()
        for e in session.exec(
            select(InvitationAddress.email)
            .join(Invitation, Invitation.id == InvitationAddress.invitation_id)
            .where(Invitation.wave_id == wave_id)
        ).all()
    }
    added = already = 0
    for r in recipients.recipients:
        if r.email.lower() in existing:
            already += 1
            continue
        existing.add(r.email.lower())
        seed = new_seed()
        inv = Invitation(
            wave_id=wave_id,
            department_id=int(depts[r.department]),
            token_hmac=hash_token(derive_token(seed, key), key),
        )
        session.add(inv)
        session.flush()
        session.add(InvitationAddress(invitation_id=inv.id, email=r.email, language=r.language, token_seed=seed))
        added += 1
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="mail_recipients",
        entity="survey_wave",
        entity_id=wave.id,
        after={"added": added, "already_invited": already, "departments": len(names)},
    )
    return Added(added=added, already=already)


# --------------------------------------------------------------------------- templates

_CONFIDENTIALITY = {
    "en": "Your answers are confidential: they are stored without your name, e-mail address or this link, and "
    "results are shown only for groups of at least {k} people. Nobody can see what you answered.",
    "de": "Ihre Antworten sind vertraulich: Sie werden ohne Ihren Namen, Ihre E-Mail-Adresse oder diesen Link "
    "gespeichert, und Ergebnisse werden nur für Gruppen ab {k} Personen gezeigt. Niemand kann sehen, was Sie "
    "geantwortet haben.",
    "fr": "Vos réponses sont confidentielles : elles sont enregistrées sans votre nom, votre adresse e-mail ni "
    "ce lien, et les résultats ne sont affichés que pour des groupes d’au moins {k} personnes. Personne ne "
    "peut voir ce que vous avez répondu.",
    "es": "Sus respuestas son confidenciales: se guardan sin su nombre, su correo electrónico ni este enlace, y "
    "los resultados solo se muestran para grupos de al menos {k} personas. Nadie puede ver lo que usted ha "
    "respondido.",
}


def confidentiality(language: str, min_group: int) -> str:
    lang = i18n.normalise(language) or i18n.DEFAULT_LANGUAGE
    return _CONFIDENTIALITY[lang].format(k=privacy.effective_k(min_group))


def _html(before: Sequence[str], after: str, button: str) -> str:
    """A small, accessible HTML body: paragraphs, a clear link button, the statement in small print."""
    parts = [f'<p style="margin:0 0 14px">{p}</p>' for p in before]
    parts.append(
        '<p style="margin:18px 0"><a href="{link}" style="background:#1f5f8b;color:#ffffff;padding:10px 18px;'
        f'border-radius:4px;text-decoration:none;display:inline-block">{button}</a></p>'
        '<p style="margin:0 0 14px;font-size:13px;color:#444444">{link}</p>'
    )
    parts.append(f'<p style="margin:0 0 14px">{after}</p>')
    parts.append('<p style="margin:18px 0 0;font-size:13px;color:#444444">{confidentiality}</p>')
    return (
        '<div style="font-family:Arial,Helvetica,sans-serif;font-size:15px;color:#1a1a1a">' + "".join(parts) + "</div>"
    )


# (subject, text paragraphs before the link, text after the link, button label)
_DEFAULTS: dict[tuple[str, str], tuple[str, str, str, str]] = {
    (INVITATION, "en"): (
        "Your voice counts: {wave}",
        "Hello,\n\nWe would like to know how clearly you see our organisation's goals and how your work "
        "contributes to them. The survey takes about two minutes and is open until {closes_on}.\n\n"
        "Your personal link (please do not forward it):",
        "Thank you for taking part.",
        "Open the survey",
    ),
    (REMINDER, "en"): (
        "Reminder: {wave} closes on {closes_on}",
        "Hello,\n\nIf you have not answered our short survey yet, there is still time until {closes_on}. It "
        "takes about two minutes. If you have already answered, thank you, and please ignore this message.\n\n"
        "Your personal link:",
        "Thank you.",
        "Open the survey",
    ),
    (INVITATION, "de"): (
        "Ihre Meinung zählt: {wave}",
        "Guten Tag,\n\nwir möchten wissen, wie klar Sie die Ziele unserer Organisation sehen und wie Ihre Arbeit "
        "dazu beiträgt. Die Umfrage dauert etwa zwei Minuten und ist bis zum {closes_on} geöffnet.\n\n"
        "Ihr persönlicher Link (bitte nicht weiterleiten):",
        "Vielen Dank für Ihre Teilnahme.",
        "Zur Umfrage",
    ),
    (REMINDER, "de"): (
        "Erinnerung: {wave} endet am {closes_on}",
        "Guten Tag,\n\nfalls Sie unsere kurze Umfrage noch nicht beantwortet haben: Sie haben noch bis zum "
        "{closes_on} Zeit. Es dauert etwa zwei Minuten. Wenn Sie schon geantwortet haben, danken wir Ihnen – "
        "dann betrachten Sie diese Nachricht bitte als gegenstandslos.\n\nIhr persönlicher Link:",
        "Vielen Dank.",
        "Zur Umfrage",
    ),
    (INVITATION, "fr"): (
        "Votre avis compte : {wave}",
        "Bonjour,\n\nNous aimerions savoir dans quelle mesure les objectifs de notre organisation sont clairs "
        "pour vous et comment votre travail y contribue. L’enquête prend environ deux minutes et reste ouverte "
        "jusqu’au {closes_on}.\n\nVotre lien personnel (merci de ne pas le transférer) :",
        "Merci de votre participation.",
        "Répondre à l’enquête",
    ),
    (REMINDER, "fr"): (
        "Rappel : {wave} se termine le {closes_on}",
        "Bonjour,\n\nSi vous n’avez pas encore répondu à notre courte enquête, vous avez jusqu’au {closes_on}. "
        "Cela prend environ deux minutes. Si vous avez déjà répondu, merci, et ne tenez pas compte de ce "
        "message.\n\nVotre lien personnel :",
        "Merci.",
        "Répondre à l’enquête",
    ),
    (INVITATION, "es"): (
        "Su opinión cuenta: {wave}",
        "Hola:\n\nNos gustaría saber con qué claridad ve los objetivos de nuestra organización y cómo contribuye "
        "a ellos su trabajo. La encuesta dura unos dos minutos y está abierta hasta el {closes_on}.\n\n"
        "Su enlace personal (por favor, no lo reenvíe):",
        "Gracias por participar.",
        "Abrir la encuesta",
    ),
    (REMINDER, "es"): (
        "Recordatorio: {wave} termina el {closes_on}",
        "Hola:\n\nSi aún no ha respondido a nuestra breve encuesta, tiene tiempo hasta el {closes_on}. Solo "
        "le llevará unos dos minutos. Si ya ha respondido, muchas gracias y no tenga en cuenta este mensaje.\n\n"
        "Su enlace personal:",
        "Gracias.",
        "Abrir la encuesta",
    ),
}


@dataclass(frozen=True)
class Template:
    kind: str
    language: str
    subject: str
    text_body: str
    html_body: str
    custom: bool = False  # edited by HR (else the built-in text)


def default_template(kind: str, language: str) -> Template:
    lang = i18n.normalise(language) or i18n.DEFAULT_LANGUAGE
    subject, before, after, button = _DEFAULTS[(kind, lang)]
    text_body = f"{before}\n{{link}}\n\n{after}\n\n{{confidentiality}}\n"
    paragraphs = [p.replace("\n", "<br>") for p in before.split("\n\n")]
    html_body = _html(paragraphs, after, button)
    return Template(kind, lang, subject, text_body, html_body)


def get_template(session: Session, *, kind: str, language: str) -> Template:
    """HR's template for ``kind`` and ``language``, or the built-in one."""
    if kind not in KINDS:
        raise MailError(f"Unknown template kind {kind!r}.")
    lang = i18n.normalise(language) or i18n.DEFAULT_LANGUAGE
    row = session.get(MailTemplate, (kind, lang))
    if row is None:
        return default_template(kind, lang)
    return Template(kind, lang, row.subject, row.text_body, row.html_body, custom=True)


def template_problems(subject: str, text_body: str, html_body: str) -> list[str]:
    """What is wrong with a template; empty when it can be saved."""
    problems = []
    if not subject.strip() or len(subject) > MAX_SUBJECT or "\n" in subject or "\r" in subject:
        problems.append(f"The subject must be one line of 1 to {MAX_SUBJECT} characters.")
    for name, body in (("plain-text", text_body), ("HTML", html_body)):
        if len(body) > MAX_BODY:
            problems.append(f"The {name} body is longer than {MAX_BODY} characters.")
        if (name == "plain-text" or body.strip()) and "{link}" not in body:
            problems.append(f"The {name} body must contain {{link}} (the personal survey link).")
    for part in (subject, text_body, html_body):
        for unknown in sorted(set(_PLACEHOLDER.findall(part)) - set(PLACEHOLDERS)):
            problems.append(f"Unknown placeholder {{{unknown}}}: use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}.")
    return list(dict.fromkeys(problems))


def save_template(
    session: Session, *, kind: str, language: str, subject: str, text_body: str, html_body: str, actor: str
) -> None:
    """Save HR's version of a template (an empty HTML body sends plain text only)."""
    if kind not in KINDS:
        raise MailError(f"Unknown template kind {kind!r}.")
    lang = i18n.normalise(language)
    if lang is None:
        raise MailError(f"Unknown language {language!r}.")
    if problems := template_problems(subject, text_body, html_body):
        raise MailError(" ".join(problems))
    row = session.get(MailTemplate, (kind, lang)) or MailTemplate(kind=kind, language=lang, subject="", text_body="")
    before = {"subject": row.subject} if row.subject else None
    row.subject, row.text_body, row.html_body = subject.strip(), text_body, html_body
    row.updated_by, row.updated_at = actor, utcnow()
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update" if before else "create",
        entity="mail_template",
        entity_id=f"{kind}:{lang}",
        before=before,
        after={"subject": row.subject, "text_chars": len(text_body), "html_chars": len(html_body)},
    )


def reset_template(session: Session, *, kind: str, language: str, actor: str) -> None:
    """Go back to the built-in template."""
    row = session.get(MailTemplate, (kind, i18n.normalise(language) or ""))
    if row is not None:
        session.delete(row)
        audit.record(session, actor=actor, action="delete", entity="mail_template", entity_id=f"{kind}:{row.language}")


def fill(template: str, values: Mapping[str, str], *, escape: bool) -> str:
    """Replace ``{placeholder}``s (only the known ones; no format-string features); HTML-escape the values."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            return m.group(0)
        value = values[m.group(1)]
        return html.escape(value, quote=True) if escape else value

    return _PLACEHOLDER.sub(sub, template)


def build_message(
    template: Template,
    *,
    to_addr: str,
    sender: str,
    link: str,
    wave_name: str,
    closes_on: date,
    min_group: int,
) -> EmailMessage:
    """One personal message: plain text (and HTML when the template has it), with the headers a
    mail client needs (From, To, Subject, Date, Message-ID, Content-Language)."""
    values = {
        "link": link,
        "wave": " ".join(wave_name.split()),
        "closes_on": i18n.long_date(closes_on, template.language),
        "confidentiality": confidentiality(template.language, min_group),
    }
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to_addr
    msg["Subject"] = " ".join(fill(template.subject, values, escape=False).split())
    msg["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "kpialign.invalid"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(fill(template.text_body, values, escape=False))
    if template.html_body.strip():
        body = fill(template.html_body, values, escape=True)
        msg.add_alternative(
            f'<!DOCTYPE html><html lang="{template.language}"><head><meta charset="utf-8">'
            f"<title>{html.escape(msg['Subject'])}</title></head><body>{body}</body></html>",
            subtype="html",
        )
    msg["Content-Language"] = template.language  # after set_content, which drops Content-* headers
    return msg


# --------------------------------------------------------------------------- transport


class NotDelivered(Exception):
    """The server refused the message before accepting it; ``permanent`` for this recipient only."""

    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


class InDoubt(Exception):
    """The connection failed while the server was taking the message: it may or may not have arrived."""


class Transport(Protocol):
    def send(self, msg: EmailMessage) -> None: ...


def _connection_message(exc: BaseException, settings: MailSettings) -> str:
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"The mail server {where} refused the user name or password (KPIALIGN_SMTP_USER / KPIALIGN_SMTP_PASSWORD)."
        )
    # smtplib turns a read timeout into SMTPServerDisconnected("... timed out"), keeping the cause.
    timed_out = isinstance(exc.__cause__ or exc.__context__, TimeoutError) or "timed out" in str(exc)
    if isinstance(exc, TimeoutError | socket.timeout) or timed_out:
        return f"The mail server {where} did not answer within {settings.timeout_s:g} seconds."
    if isinstance(exc, ConnectionRefusedError):
        return f"The mail server {where} refused the connection. Check KPIALIGN_SMTP_HOST and KPIALIGN_SMTP_PORT."
    if isinstance(exc, ssl.SSLError):
        return f"The secure connection to the mail server {where} failed (KPIALIGN_SMTP_SECURITY): {exc.reason}."
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"The mail server {where} does not offer STARTTLS; set KPIALIGN_SMTP_SECURITY to tls or none."
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError):
        return f"The mail server {where} dropped the connection."
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"The mail server {where} refused: {exc.smtp_code} {exc.smtp_error.decode(errors='replace')}."
    return f"Could not reach the mail server {where}: {exc.__class__.__name__}."


class SmtpTransport:
    """One SMTP connection; :meth:`send` tells refusals (safe to retry) from lost deliveries (in doubt)."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self.envelope_from = parseaddr(settings.sender)[1]
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        s = self.settings
        if not s.host:
            raise MailError("No mail server is set up: set KPIALIGN_SMTP_HOST (or KPIALIGN_MAIL_DRY_RUN to a folder).")
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_s, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(_connection_message(exc, s)) from None
        self.smtp = smtp

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None

    def send(self, msg: EmailMessage) -> None:
        smtp = self.smtp
        if smtp is None:
            raise NotDelivered("not connected", permanent=False)
        to = parseaddr(str(msg["To"]))[1]
        try:
            code, resp = smtp.mail(self.envelope_from)
            if code != 250:
                self._reset()
                raise NotDelivered(_reply(code, resp), permanent=False)
            code, resp = smtp.rcpt(to)
            if code not in (250, 251):
                self._reset()
                raise NotDelivered(_reply(code, resp), permanent=500 <= code < 600)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise NotDelivered(_connection_message(exc, self.settings), permanent=False) from None
        try:
            code, resp = smtp.data(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))
        except smtplib.SMTPDataError as exc:  # DATA itself refused: nothing was delivered
            self._reset()
            raise NotDelivered(_reply(exc.smtp_code, exc.smtp_error), permanent=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise InDoubt(_connection_message(exc, self.settings)) from None
        if code != 250:  # the server answered "no" to the message: nothing was delivered
            self._reset()
            raise NotDelivered(_reply(code, resp), permanent=False)

    def _reset(self) -> None:
        try:
            if self.smtp is not None:
                self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            pass


def _reply(code: int, resp: bytes | str) -> str:
    text = resp.decode(errors="replace") if isinstance(resp, bytes) else str(resp)
    return f"The mail server answered {code} {text}".strip()


class DryRunTransport:
    """Writes each message as an ``.eml`` file (mode 0600: it holds a personal link) instead of sending."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise MailError(f"Cannot write to the dry-run folder {self.folder}: {exc.strerror}.") from None

    def close(self) -> None:
        pass

    def send(self, msg: EmailMessage) -> None:
        self.count += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{self.count:05d}-{secrets.token_hex(4)}.eml"
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(msg.as_bytes())


@contextmanager
def open_transport(settings: MailSettings) -> Iterator[SmtpTransport | DryRunTransport]:
    transport: SmtpTransport | DryRunTransport = (
        DryRunTransport(settings.dry_run_dir) if settings.dry_run_dir is not None else SmtpTransport(settings)
    )
    transport.open()
    try:
        yield transport
    finally:
        transport.close()


class RateLimiter:
    """At most ``per_minute`` messages a minute, evenly spaced (mail providers throttle bursts)."""

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval = 60.0 / per_minute
        self.clock, self.sleep = clock, sleep
        self.next_at: float | None = None

    def wait(self) -> None:
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


# ----------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class Outbox:
    """Delivery state of a wave's e-mailed links, as counts only.

    ``reminder_due`` is ``None`` where showing it could tell HR how many of a small group have
    answered (fewer than the wave's minimum group invited).
    """

    pending: int
    in_doubt: int
    sent: int
    failed: int
    reminder_round: int
    reminder_due: int | None
    max_reminders: int

    @property
    def total(self) -> int:
        return self.pending + self.in_doubt + self.sent + self.failed


@dataclass
class SendReport:
    kind: str
    sent: int = 0
    refused: int = 0  # refused for good by the server for that address (state failed)
    in_doubt: int = 0
    left: int = 0  # still to send (resume sends them)
    error: str | None = None
    dry_run: bool = False
    problems: list[str] = field(default_factory=list)


def _wave_links(wave_id: int):
    return select(Invitation.id).where(Invitation.wave_id == wave_id)


def _reminder_base(wave_id: int, max_reminders: int):
    return (
        select(InvitationAddress.invitation_id, InvitationAddress.reminders_sent)
        .join(Invitation, Invitation.id == InvitationAddress.invitation_id)
        .where(
            Invitation.wave_id == wave_id,
            Invitation.used == False,  # noqa: E712
            Invitation.revoked == False,  # noqa: E712
            InvitationAddress.state == "sent",
            InvitationAddress.reminders_sent < max_reminders,
        )
    )


def _reminder_round(session: Session, wave_id: int, max_reminders: int) -> tuple[int, list[int]]:
    """The round to send (1-based) and the links due in it: every eligible link with the fewest reminders."""
    rows = session.exec(_reminder_base(wave_id, max_reminders)).all()
    if not rows:
        return 0, []
    fewest = min(r for _, r in rows)
    return fewest + 1, sorted(int(i) for i, r in rows if r == fewest)


def outbox(session: Session, *, wave_id: int, max_reminders: int) -> Outbox:
    """Counts of the wave's e-mailed links by delivery state, and the next reminder round."""
    wave = surveys.get_wave(session=session, wave_id=wave_id)
    counts = dict(
        session.exec(
            select(InvitationAddress.state, func.count())  # type: ignore[arg-type]
            .where(col(InvitationAddress.invitation_id).in_(_wave_links(wave_id)))
            .group_by(InvitationAddress.state)
        ).all()
    )
    rnd, due = _reminder_round(session, wave_id, max_reminders)
    invited = session.exec(
        select(func.count()).select_from(Invitation).where(Invitation.wave_id == wave_id, Invitation.revoked == False)  # noqa: E712
    ).one()
    return Outbox(
        pending=int(counts.get("pending", 0)),
        in_doubt=int(counts.get("sending", 0)),
        sent=int(counts.get("sent", 0)),
        failed=int(counts.get("failed", 0)),
        reminder_round=rnd,
        reminder_due=len(due) if privacy.participation_visible(int(invited), wave.min_group) else None,
        max_reminders=max_reminders,
    )


def _check_sendable(session: Session, wave_id: int, today: date) -> SurveyWave:
    wave = session.get(SurveyWave, wave_id)
    if wave is None:
        raise MailError(f"There is no survey wave with id {wave_id}.")
    if wave.status != WaveStatus.OPEN.value:
        raise MailError(f"Wave {wave.name!r} is {wave.status}: e-mails go out only while a wave is open.")
    if today < wave.opens_on:
        raise MailError(
            f"Wave {wave.name!r} opens on {wave.opens_on:%d %b %Y}: its links work from then, send them then."
        )
    if today > wave.closes_on:
        raise MailError(f"Wave {wave.name!r} closed on {wave.closes_on:%d %b %Y}: its links no longer work.")
    return wave


def _claim(engine: Engine, invitation_id: int, kind: str, seen_reminders: int | None) -> InvitationAddress | None:
    """Mark one row ``sending`` and commit, conditionally on its state: the claim is exclusive."""
    with db.write_session(engine, bump=False) as s:
        stmt = update(InvitationAddress).where(col(InvitationAddress.invitation_id) == invitation_id)
        if kind == INVITATION:
            stmt = stmt.where(col(InvitationAddress.state) == "pending").values(state="sending")
        else:
            stmt = stmt.where(
                col(InvitationAddress.state) == "sent", col(InvitationAddress.reminders_sent) == seen_reminders
            ).values(state="sending", reminders_sent=InvitationAddress.reminders_sent + 1)
        if s.execute(stmt.execution_options(synchronize_session=False)).rowcount != 1:  # type: ignore[attr-defined]
            return None
        if kind == REMINDER:  # a link used or revoked since the round was planned gets no reminder
            inv = s.get(Invitation, invitation_id)
            if inv is None or inv.used or inv.revoked:
                s.rollback()
                return None
        return s.get(InvitationAddress, invitation_id)


def _settle(engine: Engine, invitation_id: int, kind: str, outcome: str) -> None:
    """After the SMTP call: ``sent``; ``refused`` (for good); ``retry`` (undo the claim)."""
    values: dict[str, object]
    if outcome == "sent":
        values = {"state": "sent"}
    elif outcome == "refused":
        values = {"state": "failed"} if kind == INVITATION else {"state": "sent"}
    elif kind == INVITATION:
        values = {"state": "pending"}
    else:
        values = {"state": "sent", "reminders_sent": InvitationAddress.reminders_sent - 1}
    with db.write_session(engine, bump=False) as s:
        s.execute(
            update(InvitationAddress)
            .where(col(InvitationAddress.invitation_id) == invitation_id, col(InvitationAddress.state) == "sending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def send(
    engine: Engine,
    *,
    wave_id: int,
    kind: str,
    settings: MailSettings,
    key: bytes,
    base_url: str,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
    transport: Transport | None = None,
    limiter: RateLimiter | None = None,
    today: date | None = None,
) -> SendReport:
    """Send the wave's pending invitations (``kind="invitation"``) or the next reminder round.

    Manages its own transactions (each message is claimed and settled in committed transactions,
    see the module docstring); call it outside any write session. A connection failure stops the
    run with ``report.error`` set; running it again resumes. ``progress(done, total)`` after each
    message. ``transport`` replaces the configured one (tests).
    """
    if kind not in KINDS:
        raise MailError(f"Unknown kind {kind!r}.")
    today = today or date.today()
    if not settings.sender:
        raise MailError("No sender address is set up: set KPIALIGN_MAIL_FROM (e.g. HR <hr@example.org>).")
    with db.read_session(engine) as s:
        wave = _check_sendable(s, wave_id, today)
        if kind == INVITATION:
            plan = [
                (int(i), None)
                for i in s.exec(
                    select(InvitationAddress.invitation_id)
                    .join(Invitation, Invitation.id == InvitationAddress.invitation_id)
                    .where(
                        Invitation.wave_id == wave_id,
                        Invitation.revoked == False,  # noqa: E712
                        InvitationAddress.state == "pending",
                    )
                    .order_by(InvitationAddress.invitation_id)  # type: ignore[arg-type]
                ).all()
            ]
        else:
            rnd, due = _reminder_round(s, wave_id, settings.max_reminders)
            plan = [(i, rnd - 1) for i in due]
        wave_lang = i18n.normalise(wave.language) or i18n.DEFAULT_LANGUAGE
        templates = {lang: get_template(s, kind=kind, language=lang) for lang in i18n.LANGUAGES}
        wave_name, closes_on, min_group = wave.name, wave.closes_on, wave.min_group
    report = SendReport(kind=kind, dry_run=transport is None and settings.dry_run_dir is not None)
    if not plan:
        return report
    limiter = limiter or RateLimiter(settings.per_minute)

    def run(t: Transport) -> None:
        for n, (invitation_id, seen) in enumerate(plan, start=1):
            row = _claim(engine, invitation_id, kind, seen)
            if row is not None:
                lang = i18n.normalise(row.language) or wave_lang
                link = personal_link(base_url, row.token_seed or "", key, lang)
                msg = build_message(
                    templates[lang],
                    to_addr=row.email,
                    sender=settings.sender,
                    link=link,
                    wave_name=wave_name,
                    closes_on=closes_on,
                    min_group=min_group,
                )
                limiter.wait()
                try:
                    t.send(msg)
                except NotDelivered as exc:
                    if exc.permanent:
                        _settle(engine, invitation_id, kind, "refused")
                        report.refused += 1
                        report.problems.append(str(exc))
                    else:
                        _settle(engine, invitation_id, kind, "retry")
                        report.error = str(exc)
                        report.left = len(plan) - n + 1
                        return
                except InDoubt as exc:
                    report.in_doubt += 1
                    report.error = str(exc)
                    report.left = len(plan) - n
                    return
                else:
                    _settle(engine, invitation_id, kind, "sent")
                    report.sent += 1
            if progress is not None:
                progress(n, len(plan))

    try:
        if transport is not None:
            run(transport)
        else:
            with open_transport(settings) as t:
                run(t)
    except MailError as exc:  # could not connect: nothing was claimed
        report.error = str(exc)
        report.left = len(plan) - report.sent - report.refused - report.in_doubt
    finally:  # also when the run is interrupted (the user leaves the page): every settled row counts
        with db.write_session(engine) as s:
            audit.record(
                s,
                actor=actor,
                action="mail_invitations" if kind == INVITATION else "mail_reminders",
                entity="survey_wave",
                entity_id=wave_id,
                after={
                    "sent": report.sent,
                    "refused": report.refused,
                    "in_doubt": report.in_doubt,
                    "left": report.left,
                    "dry_run": report.dry_run,
                    "stopped": report.error is not None,
                },
            )
    return report


def release_in_doubt(session: Session, *, wave_id: int, actor: str) -> int:
    """Make in-doubt messages sendable again (HR accepts that some people may get a second copy).

    An in-doubt invitation goes back to ``pending``; an in-doubt reminder back to ``sent`` with
    its count as before. Returns how many rows were released (audited, count only).
    """
    rows = session.exec(
        select(InvitationAddress).where(
            col(InvitationAddress.invitation_id).in_(_wave_links(wave_id)), InvitationAddress.state == "sending"
        )
    ).all()
    for row in rows:
        if row.reminders_sent > 0:
            row.state, row.reminders_sent = "sent", row.reminders_sent - 1
        else:
            row.state = "pending"
        session.add(row)
    if rows:
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="mail_release",
            entity="survey_wave",
            entity_id=wave_id,
            after={"released": len(rows)},
        )
    return len(rows)
