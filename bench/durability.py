"""Timer benchmark: how late the hall tells both participants that a conversation's warning
time and end time have come, side by side with a bare asyncio timer on the same moments.

Run from the repository root::

    .venv/bin/python bench/durability.py                  # 100 conversations of 8 s
    .venv/bin/python bench/durability.py --kill-at 11     # SIGKILL and restart at 11 s
    .venv/bin/python bench/durability.py --smoke          # 20 of 6 s, a kill at 5.5 s; ~20 s

What runs, all on loopback ``127.0.0.1``:

- the server: ``python -m app serve`` (``tests.livekit.LiveServer``) on a fresh SQLite file
  seeded by ``tests.durabilitykit.seed_hall`` with ``--conversations`` advisors (ten a
  booth), conversations of ``--length`` seconds and a warning ``--warning`` seconds before
  the end;
- this process: one candidate per advisor signed in through the form, every advisor logged
  in through the login form, each with a socket that reconnects by itself the way
  ``static/js/live.js`` does (``tests.livekit.ReconnectingPeer``). Every candidate asks for
  their advisor (``request.create``); the advisors accept (``request.accept``) one after the
  other, spread evenly over ``--spread`` seconds, so the end times are staggered and the
  server hands out timers while others fire.

Measured, for every conversation and both participants: the arrival of
``conversation.warning`` minus the warning time (the stored ``ends_at`` minus
``warning_seconds``) and of ``conversation.time_up`` minus ``ends_at``, on this process's
clock, which is the server's (one machine). Also from the file: the server's own record of
when it handled each timer (``warned_at``, ``time_up_at``) minus the same moments.

The baseline: for each of the same moments, as soon as the accept's ``ends_at`` is known,
this process sets two bare ``loop.call_at`` timers (one for each participant) on its own event
loop, the loop that also receives the pushes, and records how late they ran. What the hall
adds is the difference between its rows and the baseline's; the baseline itself is this
process and the machine.

``--kill-at SECONDS`` (from the first accept; after the last accept, before the last end
time): the server gets SIGKILL and is started again on the same file and port
(``tests.durabilitykit.kill_and_restart``), in a thread, so this loop keeps running. A moment
that fell while it was down is measured from when it was back (``time_up_drift``): the first
client welcomed again, or the health check if that saw it first. Those moments get extra
rows; they include the clients' reconnect (a random wait of up to 0.1, 0.2, 0.4, then 0.5 s
between tries) and the server's work for every client reconnecting at once. A moment due in
the last milliseconds before the kill that the server had not handled yet counts from its own
moment. A participant away at the end time hears time up right after its snapshot on
reconnect; when the warning also fell in the outage, only time up is told again (as
``docs/protocol.md`` says), so that warning is counted as superseded, not missing.

Faults (exit status 1): a push missing, before its moment, or fired more than once (more than
one telling that was not the replay sent right after a snapshot); a stored timer missing,
early or with a moved end time; a refused accept; a server that does not start. Results are
printed and written to ``bench/results/durability-latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout import machine, summary_ms  # noqa: E402
from tests.durabilitykit import (  # noqa: E402
    ENV,
    kill_and_restart,
    people_of,
    read_db,
    seed_hall,
    time_up_drift,
)
from tests.livekit import LiveServer, ReconnectingPeer  # noqa: E402

RESULTS = ROOT / "bench" / "results"
KINDS = ("conversation.warning", "conversation.time_up")
ADVISORS_PER_BOOTH = 10
# After the last moment: how long to wait for pushes still on their way, and how long after
# the last one arrived for a second telling of any of them.
SETTLE_SECONDS = 15.0
LINGER_SECONDS = 1.0


@dataclass
class Options:
    conversations: int = 100
    length: int = 8
    warning: int = 3
    spread: float = 10.0
    kill_at: float | None = None
    workdir: Path = Path()


@dataclass
class Talk:
    """One conversation: who takes part and its moments as stored when it was accepted."""

    id: int
    candidate: ReconnectingPeer
    advisor: ReconnectingPeer
    ends_at: float
    warning_seconds: int

    def moment(self, kind: str) -> float:
        return self.ends_at - self.warning_seconds if kind == KINDS[0] else self.ends_at


@dataclass
class Heard:
    """What one participant heard of one moment over all its connections."""

    first: float | None = None
    first_was_replay: bool = False
    live: int = 0  # tellings other than the replay right after a snapshot
    replays: int = 0


def heard(peer: ReconnectingPeer, kind: str, conversation_id: int) -> Heard:
    """On a reconnect the server sends ``session.state`` and then, at once, the latest
    moment already told (``app.live.deadlines.moments_passed``); anything pushed meanwhile is held
    back until after it. So on a reconnect a moment right after ``session.state`` is that
    replay, and any other telling is the timer firing: it may do so once. (The first
    connection has nothing to replay: every conversation starts after it.)"""
    found = Heard()
    after_snapshot = False
    connections = 0
    for at, name, data in peer.pushes:
        if name == "session.welcome":
            connections += 1
        if name == "session.state":
            after_snapshot = connections > 1
            continue
        replay, after_snapshot = after_snapshot, False
        if name != kind or data.get("id") != conversation_id:
            continue
        if found.first is None:
            found.first, found.first_was_replay = at, replay
        if replay:
            found.replays += 1
        else:
            found.live += 1
    return found


@dataclass
class Row:
    """One line of the table: a kind of timer, how many fired, and how late."""

    name: str
    expected: int = 0
    fired: int = 0
    missing: int = 0
    early: int = 0
    twice: int | None = 0  # None: not applicable
    superseded: int = 0
    lateness: list[float] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expected": self.expected,
            "fired": self.fired,
            "missing": self.missing,
            "early": self.early,
            "twice": self.twice,
            "superseded": self.superseded,
            "lateness_ms": {
                **summary_ms(self.lateness),
                "min": min(self.lateness, default=float("nan")) * 1000,
            },
        }


def in_outage(moment: float, outages: list[tuple[float, float]]) -> bool:
    return any(killed <= moment <= ready for killed, ready in outages)


def hall_rows(talks: list[Talk], outages: list[tuple[float, float]]) -> tuple[list[Row], int]:
    """Rows for the pushes both participants got and how many were told again right after a
    snapshot; with outages, extra rows for the moments that fell in one."""
    rows = {kind: Row(f"hall {kind}") for kind in KINDS}
    down = {kind: Row(f"hall {kind}, fell while down") for kind in KINDS}
    replays = 0
    for kind in KINDS:
        for talk in talks:
            moment = talk.moment(kind)
            for peer in (talk.candidate, talk.advisor):
                got = heard(peer, kind, talk.id)
                replays += got.replays
                for row in [rows[kind]] + ([down[kind]] if in_outage(moment, outages) else []):
                    row.expected += 1
                    if got.first is None:
                        if kind == KINDS[0] and superseded(peer, talk, outages):
                            row.superseded += 1
                        else:
                            row.missing += 1
                        continue
                    row.fired += 1
                    row.early += got.first < moment
                    row.twice = (row.twice or 0) + (got.live > 1)
                    row.lateness.append(time_up_drift(got.first, moment, outages))
    return list(rows.values()) + (list(down.values()) if outages else []), replays


def superseded(peer: ReconnectingPeer, talk: Talk, outages: list[tuple[float, float]]) -> bool:
    """A warning not heard because the participant was away until after the end time too:
    it came back to time up (the replay), which is the latest moment and the only one told
    again. Only when the warning's moment fell in (or just before) an outage."""
    time_up = heard(peer, KINDS[1], talk.id)
    if time_up.first is None or not time_up.first_was_replay:
        return False
    warning = talk.moment(KINDS[0])
    # A push sent in the last moment before a SIGKILL may never leave the process.
    return any(killed - 1.0 <= warning <= time_up.first for killed, _ready in outages)


