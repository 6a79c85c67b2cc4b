"""The candidate rates a conversation after it ended: 1-5 and an optional comment, once, only
their own; on a real SQLite file, and the form over a real server."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from app.commands import actions
from app.core.errors import DomainError, ValidationError
from app.domain import conversations, feedback, readiness
from app.live.snapshots import candidate_state, console_state
from tests.servicekit import (
    count,
    make_advisor,
    make_booth,
    make_candidate,
    make_event,
    make_request,
    open_db,
)

ROOT = Path(__file__).resolve().parents[1]


async def test_rate_an_ended_conversation_once(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "hall.db")
    try:
        event = await make_event(db)
        zorg = await make_booth(db, "zorg", name="Zorggroep")
        anna = await make_advisor(db, zorg, "anna@zorg.nl")
        sanne = await make_candidate(db, "Sanne")
        piet = await make_candidate(db, "Piet")
        t = time.time()
        request = await make_request(db, event, sanne, zorg, now=t)
        talk, _ = await conversations.accept(
            db, event, advisor_id=anna, request_id=request.id, now=t + 1
        )

        # Nothing to rate before a conversation ended; a running one is refused.
        assert (await candidate_state(db, event, sanne, t + 2))["feedback"] is None
        with pytest.raises(DomainError) as running:
            await feedback.rate(
                db, candidate_id=sanne, conversation_id=talk.id, rating=4, comment="", now=t + 2
            )
        assert running.value.code == "feedback.not_ended"
        assert await count(db, "feedback") == 0

        await conversations.end(
            db, advisor_id=anna, conversation_id=talk.id, now=t + 300, wrap_up_seconds=0
        )
        state = await candidate_state(db, event, sanne, t + 301)
        assert state["feedback"] == {
            "conversation_id": talk.id,
            "booth_name": "Zorggroep",
            "rating": None,
            "comment": "",
            "comment_max": feedback.COMMENT_MAX,
        }

        # Another candidate cannot rate it: refused as if it did not exist.
        with pytest.raises(DomainError) as foreign:
            await feedback.rate(
                db, candidate_id=piet, conversation_id=talk.id, rating=1, comment="", now=t + 302
            )
        assert foreign.value.code == "conversation.not_found"
        with pytest.raises(DomainError) as unknown:
            await feedback.rate(
                db, candidate_id=sanne, conversation_id=999999, rating=3, comment="", now=t + 302
            )
        assert unknown.value.code == "conversation.not_found"

        # Bad input changes nothing and names each field.
        for rating, comment, fields in (
            (0, "", {"rating"}),
            (6, "", {"rating"}),
            (3, "x" * (feedback.COMMENT_MAX + 1), {"comment"}),
            (9, "x" * (feedback.COMMENT_MAX + 1), {"rating", "comment"}),
        ):
            with pytest.raises(ValidationError) as bad:
                await feedback.rate(
                    db,
                    candidate_id=sanne,
                    conversation_id=talk.id,
                    rating=rating,
                    comment=comment,
                    now=t + 303,
                )
            assert set(bad.value.errors) == fields
        assert await count(db, "feedback") == 0

        # Exactly the limit is fine; CRLF counts as one character and the ends are trimmed.
        long = "a\r\n" + "b" * (feedback.COMMENT_MAX - 2)
        given = await feedback.rate(
            db, candidate_id=sanne, conversation_id=talk.id, rating=4, comment=long, now=t + 304
        )
        assert given.rating == 4
        assert given.comment == "a\n" + "b" * (feedback.COMMENT_MAX - 2)
        row = await db.fetchone(
            "SELECT rating, comment, created_at FROM feedback WHERE conversation_id = ?",
            (talk.id,),
        )
        assert row is not None
        assert (row["rating"], row["comment"], row["created_at"]) == (4, given.comment, t + 304)

        # One rating per conversation: a second one is refused and the first one stays.
        with pytest.raises(DomainError) as again:
            await feedback.rate(
                db, candidate_id=sanne, conversation_id=talk.id, rating=1, comment="", now=t + 305
            )
        assert again.value.code == "feedback.already_given"
        assert await count(db, "feedback") == 1
        assert await db.fetchvalue("SELECT rating FROM feedback") == 4

        mine = (await candidate_state(db, event, sanne, t + 306))["feedback"]
        assert (mine["rating"], mine["comment"]) == (4, given.comment)
        # Piet had no conversation; the advisor's console carries nobody's rating.
        assert (await candidate_state(db, event, piet, t + 306))["feedback"] is None
        assert given.comment not in repr(await console_state(db, event, anna, t + 306))
    finally:
        await db.close()


async def test_the_last_ended_conversation_is_the_one_to_rate(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "hall.db")
    try:
        event = await make_event(db)
        zorg = await make_booth(db, "zorg", name="Zorggroep")
        bouw = await make_booth(db, "bouw", name="Bouwbedrijf")
        anna = await make_advisor(db, zorg, "anna@zorg.nl")
        olaf = await make_advisor(db, bouw, "olaf@bouw.nl")
        sanne = await make_candidate(db, "Sanne")
        t = time.time()
        ids = []
        for n, (booth, advisor) in enumerate(((zorg, anna), (bouw, olaf))):
            start = t + n * 1000
            request = await make_request(db, event, sanne, booth, now=start)
            talk, _ = await conversations.accept(
                db, event, advisor_id=advisor, request_id=request.id, now=start + 1
            )
            await conversations.end(
                db, advisor_id=advisor, conversation_id=talk.id, now=start + 60, wrap_up_seconds=0
            )
            ids.append(talk.id)
        await feedback.rate(
            db, candidate_id=sanne, conversation_id=ids[0], rating=5, comment="", now=t + 2000
        )
        state = (await candidate_state(db, event, sanne, t + 2001))["feedback"]
        assert (state["conversation_id"], state["booth_name"], state["rating"]) == (
            ids[1],
            "Bouwbedrijf",
            None,
        )
    finally:
        await db.close()


async def test_a_no_show_is_not_offered_and_cannot_be_rated(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "hall.db")
    try:
        event = await make_event(db)
        zorg = await make_booth(db, "zorg", name="Zorggroep")
        anna = await make_advisor(db, zorg, "anna@zorg.nl")
        sanne = await make_candidate(db, "Sanne")
        t = time.time()
        request = await make_request(db, event, sanne, zorg, now=t)
        talk, _ = await conversations.accept(
            db, event, advisor_id=anna, request_id=request.id, now=t + 1
        )
        # Sanne never joins: after the join time the conversation ends as a no-show.
        await readiness.join_due(db, t + 3600)
        ended = await conversations.get_conversation(db, talk.id)
        assert ended is not None and ended.ended_at is not None
        assert (await candidate_state(db, event, sanne, t + 3601))["feedback"] is None
        with pytest.raises(DomainError) as refused:
            await feedback.rate(
                db, candidate_id=sanne, conversation_id=talk.id, rating=1, comment="", now=t + 3602
            )
        assert refused.value.code == "feedback.no_show"
        assert await count(db, "feedback") == 0
    finally:
        await db.close()


def test_the_action_is_for_candidates_only_and_the_form_shows_the_limit() -> None:
    rate = actions.REGISTRY["conversation.rate"]
    assert rate.roles == frozenset({"candidate"})
    comment = next(f for f in rate.fields if f.name == "comment")
    assert comment.max_length == feedback.COMMENT_MAX
    template = (ROOT / "templates" / "_my_request.html").read_text(encoding="utf-8")
    assert f'maxlength="{feedback.COMMENT_MAX}"' in template
    assert f"max={feedback.COMMENT_MAX}" in template
    # Real radio inputs 1-5 in a fieldset with a legend.
    assert re.search(r"<fieldset[^>]*>\s*<legend>", template)
    assert 'type="radio" name="rating"' in template
