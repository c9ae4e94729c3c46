"""Profile the API and worker during a bench run: py-spy (raw stacks) and `top -b` CPU shares.

    python -m commerce.bench.profiling OUT_DIR [--delay S] [--seconds S] [-- bench args...]

Runs `commerce bench` (full unless `--quick` follows `--`), waits for the line naming the API's
and worker's pids, waits `--delay` seconds (past the first batch, into the concurrency sweep),
then records both with `py-spy record -f raw` and samples `top -b` for `--seconds`. Prints the
CPU share per process, and per process the on-CPU samples by package (inclusive: a sample counts
for each package on its stack) and the top functions by own time. Everything ends on its own.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import time
from pathlib import Path

PIDS = re.compile(r"api pid (\d+), worker pid (\d+)")
PACKAGES = (  # (label, substring of a frame's file path), first match wins per frame
    ("temporalio sandbox", "temporalio/worker/workflow_sandbox"),
    ("temporalio", "temporalio/"), ("pydantic", "pydantic"), ("asyncpg", "asyncpg/"),
    ("opentelemetry", "opentelemetry/"), ("prometheus_client", "prometheus_client/"),
    ("jwt/cryptography", "jwt/"), ("redis", "redis/"), ("uvicorn", "uvicorn/"),
    ("starlette", "starlette/"), ("fastapi", "fastapi/"), ("logging", "logging/"),
    ("json", "json/"), ("our api/", "/api/"), ("our activities/", "/activities/"),
    ("our eventstore/", "/eventstore/"), ("our domain/", "/domain/"),
    ("our workflows/", "/workflows/"), ("our commerce/", "/commerce/"),
)  # fmt: skip


def _package(frame: str) -> str | None:
    return next((label for label, part in PACKAGES if part in frame), None)


def summarize(raw: Path, top: int = 15) -> str:
    """Inclusive share per package and the functions with the most own (leaf) samples."""
    total, by_package, own = 0, collections.Counter[str](), collections.Counter[str]()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count, frames = int(count_text), stack.split(";")
        total += count
        for label in {p for p in map(_package, frames) if p}:
            by_package[label] += count
        own[frames[-1]] += count
    if not total:
        return f"{raw.name}: no samples"
    lines = [f"{raw.name}: {total} on-CPU samples", "  inclusive by package:"]
    lines += [f"    {n / total:6.1%}  {label}" for label, n in by_package.most_common()]
    lines.append("  own time, top functions:")
    lines += [f"    {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


def cpu_shares(top_text: str, pids: dict[str, int]) -> str:
    """Mean %CPU per process (100% = one core) over the `top -b` iterations, and the busiest
    other commands (servers, the bench itself)."""
    by_command: dict[str, list[float]] = collections.defaultdict(list)
    names = {str(pid): name for name, pid in pids.items()}
    iterations = top_text.split("top - ")[2:]  # the first one averages since each start
    frames = len(iterations)
    for line in "".join(iterations).splitlines():
        cells = line.split()
        if len(cells) >= 12 and cells[0].isdigit():
            name = names.get(cells[0], f"{cells[11]} ({cells[0]})")
            by_command[name].append(float(cells[8].replace(",", ".")))
    means = {name: sum(v) / max(frames, 1) for name, v in by_command.items()}
    busiest = sorted(means.items(), key=lambda item: -item[1])[:10]
    return "\n".join(f"  {share:6.1f}% CPU  {name}" for name, share in busiest)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m commerce.bench.profiling")
    parser.add_argument("out", type=Path)
    parser.add_argument("--delay", type=float, default=40.0)
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--rate", type=int, default=67, help="py-spy samples per second")
    parser.add_argument("bench_args", nargs="*")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():  # a profiling tool, not a dependency of the product
        print(f"commerce.bench.profiling needs py-spy beside {sys.executable}: "
              f"{Path(sys.executable).parent / 'pip'} install py-spy", file=sys.stderr)  # fmt: skip
        return 2
    bench_cmd = [sys.executable, "-m", "commerce.cli", "bench", *args.bench_args]
    bench_log = (args.out / "bench.log").open("w")
    bench = subprocess.Popen(bench_cmd, stdout=subprocess.PIPE, stderr=bench_log, text=True)
    assert bench.stdout is not None
    pids: dict[str, int] = {}
    for line in bench.stdout:
        bench_log.write(line)
        if found := PIDS.search(line):
            pids = {"api": int(found[1]), "worker": int(found[2])}
            break
    if not pids:
        return bench.wait()
    time.sleep(args.delay)
    spies = [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "-p",
                str(pid),
                "-f",
                "raw",
                "-r",
                str(args.rate),
                "-d",
                str(args.seconds),
                "--nonblocking",
                "-o",
                str(args.out / f"{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        for name, pid in pids.items()
    ]
    frames = max(args.seconds // 5, 1)
    top_text = subprocess.run(["top", "-b", "-d", "5", "-n", str(frames), "-w", "200"],
                              capture_output=True, text=True, check=False).stdout  # fmt: skip
    (args.out / "top.txt").write_text(top_text)
    for process in spies:
        process.wait(timeout=args.seconds + 60)
    for line in bench.stdout:
        bench_log.write(line)
    bench.wait()
    report = [f"pids: {pids}", "CPU share during the recording:", cpu_shares(top_text, pids)]
    report += [
        summarize(args.out / f"{name}.txt") for name in pids if (args.out / f"{name}.txt").exists()
    ]
    (args.out / "summary.txt").write_text("\n".join(report) + "\n")
    print("\n".join(report))
    return bench.returncode


if __name__ == "__main__":
    sys.exit(main())
