"""The people page: who can sign in, invite someone with a personal link, revoke links.

A link holds a secret that the store keeps only as a hash, so it is shown once, in the run that
made it; a lost link is replaced by inviting the same person again. Invitations are handled in
the page run rather than in a callback: in local demo mode the first link ends demo mode, and a
callback would sign the admin out before the page could show them their link.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pairwise import auth
from pairwise.pages.common import MISSING, Context, as_admin, require_admin
from pairwise.store import StoreError

DEFAULT_BASE_URL = "http://localhost:8501"
_NOTICE = "people.notice"


def page() -> None:
    ctx = require_admin()
    st.title("People")
    table = st.container()  # filled last, so that it shows this run's invitation
    left, right = st.columns(2)
    with left:
        _invite(ctx)
    people = ctx.store.annotators_frame()
    with right:
        _revoke(ctx, people)
    people["sign-in link"] = [
        link_status(live, revoked)
        for live, revoked in zip(people["live_tokens"], people["revoked_tokens"], strict=True)
    ]
    table.dataframe(
        people[["name", "role", "email", "sign-in link", "excluded", "judgments", "created_at"]],
        hide_index=True,
        column_config={"excluded": st.column_config.CheckboxColumn(help="Left out of reports")},
        placeholder=MISSING,  # no e-mail address reads as a dash, not as "None"
    )


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
    first = auth.first_invitation(ctx.store)
    if first:
        st.warning(
            "The first link turns sign-in on and ends local demo mode, so it is an admin link:"
            " invite yourself first, copy your link and open it. The demo study is then set"
            " apart (see the Studies page)."
        )
    with st.form("people.invite", clear_on_submit=True):
        name = st.text_input("Name")
        email = st.text_input("E-mail (optional, for single sign-on)")
        admin = st.checkbox("Admin (sets up studies, reads reports)", value=first, disabled=first)
        base = st.text_input("App address", value=base_url())
        sent = st.form_submit_button("Invite", type="primary")
    if not sent:
        return
    if not name.strip():
        st.error("Give the person a name.")
        return
    try:
        person, token = auth.invite(
            ctx.store, name.strip(), admin=first or admin, email=email.strip() or None
        )
    except StoreError as error:
        st.error(str(error))
        return
    st.success(f"Send {person.name} this personal link. It is shown only now: copy it.")
    st.code(auth.link(base.strip() or DEFAULT_BASE_URL, token), language=None, wrap_lines=True)


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
    st.button(f"Revoke {who}'s links", key="people.revoke", on_click=_do_revoke, args=(who,))


@as_admin
def _do_revoke(ctx: Context, who: str) -> None:
    count = auth.revoke(ctx.store, who)
    st.session_state[_NOTICE] = (
        f"Revoked {count} link(s) of {who}: they are signed out at their next click."
    )