def stored_rows(
    path: Path, talks: list[Talk], outages: list[tuple[float, float]]
) -> tuple[list[Row], int]:
    """The server's own record of handling each timer, read from the file; and how many
    end times moved since they were accepted."""
    stored = {
        row["id"]: row
        for row in read_db(path, "SELECT id, ends_at, warned_at, time_up_at FROM conversations")
    }
    rows = []
    for kind, column in zip(KINDS, ("warned_at", "time_up_at"), strict=True):
        row = Row(f"server {column} (stored)", twice=None)
        for talk in talks:
            row.expected += 1
            handled = stored[talk.id][column] if talk.id in stored else None
            if handled is None:
                row.missing += 1
                continue
            moment = talk.moment(kind)
            row.fired += 1
            row.early += handled < moment
            row.lateness.append(time_up_drift(handled, moment, outages))
        rows.append(row)
    moved = sum(1 for t in talks if t.id not in stored or stored[t.id]["ends_at"] != t.ends_at)
    return rows, moved


class Baseline:
    """Bare ``loop.call_at`` timers on this process's loop, at the same moments."""

    def __init__(self) -> None:
        self.rows = {
            kind: Row(f"baseline call_at, {kind.split('.')[1]} moments", twice=None)
            for kind in KINDS
        }

    def set(self, talk: Talk) -> None:
        loop = asyncio.get_running_loop()
        for kind in KINDS:
            moment = talk.moment(kind)
            row = self.rows[kind]
            for _end in range(2):  # one each for the candidate and the advisor
                row.expected += 1
                # The loop's clock is monotonic; the moment is wall-clock time.
                when = loop.time() + (moment - time.time())
                loop.call_at(when, self._ran, row, moment)

    @staticmethod
    def _ran(row: Row, moment: float) -> None:
        now = time.time()
        row.fired += 1
        row.early += now < moment
        row.lateness.append(now - moment)

    def finish(self) -> list[Row]:
        for row in self.rows.values():
            row.missing = row.expected - row.fired
        return list(self.rows.values())


