"""The ``keybearer`` command: configure a profile once, log in, then call the API.

::

    keybearer configure --profile dev     # pool, app client, domain, scopes, API URL
    keybearer login --profile dev         # browser | --password | --paste | --passwordless
    keybearer whoami                      # who, where, until when; never a token
    keybearer token                       # the raw token, for curl and friends
    keybearer get /pets                   # GET <api_url>/pets, signed in
    keybearer doctor [--api URL]          # why does the API say 401? a checklist
    keybearer logout [--all]
    keybearer forget-device               # MFA again next time (remembered devices)
    keybearer profiles

Exit codes, for scripts: 0 ok; 1 the API, the provider or the network failed
(an HTTP status of 400 or more included); 2 a usage or configuration error; 3
there is no usable session, log in; 130 interrupted.

The package, one module per job; each imports only modules listed above it:

* :mod:`.exits`: exit codes and the error-to-code mapping;
* :mod:`.terminal`: stdout/stderr, colour, prompts, times, waiting;
* :mod:`.app`: the ``main`` group, the profile options, errors to exit codes;
* :mod:`.configure`, :mod:`.session` (whoami, token, logout, profiles),
  :mod:`.challenges`, :mod:`.login`, :mod:`.request` (get/post/...);
* :mod:`.doctor` with :mod:`.doctor_report`, :mod:`.doctor_api` and
  :mod:`.doctor_checks` (loaded only when ``doctor`` runs).

A new command is a ``click.command`` in the module of its group (or a new
one), named in :data:`COMMANDS` below.

No token is ever written anywhere except by ``keybearer token``.
"""

from __future__ import annotations

import os
import sys

# Two costs of start-up that `keybearer token` (run once per curl call) need
# not pay. httpx imports its own command line (httpx._main) whenever click and
# rich are installed, as they are here, and with it rich's progress bars and
# pygments; keybearer never runs it, and a None entry makes httpx use its own
# fallback instead (a process that imported httpx first keeps it). pydantic
# looks for plugins by scanning every installed distribution's entry points on
# the first model it builds; the command's models need none. Measured in
# docs/performance.md ("keybearer token").
if "httpx" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from keybearer.cli.app import main
from keybearer.cli.exits import (
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_LOGIN_REQUIRED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    exit_code_for,
)

__all__ = [
    "COMMANDS",
    "EXIT_API",
    "EXIT_INTERRUPTED",
    "EXIT_LOGIN_REQUIRED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "exit_code_for",
    "main",
]

#: Every command but ``completion`` (in :mod:`.app`): its name, and where it is
#: defined. A run imports only the module of the command it runs.
COMMANDS = {
    "configure": "keybearer.cli.configure:configure",
    "login": "keybearer.cli.login:login",
    "whoami": "keybearer.cli.session:whoami",
    "token": "keybearer.cli.session:token",
    "logout": "keybearer.cli.session:logout",
    "forget-device": "keybearer.cli.session:forget_device",
    "profiles": "keybearer.cli.session:profiles_command",
    "doctor": "keybearer.cli.doctor:doctor",
    "get": "keybearer.cli.request:get",
    "post": "keybearer.cli.request:post",
    "put": "keybearer.cli.request:put",
    "patch": "keybearer.cli.request:patch",
    "delete": "keybearer.cli.request:delete",
}

for _name, _target in COMMANDS.items():
    main.add_lazy_command(_name, _target)
