"""Invite links: how annotators sign in without accounts or passwords.

An admin invites a person and sends them a personal link ``http://HOST/?token=...``. The token is
32 random bytes (256 bits) from :mod:`secrets`; the store keeps only its SHA-256, so a copy of the
database does not let anyone sign in. Revoking a person's tokens locks them out at their next
click. Opening a link starts a browser session with a secret of its own (see
:func:`start_session`), so that the link can leave the address bar and a reload stays signed in.
Deployments with a single sign-on provider can use Streamlit's OIDC login instead; the app
then maps the signed-in e-mail to an annotator (see :mod:`pairwise.pages.common`).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from urllib.parse import urlencode

from .store import Annotator, Store, StoreError

TOKEN_BYTES = 32
SESSION_DAYS = 30
"""How long a browser stays signed in after opening a link, unless it signs out earlier."""
LOCAL_ADMIN = "local-admin"
"""Who everyone is in local demo mode, before the first invitation."""


def new_token() -> str:
    """A fresh URL-safe secret with ``TOKEN_BYTES`` of randomness."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest that the store keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def invite(
    store: Store, name: str, admin: bool = False, email: str | None = None
) -> tuple[Annotator, str]:
    """Add an annotator (or admin) and issue their sign-in token.

    Inviting someone who already exists issues them another token (a lost link); their earlier
    tokens keep working until :func:`revoke`. The token is returned once and never stored. The
    first invitation ends local demo mode: see :func:`set_demo_apart`.
    """
    role = "admin" if admin else "annotator"
    token = new_token()
    with store.transaction():
        if first_invitation(store):
            set_demo_apart(store)
        try:
            person = store.get_annotator(name)
        except StoreError:
            holder = store.annotator_by_email(email) if email else None
            if holder is not None:
                raise StoreError(f"the e-mail {email} belongs to {holder.name!r}") from None
            person = store.add_annotator(name, role=role, email=email or None)
        else:
            if person.is_model:
                raise StoreError(f"{name!r} is a model judge: it is not invited to annotate")
            if person.role != role:
                raise StoreError(f"{name!r} is already registered as {person.role}, not {role}")
            if email and (person.email or "").lower() != email.strip().lower():
                raise StoreError(f"{name!r} is already registered with another e-mail")
        store.add_token(person.id, hash_token(token))
    return person, token


def first_invitation(store: Store) -> bool:
    """Whether the next invitation turns sign-in on: no link was ever issued, so the app still
    runs in local demo mode, and whoever is invited next is the first who can sign in."""
    return store.token_count() == 0


def set_demo_apart(store: Store) -> None:
    """What was tried in local demo mode steps aside when real people arrive: the demo study is
    set apart (no longer handed out, left out of reports and Progress, removable on the Studies
    page), and the local admin's judgments leave reports as an excluded annotator's do. Nothing
    is deleted; both can be brought back."""
    with store.transaction():
        for study in store.studies(include_set_apart=False):
            if study.demo:
                store.set_apart(study.id)
        with contextlib.suppress(StoreError):  # nobody opened the app in demo mode
            store.set_excluded(LOCAL_ADMIN)


def sign_in(store: Store, token: str) -> Annotator | None:
    """The annotator a live token belongs to, or ``None`` for an unknown or revoked one."""
    if not token:
        return None
    return store.annotator_for_token(hash_token(token))


def start_session(store: Store, token: str) -> tuple[Annotator, str] | None:
    """Open a browser session with a live invite token: the annotator and a new session secret.

    The secret (as strong as a token) is what the browser keeps, in a cookie, instead of the
    invite link; the store keeps only its SHA-256. It ends at :func:`end_session`, after
    ``SESSION_DAYS``, or when the link it was opened with is revoked. ``None`` for a token that
    is unknown or revoked.
    """
    person = sign_in(store, token)
    if person is None:
        return None
    secret = new_token()
    store.add_session(hash_token(secret), hash_token(token), SESSION_DAYS)
    return person, secret


def resume_session(store: Store, secret: str) -> Annotator | None:
    """The annotator whose open session ``secret`` is, or ``None``."""
    return store.annotator_for_session(hash_token(secret)) if secret else None


def end_session(store: Store, secret: str) -> bool:
    """Sign the browser session ``secret`` out (others of the same person stay signed in)."""
    return store.end_session(hash_token(secret))


def revoke(store: Store, name: str) -> int:
    """Revoke every token of ``name``, ending their browser sessions; returns how many tokens
    were live."""
    return store.revoke_tokens(store.get_annotator(name).id)


def link(base_url: str, token: str) -> str:
    """The personal sign-in link: ``base_url`` with the token as the ``token`` query parameter."""
    return f"{base_url.rstrip('/')}/?{urlencode({'token': token})}"