async def run(options: Options) -> dict[str, Any]:
    faults: list[str] = []
    db_path = options.workdir / "hall.db"
    count = options.conversations
    hall = await seed_hall(
        db_path,
        booth_count=math.ceil(count / ADVISORS_PER_BOOTH),
        advisors_per_booth=min(count, ADVISORS_PER_BOOTH),
        conversation_seconds=options.length,
        warning_seconds=options.warning,
    )
    advisors = hall.advisors[:count]
    server = LiveServer(db_path, options.workdir / "server.log", env=ENV)
    talks: list[Talk] = []
    outages: list[tuple[float, float]] = []
    checked: list[float] = []  # when the health check saw the server back
    all_back: list[float] = []  # when the last client was welcomed again
    baseline = Baseline()
    settings = {
        "conversations": count,
        "conversation_seconds": options.length,
        "warning_seconds": options.warning,
        "spread_seconds": options.spread,
        "kill_at": options.kill_at,
    }
    try:
        try:
            await asyncio.to_thread(server.start)
        except RuntimeError as error:
            faults.append(f"server did not start: {error}: {log_tail(server)}")
            return {"settings": settings, "faults": faults}
        async with people_of(server) as people:
            print(f"signing in {count} candidates and {count} advisors ...", flush=True)
            candidates = await asyncio.gather(
                *(people.candidate(f"Kandidaat {i}", f"k{i}@x.nl") for i in range(count))
            )
            advisor_peers = await asyncio.gather(*(people.staff(a[2]) for a in advisors))
            requests = await asyncio.gather(
                *(
                    peer.send(
                        "request.create",
                        {"booth_id": booth_id, "advisor_id": staff_id, "client_key": "t"},
                    )
                    for peer, (staff_id, booth_id, _email) in zip(candidates, advisors, strict=True)
                )
            )
            if not all(r["ok"] for r in requests):
                refused = next(r for r in requests if not r["ok"])
                faults.append(f"request.create refused: {refused}")
                return {"settings": settings, "faults": faults}

            start = time.time() + 0.5
            step = options.spread / count

            async def accept(i: int) -> None:
                await asyncio.sleep(max(0.0, start + i * step - time.time()))
                request_id = requests[i]["data"]["request_id"]
                reply = await advisor_peers[i].send("request.accept", {"request_id": request_id})
                if not reply["ok"]:
                    faults.append(f"request.accept refused: {reply}")
                    return
                conversation_id = int(reply["data"]["conversation_id"])
                # The end time as the server stored it, from the file.
                found = await asyncio.to_thread(
                    read_db,
                    db_path,
                    "SELECT ends_at FROM conversations WHERE id = ?",
                    (conversation_id,),
                )
                ends_at = float(found[0]["ends_at"])
                talk = Talk(
                    conversation_id, candidates[i], advisor_peers[i], ends_at, options.warning
                )
                talks.append(talk)
                baseline.set(talk)

            print(
                f"accepting {count} conversations over {options.spread:g} s "
                f"({options.length} s each, warning {options.warning} s before the end) ...",
                flush=True,
            )
            await asyncio.gather(*(accept(i) for i in range(count)))
            everyone = [*candidates, *advisor_peers]
            if options.kill_at is not None:
                await asyncio.sleep(max(0.0, start + options.kill_at - time.time()))
                try:
                    killed, ready = await asyncio.to_thread(kill_and_restart, server)
                except RuntimeError as error:
                    faults.append(f"server did not start again: {error}: {log_tail(server)}")
                    return {"settings": settings, "faults": faults}
                outages.append((killed, ready))
                checked.append(ready)
                print(
                    f"killed at {killed - start:.2f} s, healthy again after {ready - killed:.2f} s",
                    flush=True,
                )
            await settle(talks, outages)
            # The health check polls every 0.1 s from a thread; the first client welcomed
            # again is an earlier sign that the server is back.
            outages = [
                (killed, min(ready, first_welcome(everyone, killed))) for killed, ready in outages
            ]
            all_back = [last_welcome(everyone, killed) for killed, _ready in outages]
        rows, replays = hall_rows(talks, outages)
        stored, moved = stored_rows(db_path, talks, outages)
        rows += stored + baseline.finish()
    finally:
        await asyncio.to_thread(server.stop)
    if len(talks) != count:
        faults.append(f"{count - len(talks)} of {count} conversations were not accepted")
    if moved:
        faults.append(f"{moved} conversations moved their end time")
    for row in rows:
        if row.name.startswith("baseline") or row.name.endswith("while down"):
            continue  # the machine's own lateness; or counted in the row of all moments
        for what, n in (("missing", row.missing), ("early", row.early), ("twice", row.twice)):
            if n:
                faults.append(f"{row.name}: {n} {what}")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": settings,
        "outages": [
            {
                "killed": killed,
                "ready": ready,
                "down_seconds": ready - killed,
                "health_check_seconds": healthy - killed,
                "all_back_seconds": back - killed,
            }
            for (killed, ready), healthy, back in zip(outages, checked, all_back, strict=True)
        ],
        "rows": [row.report() for row in rows],
        "replays": replays,
        "faults": faults,
    }


