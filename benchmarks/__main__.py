"""``python -m benchmarks [--quick] [--json out.json] [--markdown out.md] [--only 1,6]``.

Runs the figures of issue 6 and prints one table. A bar that is missed is
reported as ``MISSED``; it never fails the run. A figure that crashes does
(exit status 1, after the other figures have run), so CI notices when the
runner rots. A package that is not installed makes its rows ``n/a``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

from benchmarks._children import Child
from benchmarks._harness import Row, Settings, render_markdown, render_text

# Authlib tells everyone who imports its httpx client to move to "httpx2".
warnings.filterwarnings("ignore", message=".*httpx module is deprecated.*")
warnings.filterwarnings("ignore", message=".*authlib.jose module is deprecated.*")

FIGURES: dict[int, str] = {
    1: "per-request cost of client.auth",
    2: "refreshes under a crowd (single flight)",
    3: "event-loop stall during the async refresh",
    4: "import time",
    5: "cold start with tokens in the keyring",
    6: "token verification, warm JWKS",
    7: "token-store hot path",
    8: "memory over many requests and refreshes",
    9: "keybearer token start-up, fresh token",
    10: "SRP sign-in maths on the client vs pycognito",
    11: "client credentials: token requests per fleet (RedisStore)",
    12: "client credentials: per-request cost with RedisStore",
}
#: Figures that need LocalCognito + ProtectedApi (started once, shared).
NEEDS_PEERS = {2, 3, 8}
#: Figures that cannot run without a package: (module to find, what to install).
REQUIRES = {
    2: ("moto", "keybearer[testing]"),
    3: ("moto", "keybearer[testing]"),
    8: ("moto", "keybearer[testing]"),
    5: ("keyrings.alt", "keyrings.alt"),
    10: ("pycognito", "pycognito"),
    11: ("redis", "keybearer[redis]"),
    12: ("redis", "keybearer[redis]"),
}

PACKAGES = (
    "keybearer",
    "httpx",
    "httpcore",
    "pydantic",
    "keyring",
    "keyrings.alt",
    "cryptography",
    "moto",
    "httpx-auth",
    "Authlib",
    "PyJWT",
    "joserfc",
    "msal",
    "pycognito",
)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load": _load(),
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": versions,
    }


def _load() -> str:
    """The 1/5/15-minute load averages: other work on the machine widens the spreads."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:  # not on this platform
        return "unknown"


def _runner(figure: int) -> Callable[..., list[Row]]:
    from benchmarks import (
        cli_token,
        cold_start,
        fleet,
        imports,
        loop_stall,
        memory,
        per_request,
        single_flight,
        srp,
        token_store,
        verification,
    )

    return {
        1: per_request.run,
        2: single_flight.run,
        3: loop_stall.run,
        4: imports.run,
        5: cold_start.run,
        6: verification.run,
        7: token_store.run,
        8: memory.run,
        9: cli_token.run,
        10: srp.run,
        11: fleet.run_fleet,
        12: fleet.run_cost,
    }[figure]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


@contextlib.contextmanager
def _maybe_peers(wanted: bool) -> Iterator[Child | None]:
    if not wanted:
        yield None
        return
    from benchmarks import _peers

    with _peers.start() as peers:
        yield peers


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: under a minute")
    parser.add_argument("--json", metavar="PATH", help="also write every value as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="also write the table as Markdown")
    parser.add_argument(
        "--only", metavar="N,N", help="run only these figures, e.g. --only 1,6", default=""
    )
    parser.add_argument(
        "--rounds-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply the number of rounds (e.g. 2 for a steadier run)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    figures = sorted(FIGURES)
    if args.only:
        figures = [int(f) for f in args.only.split(",") if f.strip()]
        unknown = [f for f in figures if f not in FIGURES]
        if unknown:
            print(f"unknown figures: {unknown}; there are {sorted(FIGURES)}", file=sys.stderr)
            return 2
    settings = Settings(quick=args.quick, rounds_scale=args.rounds_scale)
    info = machine()
    print(
        f"keybearer benchmarks ({'quick' if args.quick else 'full'}) - {info['date']}\n"
        f"{info['cpu']}, {info['nproc']} CPUs, {info['python']}, {info['platform']}\n"
        f"load average {info['load']}\n",
        flush=True,
    )
    rows: list[Row] = []
    crashed: list[int] = []
    timings: dict[int, float] = {}
    for figure in list(figures):
        module, package = REQUIRES.get(figure, ("", ""))
        if module and not _installed(module):
            figures.remove(figure)
            reason = f"needs {package}: pip install -e '.[bench]'"
            rows.append(Row(figure, FIGURES[figure], "", note=reason, available=False))
    started = time.monotonic()
    with _maybe_peers(bool(NEEDS_PEERS & set(figures))) as peers:
        for figure in figures:
            print(f"[{figure}] {FIGURES[figure]} ...", end=" ", flush=True)
            began = time.monotonic()
            try:
                run = _runner(figure)
                found = run(settings, peers) if figure in NEEDS_PEERS else run(settings)
            except Exception:
                crashed.append(figure)
                print("CRASHED", flush=True)
                traceback.print_exc()
                found = [Row(figure, FIGURES[figure], "", note="crashed", available=False)]
            else:
                print(f"{time.monotonic() - began:.1f} s", flush=True)
            timings[figure] = time.monotonic() - began
            rows.extend(found)
    elapsed = time.monotonic() - started
    print()
    print(render_text(rows))
    missed = [r for r in rows if r.status == "MISSED"]
    print(
        f"\n{len(rows)} rows, {sum(r.status == 'met' for r in rows)} bars met, "
        f"{len(missed)} missed; {elapsed:.1f} s; load average now {_load()}"
    )
    if args.json:
        document = {
            "mode": "quick" if args.quick else "full",
            "machine": info,
            "elapsed_seconds": elapsed,
            "load_after": _load(),
            "figure_seconds": timings,
            "rows": [r.as_json() for r in rows],
        }
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(render_markdown(rows) + "\n")
    if crashed:
        print(f"figures that crashed: {crashed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
