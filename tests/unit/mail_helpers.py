"""A real SMTP server on loopback (aiosmtpd) that can refuse, drop or stall after N messages."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from kpialign.config import MailSettings

SENDER = "HR Team <hr@example.org>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Collector:
    """aiosmtpd handler: keeps every accepted message; fails as told after ``fail_after`` messages.

    ``mode``: ``refuse`` answers 421 to MAIL FROM (nothing delivered), ``drop`` keeps the message
    and then cuts the connection before answering its data (delivered, but the client cannot
    know), ``stall`` keeps it and answers too late (client times out).
    """

    fail_after: int | None = None
    mode: str = "refuse"
    reject: set[str] = field(default_factory=set)
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    def failing(self) -> bool:
        return self.fail_after is not None and len(self.messages) >= self.fail_after

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.mode == "refuse" and self.failing():
            return "421 4.3.2 Service shutting down, try later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        failing = self.failing()
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if failing and self.mode == "drop":
            server.transport.abort()
            return "250 never sent"
        if failing and self.mode == "stall":
            await asyncio.sleep(2.0)
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        return [str(m["To"]) for m in self.messages]


class SmtpServer:
    def __init__(self, handler: Collector):
        self.handler = handler
        self.port = free_port()
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def settings(port: int, **changes) -> MailSettings:
    base = MailSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        user="",
        password="",
        sender=SENDER,
        dry_run_dir=None,
        per_minute=60_000.0,
        timeout_s=5.0,
        max_reminders=2,
    )
    return replace(base, **changes)


def dry_run_settings(folder: Path, **changes) -> MailSettings:
    return settings(1, host="", dry_run_dir=folder, **changes)


def link_of(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return next(line.strip() for line in body.splitlines() if "/survey?token=" in line)
