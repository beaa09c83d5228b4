"""What every page needs: the store for this browser session, who is signed in, and the gate
that keeps annotators out of admin pages (checked on the server for every page, not only hidden
from the menu).

Contract for page modules: each page is ``pairwise/pages/<name>.py`` with a ``page() -> None``
function. Admin pages start with ``ctx = require_admin()``; the annotate page with
``ctx = require_user()``. Pages call the library and hold no business logic.

People sign in three ways, checked in this order on every run (so a revoked token or a removed
e-mail takes effect at the next click):

1. a personal invite link ``/?token=...``; the token is checked and removed from the address
   bar, and a session of its own starts, whose secret the browser keeps in a cookie: a reload
   or another path stays signed in until the person signs out, the link is revoked or 30 days
   pass (:func:`pairwise.auth.start_session`);
2. Streamlit's OIDC login, when ``.streamlit/secrets.toml`` has an ``[auth]`` section: the
   signed-in e-mail must belong to an annotator, and the provider must say it verified the
   address (``email_verified``); a provider that never sends that claim is accepted only when
   ``[pairwise] email_verified_optional = true`` is set;
3. local demo mode: while no token was ever issued and no ``[auth]`` is set up, whoever opens
   the app is the admin ``local-admin``, so that a fresh install can be tried at once.

Button callbacks run before the page, with what the earlier run knew; an action that changes
anything asks :func:`admin_now` (or the annotate page's own check) who is signed in at that
moment, so that a revoked person's open page cannot act once more.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from pairwise import auth
from pairwise.store import Annotator, Store, StoreUnavailable, open_store

LOCAL_ADMIN = auth.LOCAL_ADMIN
DEMO_NOTICE = (
    "Local demo mode: you are signed in as the local admin. Invite annotators to turn on sign-in."
)
ADMINS_ONLY = "This page is for admins only."
#: What a table cell shows for a value that is missing (no e-mail, no time recorded, no gold item
#: seen), where Streamlit would print "None".
MISSING = "–"
TROUBLE = (
    "Something went wrong on this page. It has been logged for the administrators; reload the"
    " page to try again, and if it keeps happening tell the study admin this reference: {ref}."
)
UNREACHABLE = (
    "The database cannot be reached just now, so this page can neither show nor save anything."
    " Reload the page in a moment; if it keeps happening, tell the study admin this reference:"
    " {ref}."
)

_STORE = "pairwise.store"
_SESSION = "pairwise.session"
_COOKIE_TRIED = "pairwise.cookie_tried"
_COOKIE_PENDING = "pairwise.cookie_pending"
SESSION_COOKIE = "pairwise_session"
_SIGN_IN_PROBLEM = "pairwise.sign_in_problem"


@dataclass(frozen=True)
class Context:
    store: Store
    user: Annotator


@dataclass(frozen=True)
class Identity:
    """Who is signed in and how: ``via`` is ``"token"``, ``"oidc"`` or ``"demo"``."""

    user: Annotator
    via: str


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Show a short message instead of an exception on the page: a traceback can hold server
    paths and data. The exception goes to the server log under a reference the user can quote.
    Streamlit's own stop and rerun signals are not exceptions and pass through. A database that
    cannot be reached (a wrong ``PAIRWISE_DB``, a server down) is one line in the log, naming
    where and why, and a message saying so on the page; the next run tries again."""
    try:
        yield
    except StoreUnavailable as error:
        ref = secrets.token_hex(4)
        logging.getLogger("pairwise.app").error("%s (reference %s)", error, ref)
        st.error(UNREACHABLE.format(ref=ref), icon=":material/error:")
    except Exception:
        ref = secrets.token_hex(4)
        logging.getLogger("pairwise.app").exception("page failed (reference %s)", ref)
        st.error(TROUBLE.format(ref=ref), icon=":material/error:")


def get_store() -> Store:
    """The store for this browser session (path from ``$PAIRWISE_DB``, default ``pairwise.db``).

    Each session gets its own connection: a connection must not be shared by threads that
    write, and Streamlit runs every session in its own thread.
    """
    path = os.environ.get("PAIRWISE_DB") or "pairwise.db"
    store = st.session_state.get(_STORE)
    if store is None or store.path != path:
        store = open_store(path)
        st.session_state[_STORE] = store
    return store