def first_welcome(peers: list[ReconnectingPeer], after: float) -> float:
    """When the first of these clients was welcomed on a connection made after ``after``."""
    return min(
        (
            at
            for peer in peers
            for at, name, _data in peer.pushes
            if name == "session.welcome" and at > after
        ),
        default=math.inf,
    )


def last_welcome(peers: list[ReconnectingPeer], after: float) -> float:
    """When the last of these clients was welcomed again after ``after`` (inf: one never)."""
    return max(first_welcome([peer], after) for peer in peers)


def log_tail(server: LiveServer) -> str:
    """The end of the server's log, which goes with the temporary folder."""
    return " | ".join(server.log().strip().splitlines()[-5:])


async def settle(talks: list[Talk], outages: list[tuple[float, float]]) -> None:
    """Wait past the last moment until every participant heard both moments (or a warning
    was superseded), at most SETTLE_SECONDS, then a little longer for second tellings."""
    last = max((t.ends_at for t in talks), default=time.time())
    await asyncio.sleep(max(0.0, last - time.time()))

    def done() -> bool:
        for talk in talks:
            for peer in (talk.candidate, talk.advisor):
                if heard(peer, KINDS[1], talk.id).first is None:
                    return False
                warned = heard(peer, KINDS[0], talk.id).first is not None
                if not warned and not superseded(peer, talk, outages):
                    return False
        return True

    deadline = time.time() + SETTLE_SECONDS
    while not done() and time.time() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(LINGER_SECONDS)


