"""Password hashing, token HMACs and survey links (kpialign.core.security), against references."""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher

from kpialign.core import security


def test_hash_token_is_hmac_sha256_hex_under_the_key():
    expected = hmac.new(b"key", b"tok", hashlib.sha256).hexdigest()
    assert security.hash_token("tok", b"key") == expected
    assert security.hash_token("tok", b"other") != expected


def test_passwords_verify_only_with_the_right_password_and_a_missing_hash_is_false(monkeypatch):
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(security, "_hasher", fast)
    digest = security.hash_password("correct horse battery")
    assert digest.startswith("$argon2id$")
    assert security.verify_password(digest, "correct horse battery")
    assert not security.verify_password(digest, "wrong horse battery")
    assert not security.verify_password("not a hash", "x")
    assert not security.verify_password(None, "x")


def test_a_fixed_salt_gives_the_same_hash_and_tokens_have_the_web_token_shape():
    salt = b"0123456789abcdef"
    assert security.hash_password("demo-password", salt=salt) == security.hash_password("demo-password", salt=salt)
    token = security.new_token(32)
    assert security.valid_web_token(token) and not security.valid_web_token("short") and not security.valid_web_token(7)
    assert security.survey_link("https://kpi.example.com/", "abc") == "https://kpi.example.com/survey?token=abc"


def test_passwords_use_argon2id_with_at_least_owasps_minimum_parameters():
    from argon2 import extract_parameters

    params = extract_parameters(security.hash_password("correct horse battery staple"))
    assert params.type.name == "ID"
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2 and params.parallelism >= 1


def test_a_hash_made_with_other_parameters_is_upgraded_at_the_next_sign_in():
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash("correct horse battery staple")
    assert security.verify_password(old, "correct horse battery staple")
    assert security.needs_rehash(old)
    assert not security.needs_rehash(security.hash_password("correct horse battery staple"))


def test_no_token_begins_with_a_dash_so_a_bare_token_can_be_passed_to_the_cli():
    # One in 64 raw tokens would: 3,000 draws hold one with near certainty, (63/64)**3000 < 1e-20.
    tokens = [security.new_token(24) for _ in range(3000)]
    assert not any(t.startswith("-") for t in tokens)
    assert all(security.valid_web_token(t) and len(t) == 32 for t in tokens)
    assert len(set(tokens)) == len(tokens)


def test_a_bare_token_that_begins_with_a_dash_reaches_the_cli_after_a_double_dash(monkeypatch, capsys):
    from kpialign import cli

    seen = []
    monkeypatch.setattr(cli, "cmd_reissue_link", lambda args: seen.append(args.link) or 0)
    assert cli.main(["reissue-link", "--", "-starts-with-a-dash"]) == 0
    assert seen == ["-starts-with-a-dash"]


def test_a_bare_token_that_begins_with_a_dash_reaches_the_cli_without_a_double_dash(monkeypatch):
    # An e-mailed link's token (an HMAC, not redrawn) begins with "-" once in 64.
    from kpialign import cli

    seen = []
    monkeypatch.setattr(cli, "cmd_reissue_link", lambda args: seen.append((args.link, args.actor)) or 0)
    token = "-" + "A1_b" * 8
    assert cli.main(["reissue-link", token]) == 0
    assert cli.main(["reissue-link", token, "--actor", "hr@example.org"]) == 0
    assert seen == [(token, "cli"), (token, "hr@example.org")]
