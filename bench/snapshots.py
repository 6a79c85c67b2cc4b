"""Snapshot reads: what building the hall, a booth's view, a console and a candidate's state
costs on a hall of 40 booths and 200 candidates, side by side for this tree and a baseline
revision (by default the last one that read most snapshots booth by booth and view by view).

Run from the repository root::

    .venv/bin/python bench/snapshots.py                     # baseline cfd6972, 3 rounds
    .venv/bin/python bench/snapshots.py --baseline HEAD~1   # any git revision
    .venv/bin/python bench/snapshots.py --smoke             # a few builds, for CI

The event is ``tests.snapshotkit.seed`` (fixed rows: booths open, opening later and closed,
advisors in every status, 100 waiting requests, 20 running conversations, ended ones with
ratings, follow-ups), written once to a SQLite file and copied for each tree. The baseline
is ``git archive``d into a temporary folder. Each tree is timed in its own process (this
file with ``--worker``, run with ``PYTHONPATH`` set to the tree, so it imports that tree's
``app``) calling the same public functions of ``app.live.snapshots`` on its copy: one
warm-up build, then ``--builds`` builds of each snapshot, timed one by one with
``time.perf_counter``. The trees take turns, ``--rounds`` times, so a noisy moment of the
machine hits both. The reads a build makes are counted through sqlite3's trace callback on
the reader connection. Printed: reads per build and the median and 90th percentile of a
build in microseconds per tree; written to ``bench/results/snapshots-latest.json``.

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


async def _work(spec: dict[str, Any]) -> dict[str, Any]:
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
    # sqlite3's trace callback on the reader connection (what Database.observe_reads sets).
    reader = db._reader
    found: dict[str, Any] = {}
    try:
        for case, build in builds.items():
            statements.clear()
            reader.set_trace_callback(statements.append)
            await build()
            reader.set_trace_callback(None)
            reads = len(statements)
            samples = []
            for _ in range(int(spec["builds"])):
                started = time.perf_counter()
                await build()
                samples.append((time.perf_counter() - started) * 1e6)
            found[case] = {"reads": reads, "samples": samples}
    finally:
        await db.close()
    return found


def worker(spec_text: str) -> None:
    import asyncio

    print(json.dumps(asyncio.run(_work(json.loads(spec_text)))))


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


def run_tree(tree: Path, db: Path, plan: dict[str, Any], builds: int) -> dict[str, Any]:
    spec = {**plan, "db": str(db), "builds": builds}
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="a git revision")
    parser.add_argument("--builds", type=int, default=100, help="timed builds a round")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each tree")
    parser.add_argument("--smoke", action="store_true", help="20 builds, one round")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return 0
    if args.smoke:
        args.builds, args.rounds = 20, 1

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
        samples: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
        reads: dict[str, dict[str, int]] = {name: {} for name in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                for case, found in run_tree(tree, files[name], plan, args.builds).items():
                    samples[name].setdefault(case, []).extend(found["samples"])
                    reads[name][case] = found["reads"]
    base, this = trees
    print(
        f"{BOOTHS} booths, {CANDIDATES} candidates; {args.rounds} x {args.builds} builds "
        f"of each per tree ({time.monotonic() - began:.0f} s)"
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
