"""Two app servers on one database, with annotators on both at once.

This is how a team runs the app on PostgreSQL: several replicas behind a load balancer, one
database. (On SQLite it is two processes on one file, which must hold just as well.) Four people
rate the same study in four browsers, two on each server; each round every one of them presses a
rating key before anyone's page is waited for, so both servers take and record comparisons at
the same moments. Someone told that nothing is left *right now* (the rest is leased to others)
asks again once the others are done, as a person coming back later would, until the study says
it is finished.

Then, read from the database: every comparison has exactly its overlap of judgments, its kept
count equals its rows and it is closed; each person has exactly one judgment per key they pressed
and none twice on one comparison; both servers stored judgments.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pairwise import auth
from pairwise.store import Prompt, Store

from .conftest import Tab
from .driver import item_after, main_text, next_item, serve

pytestmark = pytest.mark.browser

PEOPLE = (
    "north-1",
    "north-2",
    "south-1",
    "south-2",
)  # north on the first server, south on the other
PROMPTS, OVERLAP = 10, 2
FINISHED = "This study is finished"
NOTHING_NOW = "Nothing is left for you to rate in this study right now."


@dataclass(frozen=True)
class TwoServers:
    db: str
    urls: tuple[str, str]
    tokens: dict[str, str]

    def link(self, who: str) -> str:
        url = self.urls[0] if who.startswith("north") else self.urls[1]
        return f"{url}/?token={self.tokens[who]}"


@pytest.fixture
def two_servers(new_db: Callable[..., str], tmp_path: Path) -> Iterator[TwoServers]:
    db = new_db("shared")
    with Store(db) as store:
        ids = [f"q{i}" for i in range(PROMPTS)]
        store.add_prompts(
            Prompt(p, "chat", [{"role": "user", "content": f"Question {p}?"}], [], 1) for p in ids
        )
        store.add_responses((p, m, f"{m} answers {p}.") for p in ids for m in ("m1", "m2"))
        store.create_study("shared", pairs=[("m1", "m2")], overlap=OVERLAP, seed=4)
        auth.invite(store, "admin", admin=True)  # the first invitation is an admin's
        tokens = {who: auth.invite(store, who)[1] for who in PEOPLE}
    with serve(db, tmp_path) as first, serve(db, tmp_path) as second:
        yield TwoServers(db, (first, second), tokens)


def _done(tab: Tab) -> str:
    text = main_text(tab.page)
    assert FINISHED in text or NOTHING_NOW in text, text
    return FINISHED if FINISHED in text else NOTHING_NOW


def test_annotators_on_two_servers_fill_every_comparison_exactly(
    two_servers: TwoServers, tabs: Callable[[], Tab]
) -> None:
    rng = random.Random(5)
    open_tabs = {who: tabs() for who in PEOPLE}
    for who, tab in open_tabs.items():
        tab.page.goto(two_servers.link(who))
    shown = {who: next_item(tab.page, None) for who, tab in open_tabs.items()}
    pressed: Counter[str] = Counter()
    rounds = 0
    while shown:
        rounds += 1
        assert rounds < 4 * PROMPTS, f"still rating after {rounds} rounds: {sorted(shown)}"
        for who in shown:  # everyone presses before anyone's page is waited for
            open_tabs[who].press(rng.choice("1234567"))
            pressed[who] += 1
        waiting = []
        for who, nonce in list(shown.items()):
            now = item_after(open_tabs[who].page, nonce)
            if now is not None:
                shown[who] = now
                continue
            del shown[who]
            if _done(open_tabs[who]) == NOTHING_NOW:
                waiting.append(who)
        if not shown:  # those told "nothing right now" ask again once the others are done
            for who in waiting:
                page = open_tabs[who].page
                page.reload()
                nonce = _first_item_or_none(page)
                if nonce is not None:
                    shown[who] = nonce
    for tab in open_tabs.values():
        tab.page.reload()
        assert _first_item_or_none(tab.page) is None and _done(tab) == FINISHED
        assert tab.dialogs == []

    with Store(two_servers.db) as store:
        rows = store.query(
            "SELECT c.id, c.n_judgments, c.is_open, count(j.id) AS n FROM comparisons c"
            " LEFT JOIN judgments j ON j.comparison_id = c.id GROUP BY c.id"
        )
        assert len(rows) == PROMPTS
        assert all(r["n"] == r["n_judgments"] == OVERLAP and not r["is_open"] for r in rows)
        per_person = store.query(
            "SELECT a.name, count(*) AS n, count(DISTINCT j.comparison_id) AS items"
            " FROM judgments j JOIN annotators a ON a.id = j.annotator_id GROUP BY a.name"
        )
        assert {r["name"]: r["n"] for r in per_person} == dict(pressed)
        assert all(r["n"] == r["items"] for r in per_person)
    assert sum(pressed.values()) == PROMPTS * OVERLAP
    by_server = Counter(who.split("-")[0] for who in pressed.elements())
    assert by_server["north"] > 0 and by_server["south"] > 0


def _first_item_or_none(page) -> str | None:
    """After a reload: the comparison shown, or ``None`` once the page says nothing is left."""
    page.wait_for_function(
        "() => !!document.querySelector('[class*=\"st-key-skip-\"]')"
        f" || document.body.innerText.includes({FINISHED!r})"
        f" || document.body.innerText.includes({NOTHING_NOW!r})",
        timeout=120_000,
    )
    return next_item(page, None) if page.locator('[class*="st-key-skip-"]').count() else None
