"""Two revisions of the hall under the same benchmarks, in one run, taking turns.

Run from the repository root::

    .venv/bin/python bench/side_by_side.py --base bcf9c45            # fanout and ops, smoke
    .venv/bin/python bench/side_by_side.py --base bcf9c45 --rounds 3

The revision ``--base`` is exported with ``git archive`` into a temporary folder; this tree
is the other side. Each round runs ``bench/fanout.py --smoke --skip-baseline`` and then
``bench/ops.py --smoke`` of the base, then of this tree (the order alternates between
rounds), each bench from its own tree with this venv's interpreter, so both sides meet the
same machine at nearly the same moment. A busy moment hits both alike; what remains is
read from the spread between rounds, printed next to each median.

Reported per side: hall fan-out latency p50 and p99 (ms, from a change to every client
having it) and committed request+accept operations a second, as the medians over the
rounds, with their range, and the ratio this tree / base.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def export(revision: str, into: Path) -> Path:
    archive = into / "base.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", revision], cwd=ROOT, stdout=out, check=True)
    tree = into / "base"
    tree.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def run_fanout(tree: Path, out: Path) -> dict[str, float]:
    command = [sys.executable, "bench/fanout.py", "--smoke", "--skip-baseline", "--out", str(out)]
    subprocess.run(command, cwd=tree, check=True, stdout=subprocess.DEVNULL)
    results: dict[str, Any] = json.loads(out.read_text())
    ours = results["runs"][0]["ours"]
    latency = ours["latency_ms"]
    return {"fanout p50 ms": latency["p50"], "fanout p99 ms": latency["p99"]}


def run_ops(tree: Path) -> dict[str, float]:
    subprocess.run(
        [sys.executable, "bench/ops.py", "--smoke"], cwd=tree, check=True, stdout=subprocess.DEVNULL
    )
    results: dict[str, Any] = json.loads((tree / "bench/results/ops-latest.json").read_text())
    return {"request+accept /s": results["request_accept_per_second"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the revision to compare against")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    samples: dict[str, dict[str, list[float]]] = {"base": {}, "this tree": {}}
    with tempfile.TemporaryDirectory(prefix="inzoomen-sides-") as tmp:
        sides = {"base": export(args.base, Path(tmp)), "this tree": ROOT}
        for n in range(args.rounds):
            order = ["base", "this tree"] if n % 2 == 0 else ["this tree", "base"]
            for side in order:
                tree = sides[side]
                print(f"round {n + 1}: {side}", flush=True)
                figures = run_fanout(tree, Path(tmp) / f"fanout-{side}-{n}.json")
                figures |= run_ops(tree)
                for name, value in figures.items():
                    samples[side].setdefault(name, []).append(value)
    print(f"\nbase {args.base} against this tree, {args.rounds} rounds (median, range):")
    print(f"{'figure':<20}{'base':>24}{'this tree':>24}{'ratio':>8}")
    for name in samples["base"]:
        cells = []
        for side in ("base", "this tree"):
            values = samples[side][name]
            cells.append(f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})")
        ratio = statistics.median(samples["this tree"][name]) / statistics.median(
            samples["base"][name]
        )
        print(f"{name:<20}{cells[0]:>24}{cells[1]:>24}{ratio:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