def oidc_providers() -> list[str] | None:
    """Provider names under ``[auth]`` in the secrets (``[]`` for a single unnamed one), or
    ``None`` when OIDC login is not set up."""
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError as error:
        # no secrets file at all; a file that exists but does not parse must not quietly
        # turn on demo mode, so that error propagates
        if getattr(error, "error_id", "no-secrets-found") != "no-secrets-found":
            raise
        return None
    if not isinstance(section, Mapping):
        return None
    return [name for name, value in section.items() if isinstance(value, Mapping)]


def identify() -> Identity | None:
    """Sign in from this run's link, session cookie, login or demo mode; ``None`` when nobody is
    signed in."""
    store = get_store()
    token = st.query_params.get("token")
    if token is not None:
        _open_link(store, token)
    elif _SESSION not in st.session_state:
        _resume_from_cookie(store)
    secret = st.session_state.get(_SESSION)
    if secret is not None:
        user = auth.resume_session(store, secret)
        if user is not None:
            return Identity(user, "token")
        del st.session_state[_SESSION]
        st.session_state[_SIGN_IN_PROBLEM] = "Your sign-in link has been revoked."
        _set_cookie("")
        return None
    if oidc_providers() is not None:
        email, _ = oidc_email()
        if email is None:
            return None
        user = store.annotator_by_email(email)
        return None if user is None else Identity(user, "oidc")
    if store.token_count() == 0:
        user = store.ensure_annotator(LOCAL_ADMIN, role="admin")
        return Identity(user, "demo") if user.is_admin else None
    return None


def _open_link(store: Store, token: str) -> None:
    """Start a session with an invite link and take the link out of the address bar: the browser
    keeps the session's own secret in a cookie instead, so that a reload or another path stays
    signed in and the link is not left in the history or in a screenshot."""
    del st.query_params["token"]
    started = auth.start_session(store, token)
    previous = st.session_state.pop(_SESSION, None)
    if previous is not None:  # another link opened in this tab replaces that session
        auth.end_session(store, previous)
    if started is None:
        st.session_state[_SIGN_IN_PROBLEM] = (
            "This sign-in link is not valid: it may have been revoked or mistyped."
        )
        _set_cookie("")
        return
    st.session_state[_SESSION] = started[1]
    st.session_state.pop(_SIGN_IN_PROBLEM, None)
    _set_cookie(started[1])


def _resume_from_cookie(store: Store) -> None:
    """Pick up the session whose secret came in the cookie (read once per secret: the cookies are
    those the browser sent when it connected, so one signed out since is still among them)."""
    secret = st.context.cookies.get(SESSION_COOKIE)
    if not isinstance(secret, str) or not secret or secret == st.session_state.get(_COOKIE_TRIED):
        return
    st.session_state[_COOKIE_TRIED] = secret
    if auth.resume_session(store, secret) is not None:
        st.session_state[_SESSION] = secret
    else:
        _set_cookie("")  # ended, expired or revoked: the browser can forget it


def _set_cookie(secret: str) -> None:
    """Have the next :func:`write_cookie` store ``secret`` in the browser, or clear it (``""``)."""
    st.session_state[_COOKIE_PENDING] = secret


def write_cookie() -> None:
    """Store or clear the session cookie in the browser, if this run changed it.

    Streamlit sends no HTTP response that could set a cookie, so a small script in the page sets
    it: ``SameSite=Strict`` (never sent along from another site), ``Secure`` over https, and not
    HttpOnly (a script cannot set that flag).
    """
    secret = st.session_state.pop(_COOKIE_PENDING, None)
    if secret is None:
        return
    age = auth.SESSION_DAYS * 86_400 if secret else 0
    st.html(
        "<script>document.cookie = "
        f"{json.dumps(f'{SESSION_COOKIE}={secret}; Path=/; Max-Age={age}; SameSite=Strict')}"
        " + (location.protocol === 'https:' ? '; Secure' : '');"
        " document.currentScript.remove();</script>",  # nothing runnable stays in the page
        unsafe_allow_javascript=True,
    )


