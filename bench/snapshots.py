"""Snapshot reads: what building the hall, a booth's view, a console and a candidate's state
costs on a hall of 40 booths and 200 candidates, side by side for this tree and a baseline
revision (by default the last one that read most snapshots booth by booth and view by view).

Run from the repository root::

    .venv/bin/python bench/snapshots.py                     # baseline cfd6972, ~30 s
    .venv/bin/python bench/snapshots.py --baseline HEAD~1   # any git revision
    .venv/bin/python bench/snapshots.py --smoke             # a few builds, for CI

The event is ``tests.snapshotkit.seed`` (fixed rows: booths open, opening later and closed,
advisors in every status, 100 waiting requests, 20 running conversations, ended ones with
ratings, follow-ups), written once to a SQLite file and copied for each tree. The baseline
is ``git archive``d into a temporary folder. Each tree has its own worker process (this file
with ``--worker``, run with ``PYTHONPATH`` set to the tree, so it imports that tree's
``app``) calling the same public functions of ``app.live.snapshots`` on its copy. A worker
first builds each snapshot once with sqlite3's trace callback on the reader connection,
counting the reads (and warming up); then, ``--rounds`` times, each snapshot is built
``--builds`` times in one tree and then in the other (which goes first alternates), each
build timed with ``time.perf_counter``: small batches taking turns, so a noisy moment of the
machine falls on both trees alike. Printed: reads per build, the median and 90th percentile
of a build in microseconds per tree, and how many times faster the median is now; written to
``bench/results/snapshots-latest.json``.

Reads run on the server's event loop (app/storage/db.py), so a build's time is also how
long it holds every connection of its process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "snapshots-latest.json"
# The last revision whose snapshots read booth by booth and view by view.
DEFAULT_BASELINE = "cfd6972"
BOOTHS = 40
CANDIDATES = 200

# What is timed, in the order printed; each is one public function of app.live.snapshots.
CASES = (
    ("hall", "the hall: every booth"),
    ("booth", "one booth's view (after a change there)"),
    ("waiting", "the views of a booth's waiting candidates"),
    ("candidate", "a waiting candidate's state"),
    ("console", "a console, nobody in a conversation"),
    ("console_talking", "a console during a conversation"),
    ("overview", "the moderator's overview"),
)


# -- the worker: one tree, one database -----------------------------------------------------


async def _work(spec: dict[str, Any]) -> None:
    """Count each snapshot's reads and say so, then time builds as asked on stdin (one JSON
    line ``{"case": ..., "builds": n}`` each, answered with one line of microseconds)."""
    # Imported here: the worker runs with the tree under test first on its path.
    from app.domain.event import load_event
    from app.live import snapshots
    from app.storage.db import Database

    db = await Database.open(Path(spec["db"]))
    event = await load_event(db)
    now = float(spec["now"])
    ids = spec["ids"]
    builds = {
        "hall": lambda: snapshots.hall(db, event, now),
        "booth": lambda: snapshots.booth_views(db, event, now, ids["booth"]),
        "waiting": lambda: snapshots.waiting_request_views(db, event, ids["booth"], now),
        "candidate": lambda: snapshots.candidate_state(db, event, ids["candidate"], now),
        "console": lambda: snapshots.console_state(db, event, ids["advisor"], now),
        "console_talking": lambda: snapshots.console_state(db, event, ids["talking"], now),
        "overview": lambda: snapshots.overview(db, event, now),
    }
    statements: list[str] = []
    # sqlite3's trace callback on the reader connection (what Database.observe_reads sets;
    # the baseline may not have that yet). The first build also warms up.
    reader = db._reader
    reads = {}
    try:
        for case, build in builds.items():
            statements.clear()
            reader.set_trace_callback(statements.append)
            await build()
            reader.set_trace_callback(None)
            reads[case] = len(statements)
        print(json.dumps(reads), flush=True)
        for line in sys.stdin:
            ask = json.loads(line)
            build = builds[ask["case"]]
            samples = []
            for _ in range(int(ask["builds"])):
                started = time.perf_counter()
                await build()
                samples.append((time.perf_counter() - started) * 1e6)
            print(json.dumps(samples), flush=True)
    finally:
        await db.close()


def worker(spec_text: str) -> None:
    import asyncio

    asyncio.run(_work(json.loads(spec_text)))


# -- the driver ---------------------------------------------------------------------------


def extract(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


async def _seed(path: Path) -> dict[str, Any]:
    """The seeded event in a new file, and which booth, advisors and candidate to time: the
    booth with the longest line, an advisor there with nobody in a conversation and one in a
    conversation, the last candidate in that line."""
    sys.path.insert(0, str(ROOT))
    from app.storage.db import Database
    from tests.snapshotkit import NOW, seeded_file

    await seeded_file(path, booths=BOOTHS, candidates=CANDIDATES)
    db = await Database.open(path)
    try:
        booth = await db.fetchvalue(
            "SELECT booth_id FROM requests WHERE status = 'waiting' GROUP BY booth_id "
            "ORDER BY COUNT(*) DESC, booth_id LIMIT 1"
        )
        candidate = await db.fetchvalue(
            "SELECT candidate_id FROM requests WHERE status = 'waiting' AND booth_id = ? "
            "ORDER BY line_at DESC, id DESC LIMIT 1",
            (booth,),
        )
        advisor = await db.fetchvalue(
            "SELECT id FROM staff WHERE role = 'advisor' AND active = 1 AND id NOT IN "
            "(SELECT advisor_id FROM conversations WHERE ended_at IS NULL) ORDER BY id LIMIT 1"
        )
        talking = await db.fetchvalue(
            "SELECT advisor_id FROM conversations WHERE ended_at IS NULL ORDER BY id LIMIT 1"
        )
    finally:
        await db.close()
    return {
        "now": NOW,
        "ids": {"booth": booth, "candidate": candidate, "advisor": advisor, "talking": talking},
    }


class Tree:
    """One tree's worker process, asked for builds one batch at a time."""

    def __init__(self, tree: Path, db: Path, plan: dict[str, Any]) -> None:
        spec = json.dumps({**plan, "db": str(db)})
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", spec],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.reads: dict[str, int] = self._answer()

    def _answer(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker stopped (exit status {self.process.wait()})")
        return json.loads(line)

    def time(self, case: str, builds: int) -> list[float]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"case": case, "builds": builds}) + "\n")
        self.process.stdin.flush()
        samples: list[float] = self._answer()
        return samples

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="a git revision")
    parser.add_argument("--builds", type=int, default=15, help="builds of a batch")
    parser.add_argument("--rounds", type=int, default=20, help="batches of each snapshot")
    parser.add_argument("--smoke", action="store_true", help="2 batches of 5 builds")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return 0
    if args.smoke:
        args.builds, args.rounds = 5, 2

    import asyncio

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-snapshots-") as folder:
        work = Path(folder)
        base_tree = extract(args.baseline, work / "baseline")
        seeded = work / "seeded.db"
        plan = asyncio.run(_seed(seeded))
        trees = {f"baseline {args.baseline}": base_tree, "this tree": ROOT}
        files = {}
        for i, name in enumerate(trees):
            files[name] = work / f"tree{i}.db"
            shutil.copy(seeded, files[name])
        workers = {name: Tree(tree, files[name], plan) for name, tree in trees.items()}
        samples: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
        reads = {name: w.reads for name, w in workers.items()}
        try:
            # Small batches, the trees taking turns (first one, then the other): a noisy
            # moment of the machine falls on both alike.
            for round_ in range(args.rounds):
                for case, _label in CASES:
                    order = list(workers) if round_ % 2 == 0 else list(workers)[::-1]
                    for name in order:
                        found = workers[name].time(case, args.builds)
                        samples[name].setdefault(case, []).extend(found)
        finally:
            for w in workers.values():
                w.close()
    base, this = trees
    print(
        f"{BOOTHS} booths, {CANDIDATES} candidates; {args.rounds} batches of {args.builds} "
        f"builds of each snapshot per tree ({time.monotonic() - began:.0f} s)"
    )
    print(
        f"{'snapshot':44} {'reads':>11} {'median µs':>17} {'p90 µs':>17} {'×':>5}\n"
        f"{'':44} {'base':>5} {'now':>5} {'base':>8} {'now':>8} {'base':>8} {'now':>8}"
    )
    results = []
    for case, label in CASES:
        row: dict[str, Any] = {"case": case, "snapshot": label}
        for tree_name, key in ((base, "baseline"), (this, "this_tree")):
            row[key] = {
                "reads": reads[tree_name][case],
                "median_us": round(statistics.median(samples[tree_name][case]), 1),
                "p90_us": round(percentile(samples[tree_name][case], 0.9), 1),
            }
        speedup = row["baseline"]["median_us"] / row["this_tree"]["median_us"]
        row["speedup"] = round(speedup, 2)
        results.append(row)
        b, t = row["baseline"], row["this_tree"]
        print(
            f"{label:44} {b['reads']:5} {t['reads']:5} {b['median_us']:8.0f} "
            f"{t['median_us']:8.0f} {b['p90_us']:8.0f} {t['p90_us']:8.0f} {speedup:5.2f}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"baseline": args.baseline, "builds": args.builds, "rounds": args.rounds, **plan}
            | {"results": results},
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
