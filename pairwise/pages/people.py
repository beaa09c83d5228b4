"""The people page: who can sign in, invite someone with a personal link, revoke links.

A link holds a secret that the store keeps only as a hash, so it is shown once, right after the
invitation; a lost link is replaced by inviting the same person again.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pairwise import auth
from pairwise.pages.common import Context, require_admin
from pairwise.store import StoreError

DEFAULT_BASE_URL = "http://localhost:8501"
_NOTICE = "people.notice"
_LINK = "people.link"
_PROBLEM = "people.problem"


def page() -> None:
    ctx = require_admin()
    st.title("People")
    people = ctx.store.annotators_frame()
    people["sign-in link"] = [
        link_status(live, revoked)
        for live, revoked in zip(people["live_tokens"], people["revoked_tokens"], strict=True)
    ]
    st.dataframe(
        people[["name", "role", "email", "sign-in link", "excluded", "judgments", "created_at"]],
        hide_index=True,
        column_config={"excluded": st.column_config.CheckboxColumn(help="Left out of reports")},
    )
    left, right = st.columns(2)
    with left:
        _invite(ctx)
    with right:
        _revoke(ctx, people)


def link_status(live: int, revoked: int) -> str:
    """A person's links in words: live ones let them in, revoked ones no longer do."""
    if live:
        return "active" if live == 1 else f"active ({live} links)"
    return "revoked" if revoked else "none"


def base_url() -> str:
    """The app's address as this browser reached it, without this page's own path segment."""
    url = getattr(st.context, "url", None) or DEFAULT_BASE_URL
    return url.split("?", 1)[0].rsplit("/", 1)[0] if url.count("/") > 2 else url


def _invite(ctx: Context) -> None:
    st.subheader("Invite")
    with st.form("people.invite", clear_on_submit=True):
        st.text_input("Name", key="invite.name")
        st.text_input("E-mail (optional, for single sign-on)", key="invite.email")
        st.checkbox("Admin (sets up studies, reads reports)", key="invite.admin")
        st.text_input("App address", value=base_url(), key="invite.base")
        st.form_submit_button("Invite", type="primary", on_click=_do_invite, args=(ctx,))
    problem = st.session_state.pop(_PROBLEM, None)
    if problem:
        st.error(problem)
    invited = st.session_state.pop(_LINK, None)  # popped: the link is shown this once
    if invited:
        name, url = invited
        st.success(f"Send {name} this personal link. It is shown only now: copy it.")
        st.code(url, language=None, wrap_lines=True)


def _do_invite(ctx: Context) -> None:
    name = (st.session_state.get("invite.name") or "").strip()
    email = (st.session_state.get("invite.email") or "").strip() or None
    if not name:
        st.session_state[_PROBLEM] = "Give the person a name."
        return
    try:
        person, token = auth.invite(
            ctx.store, name, admin=bool(st.session_state.get("invite.admin")), email=email
        )
    except StoreError as error:
        st.session_state[_PROBLEM] = str(error)
        return
    base = (st.session_state.get("invite.base") or "").strip() or DEFAULT_BASE_URL
    st.session_state[_LINK] = (person.name, auth.link(base, token))


def _revoke(ctx: Context, people: pd.DataFrame) -> None:
    st.subheader("Revoke")
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.success(notice)
    holders = people.loc[people["live_tokens"] > 0, "name"].tolist()
    if not holders:
        st.caption("Nobody holds a live link.")
        return
    who = st.selectbox("Person", holders, key="people.revoke_who")
    if who == ctx.user.name:
        st.caption("You cannot revoke your own links here: you would lock yourself out.")
        return
    st.button(f"Revoke {who}'s links", key="people.revoke", on_click=_do_revoke, args=(ctx, who))


def _do_revoke(ctx: Context, who: str) -> None:
    count = auth.revoke(ctx.store, who)
    st.session_state[_NOTICE] = (
        f"Revoked {count} link(s) of {who}: they are signed out at their next click."
    )