def oidc_email() -> tuple[str | None, str | None]:
    """The e-mail of the single sign-on login if it can be trusted, else why not.

    A provider may hand over an address that nobody confirmed (``email_verified: false``); taking
    it would let anyone who types an invited admin's address into such an account sign in as
    them. A missing claim is refused too, unless ``[pairwise] email_verified_optional = true``
    says that the provider verifies every address without saying so.
    """
    if not st.user.is_logged_in:
        return None, None
    email = str(st.user.get("email") or "").strip()
    if not email:
        return None, "The sign-in provider did not send an e-mail address."
    verified = st.user.get("email_verified")
    if isinstance(verified, str):
        verified = {"true": True, "false": False}.get(verified.strip().lower())
    if verified is True or (verified is None and email_verified_optional()):
        return email, None
    return None, (
        f"The sign-in provider has not verified the e-mail {email}, so it cannot sign you in."
        " Verify the address with the provider, or ask the study admin for a personal link."
    )


def email_verified_optional() -> bool:
    """Whether ``[pairwise] email_verified_optional = true`` is set in the secrets."""
    try:
        section = st.secrets.get("pairwise")
    except FileNotFoundError:
        return False
    return isinstance(section, Mapping) and section.get("email_verified_optional") is True


def current_user() -> Annotator | None:
    """The signed-in annotator: invite token, OIDC login, or the local demo admin."""
    identity = identify()
    return None if identity is None else identity.user


def show_sign_in() -> None:
    """The only thing a visitor without a valid identity sees."""
    st.title("pairwise")
    problem = st.session_state.get(_SIGN_IN_PROBLEM)
    if problem:
        st.error(problem)
    providers = oidc_providers()
    if providers is not None and st.user.is_logged_in:
        email, refused = oidc_email()
        st.warning(
            refused
            or f"No annotator is registered with the e-mail {email}."
            " Ask the study admin to invite you with this address."
        )
        if st.button("Log out"):
            st.logout()
        return
    st.info("Please sign in with the personal link that the study admin sent you.")
    if providers is None:
        return
    for name in providers or [None]:
        label = "Log in" if name is None else f"Log in with {name}"
        if st.button(label, key=f"login-{name}"):
            st.login(name)


def show_identity(identity: Identity) -> None:
    """Who is signed in, in the sidebar, with a way to sign out; the demo-mode notice on top."""
    if identity.via == "demo":
        st.info(DEMO_NOTICE, icon=":material/info:")
        return
    with st.sidebar:
        st.caption(f"Signed in as **{identity.user.name}** ({identity.user.role})")
        if identity.via == "oidc":
            if st.button("Log out"):
                st.logout()
        else:
            st.button("Sign out", on_click=_sign_out)


def _sign_out() -> None:
    """End this browser's session (in the store, so the cookie signs nobody in) and clear it."""
    secret = st.session_state.pop(_SESSION, None)
    if secret is not None:
        auth.end_session(get_store(), secret)
    _set_cookie("")


def require_user() -> Context:
    """Stop the page with a sign-in message unless someone is signed in."""
    user = current_user()
    if user is None:
        show_sign_in()
        st.stop()
    return Context(get_store(), user)


def admin_now() -> Context | None:
    """The signed-in admin as the store has them at this moment, or ``None``.

    For button callbacks, which run before the page checks anyone: a link revoked or a role
    taken away since the page was drawn stops the action, and the page that follows shows why.
    """
    user = current_user()
    return Context(get_store(), user) if user is not None and user.is_admin else None


def as_admin(action: Callable[..., Any]) -> Callable[..., None]:
    """``action(ctx, *args)`` as a callback that runs only for an admin signed in right now."""

    def checked(*args: Any, **kwargs: Any) -> None:
        ctx = admin_now()
        if ctx is not None:
            action(ctx, *args, **kwargs)

    checked.__doc__ = action.__doc__
    return checked


def require_admin() -> Context:
    """Stop the page unless the signed-in person is an admin."""
    ctx = require_user()
    if not ctx.user.is_admin:
        st.error(ADMINS_ONLY)
        st.stop()
    return ctx