# --------------------------------------------------------------------------- reporting


def fmt(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"


def table(results: dict[str, Any]) -> str:
    head = ["timer", "expected", "fired", "missing", "early", "twice"]
    head += ["min ms", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    lines = [head]
    for row in results["rows"]:
        late = row["lateness_ms"]
        twice = "-" if row["twice"] is None else str(row["twice"])
        missing = str(row["missing"])
        if row["superseded"]:
            missing += f" (+{row['superseded']} superseded)"
        counts = [str(row["expected"]), str(row["fired"]), missing, str(row["early"]), twice]
        lines.append(
            [row["name"], *counts, *(fmt(late[p]) for p in ("min", "p50", "p95", "p99", "max"))]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description="How late the conversation timers are told")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--length", type=int, default=8, help="conversation seconds")
    parser.add_argument("--warning", type=int, default=3, help="seconds before the end")
    parser.add_argument("--spread", type=float, default=10.0, help="seconds to accept them in")
    parser.add_argument(
        "--kill-at", type=float, help="SIGKILL and restart the server this long after the start"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="20 conversations, a kill at 5.5 s, under 40 s"
    )
    args = parser.parse_args(argv)
    options = Options(args.conversations, args.length, args.warning, args.spread, args.kill_at)
    if args.smoke:
        options.conversations, options.length, options.warning, options.spread = 20, 6, 2, 3.0
        # The restart too: some warnings and ends fall while the server is down.
        options.kill_at = 5.5 if args.kill_at is None else args.kill_at
    if not 1 <= options.conversations <= 1000:
        parser.error("--conversations must be in [1, 1000]")
    if not 1 <= options.warning < options.length <= 600:
        parser.error("--warning must be at least 1 and below --length (at most 600)")
    if not 0 < options.spread <= 300:
        parser.error("--spread must be in (0, 300]")
    last_end = options.spread + options.length
    if options.kill_at is not None and not options.spread < options.kill_at < last_end:
        parser.error(
            f"--kill-at must lie after the accepts and before the last end: in "
            f"({options.spread:g}, {last_end:g})"
        )
    return options


def main(argv: list[str] | None = None) -> int:
    began = time.monotonic()
    options = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="inzoomen-timers-") as tmp:
        options.workdir = Path(tmp)
        results = asyncio.run(run(options))
    results["seconds"] = time.monotonic() - began
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "durability-latest.json").write_text(json.dumps(results, indent=2) + "\n")
    if "rows" in results:
        settings = results["settings"]
        kill = "" if settings["kill_at"] is None else f", SIGKILL at {settings['kill_at']:g} s"
        print()
        print(
            f"conversation timers, {settings['conversations']} conversations of "
            f"{settings['conversation_seconds']} s (warning {settings['warning_seconds']} s "
            f"before), accepted over {settings['spread_seconds']:g} s{kill}, {results['date']}"
        )
        print(table(results))
        for outage in results["outages"]:
            print(
                f"server down for {outage['down_seconds']:.2f} s (kill to the first client "
                f"welcomed again; the health check: {outage['health_check_seconds']:.2f} s); "
                f"every client back after {outage['all_back_seconds']:.2f} s"
            )
        print(
            f"told again right after a snapshot on reconnect: {results['replays']}; "
            f"run took {results['seconds']:.1f} s"
        )
        print(f"\nwritten to {(RESULTS / 'durability-latest.json').relative_to(ROOT)}")
    else:
        print(f"run took {results['seconds']:.1f} s")
    for fault in results["faults"]:
        print(f"FAULT: {fault}", file=sys.stderr)
    return 1 if results["faults"] else 0


if __name__ == "__main__":
    sys.exit(main())
