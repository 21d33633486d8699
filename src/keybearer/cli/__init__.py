"""The ``keybearer`` command: configure a profile once, log in, then call the API.

::

    keybearer configure --profile dev     # pool, app client, domain, scopes, API URL
    keybearer login --profile dev         # browser | --password | --paste
    keybearer whoami                      # who, where, until when; never a token
    keybearer token                       # the raw token, for curl and friends
    keybearer get /pets                   # GET <api_url>/pets, signed in
    keybearer doctor [--api URL]          # why does the API say 401? a checklist
    keybearer logout [--all]
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
one), added to ``main`` below.

No token is ever written anywhere except by ``keybearer token``.
"""

from __future__ import annotations

from keybearer.cli.app import main
from keybearer.cli.configure import configure
from keybearer.cli.doctor import doctor
from keybearer.cli.exits import (
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_LOGIN_REQUIRED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    exit_code_for,
)
from keybearer.cli.login import login
from keybearer.cli.request import METHODS, request_command
from keybearer.cli.session import logout, profiles_command, token, whoami

__all__ = [
    "EXIT_API",
    "EXIT_INTERRUPTED",
    "EXIT_LOGIN_REQUIRED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "exit_code_for",
    "main",
]

for _command in (configure, login, whoami, token, doctor, logout, profiles_command):
    main.add_command(_command)
for _method in METHODS:
    main.add_command(request_command(_method))
