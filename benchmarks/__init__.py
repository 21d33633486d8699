"""keybearer's benchmarks: ``python -m benchmarks`` (or ``--quick``, under a minute).

Every figure of issue 6 is measured as a ratio against a baseline taken in the
same run, with the contenders alternating round by round so that machine
drift cancels. The runner starts its own servers on 127.0.0.1 (in child
processes, so that their work does not share the GIL with the client being
measured), bounds every loop in count and time, and stops what it started.

Bars are reported as ``met`` or ``MISSED``; a missed bar never fails the run.
Results: ``docs/performance.md``.

Layout::

    __main__.py        the runner: arguments, the table, --json
    _harness.py        rows, bars, statistics, the alternating timer, the table
    _tokens.py         an RSA key, Cognito-shaped JWTs, a TokenSet, a fake clock
    _children.py       child processes with a line protocol, bounded in time
    _ok_server.py      child: a trivial HTTP/1.1 API that answers 200
    _peers.py          child: LocalCognito + ProtectedApi (moto) for the refresh
                       figures, and the parent's helpers to start and drive it
    per_request.py     figure 1      single_flight.py  figure 2
    loop_stall.py      figure 3      imports.py        figure 4
    cold_start.py      figure 5      verification.py   figures 6, 13
    token_store.py     figure 7      memory.py         figure 8
"""
