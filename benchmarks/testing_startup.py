"""Start-up cost of the pytest plugin's stand-ins: ``python -m benchmarks.testing_startup``.

Each round runs in a fresh Python process, as a test session does, and measures:

* **import**: ``import keybearer.testing`` (what the plugin's fixtures import);
* **session fixture ready**: from after that import to a running LocalCognito with
  a user pool and an app client, i.e. what ``local_cognito``, ``cognito_pool``
  and ``cognito_app_client`` cost the first test (moto loads here);
* **cognito_user**: one ``create_user`` (a permanent password), median and p95 of
  ``--users`` users.

Bars (issue 14): session fixture ready under 1 s; each user under 50 ms.
Wall time depends on what else the machine runs, so the CPU time the process
used (all its threads: the server's too) is reported beside it. Prints a
table; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

_CHILD = """
import json, time
t0, c0 = time.perf_counter(), time.process_time()
from keybearer.testing import LocalCognito
t1, c1 = time.perf_counter(), time.process_time()
cognito = LocalCognito().start()
pool = cognito.create_pool()
cognito.create_app_client(pool)
t2, c2 = time.perf_counter(), time.process_time()
users, cpu = [], []
for i in range({users}):
    s, cs = time.perf_counter(), time.process_time()
    cognito.create_user(pool, f"user{{i}}", "Correct-Horse-1")
    users.append(time.perf_counter() - s)
    cpu.append(time.process_time() - cs)
cognito.stop()
print(json.dumps({{"import": t1 - t0, "ready": t2 - t1, "ready_cpu": c2 - c1,
                  "users": users, "users_cpu": cpu}}))
"""


def one_round(users: int) -> dict[str, Any]:
    shown = subprocess.run(  # noqa: S603  # our own interpreter and script
        [sys.executable, "-c", _CHILD.format(users=users)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result: dict[str, Any] = json.loads(shown.stdout.strip().splitlines()[-1])
    return result


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    rounds = [one_round(args.users) for _ in range(args.rounds)]
    imports = [r["import"] * 1000 for r in rounds]
    ready = [r["ready"] * 1000 for r in rounds]
    ready_cpu = [r["ready_cpu"] * 1000 for r in rounds]
    per_user = [u * 1000 for r in rounds for u in r["users"]]
    per_user_cpu = [u * 1000 for r in rounds for u in r["users_cpu"]]
    figures = {
        "import_ms_median": statistics.median(imports),
        "ready_ms_median": statistics.median(ready),
        "ready_ms_max": max(ready),
        "ready_cpu_ms_median": statistics.median(ready_cpu),
        "user_ms_median": statistics.median(per_user),
        "user_ms_p95": p95(per_user),
        "user_cpu_ms_median": statistics.median(per_user_cpu),
        "rounds": args.rounds,
        "users_per_round": args.users,
    }
    print(f"{'figure (wall time)':<40} {'median':>10} {'worst/p95':>10}  bar")
    print(f"{'import keybearer.testing':<40} {figures['import_ms_median']:>8.0f}ms {'':>10}")
    print(
        f"{'session fixture ready (after import)':<40} {figures['ready_ms_median']:>8.0f}ms "
        f"{figures['ready_ms_max']:>8.0f}ms  < 1000 ms"
    )
    print(
        f"{'one cognito_user':<40} {figures['user_ms_median']:>8.1f}ms "
        f"{figures['user_ms_p95']:>8.1f}ms  < 50 ms"
    )
    print(
        f"CPU time: session fixture {figures['ready_cpu_ms_median']:.0f} ms, "
        f"one cognito_user {figures['user_cpu_ms_median']:.1f} ms (medians)"
    )
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
