"""Invite links: strong tokens, only their hashes stored, revocation, and the CLI commands."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from pairwise import auth
from pairwise.cli import main
from pairwise.store import Store, StoreError, now_iso


def test_token_has_256_bits_and_only_its_sha256_is_stored(store: Store, new_db, databases) -> None:
    person, token = auth.invite(store, "ann")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) == 32
    rows = store.query("SELECT token_hash, annotator_id, revoked_at FROM tokens")
    assert rows == [
        {
            "token_hash": hashlib.sha256(token.encode()).hexdigest(),
            "annotator_id": person.id,
            "revoked_at": None,
        }
    ]
    store.close()
    # the secret appears nowhere in the database, not even in the WAL of a SQLite file
    stored = databases.contents(new_db("pairwise"))
    assert person.name.encode() in stored and token.encode() not in stored


def test_tokens_are_unique(store: Store) -> None:
    tokens = {auth.invite(store, f"p{i}")[1] for i in range(200)}
    assert len(tokens) == 200


def test_sign_in_with_live_token_and_not_after_revoke(store: Store) -> None:
    ann, token = auth.invite(store, "ann", email="Ann@Example.org")
    boss, boss_token = auth.invite(store, "boss", admin=True)
    assert auth.sign_in(store, token) == ann
    assert not ann.is_admin
    assert auth.sign_in(store, boss_token).is_admin
    assert auth.sign_in(store, token[:-1]) is None
    assert auth.sign_in(store, "") is None
    assert auth.revoke(store, "ann") == 1
    assert auth.sign_in(store, token) is None
    assert auth.sign_in(store, boss_token) == boss  # others keep their access
    assert auth.revoke(store, "ann") == 0


def test_reinvite_adds_a_link_and_refuses_another_role(store: Store) -> None:
    ann, first = auth.invite(store, "ann", email="ann@example.org")
    again, second = auth.invite(store, "ann")
    assert again == ann and first != second
    assert auth.sign_in(store, first) == ann and auth.sign_in(store, second) == ann
    with pytest.raises(StoreError, match="already registered as annotator"):
        auth.invite(store, "ann", admin=True)
    with pytest.raises(StoreError, match="another e-mail"):
        auth.invite(store, "ann", email="other@example.org")
    assert store.token_count() == 2  # the refused invites wrote nothing


def test_failed_invite_writes_nothing(store: Store) -> None:
    auth.invite(store, "ann", email="ann@example.org")
    with pytest.raises(StoreError, match="belongs to 'ann'"):
        auth.invite(store, "bob", email="ANN@example.org")
    assert [a.name for a in store.annotators()] == ["ann"]
    assert store.token_count() == 1


@pytest.mark.parametrize(
    "base", ["http://localhost:8501", "http://localhost:8501/", "https://rate.example.org/app/"]
)
def test_link_carries_the_token_in_the_query(base: str) -> None:
    token = auth.new_token()
    parts = urlsplit(auth.link(base, token))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == base.rstrip("/") + "/"
    assert parse_qs(parts.query) == {"token": [token]}


def test_cli_invite_prints_a_working_link_and_revoke_ends_it(new_db) -> None:
    db = new_db("cli")
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["--db", db, "invite", "boss", "--admin", "--base-url", "https://x.example/"],
    )
    assert result.exit_code == 0, result.output
    url = result.output.strip().splitlines()[-1]
    assert url.startswith("https://x.example/?token=")
    token = parse_qs(urlsplit(url).query)["token"][0]
    with Store(db) as s:
        assert auth.sign_in(s, token).is_admin
    result = runner.invoke(main, ["--db", db, "revoke", "boss"])
    assert result.exit_code == 0 and "Revoked 1" in result.output
    with Store(db) as s:
        assert auth.sign_in(s, token) is None
    result = runner.invoke(main, ["--db", db, "revoke", "nobody"])
    assert result.exit_code == 1 and "no annotator 'nobody'" in result.output


def test_a_session_lives_until_signed_out_revoked_or_expired(
    store: Store, new_db, databases
) -> None:
    ann, token = auth.invite(store, "ann")
    _, other_token = auth.invite(store, "ann")  # a second link of the same person
    person, secret = auth.start_session(store, token)
    _, other = auth.start_session(store, other_token)
    assert person == ann and secret not in (token, other)
    raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    assert len(raw) == 32
    assert auth.resume_session(store, secret) == ann
    assert auth.resume_session(store, token) is None  # the invite token is no session secret
    assert auth.resume_session(store, secret[:-1]) is None
    assert auth.resume_session(store, "") is None
    assert auth.start_session(store, token[:-1]) is None
    # signing out ends that one session; the other browser stays signed in
    assert auth.end_session(store, secret) is True
    assert auth.end_session(store, secret) is False
    assert auth.resume_session(store, secret) is None
    assert auth.resume_session(store, other) == ann
    # revoking the person ends every session opened with their links
    assert auth.revoke(store, "ann") == 2
    assert auth.resume_session(store, other) is None
    assert auth.start_session(store, other_token) is None
    store.close()
    stored = databases.contents(new_db("pairwise"))  # only hashes are stored
    assert b"ann" in stored and secret.encode() not in stored and other.encode() not in stored


def test_a_session_expires(store: Store) -> None:
    _, token = auth.invite(store, "ann")
    _, secret = auth.start_session(store, token)
    row = store.query("SELECT created_at, expires_at FROM sessions")[0]
    opened = datetime.fromisoformat(row["created_at"])
    assert datetime.fromisoformat(row["expires_at"]) - opened == timedelta(days=auth.SESSION_DAYS)
    with store.transaction() as conn:
        conn.execute("UPDATE sessions SET expires_at = ?", [now_iso()])
    assert auth.resume_session(store, secret) is None
