"""The notebook's ``KEYBEARER_SIGN_IN_COMMAND`` in CI: a browser stand-in for one sign-in.

    python tests/notebook_sign_in.py USERNAME AUTHORIZATION_URL

signs USERNAME in at the oidc-provider peer (the hosted-UI stand-in), with the
password in the ``OIDC_PEER_PASSWORD`` environment variable (not on the
command line), and prints the address the browser would end on: the redirect
URI with ``?code=...&state=...``, what a person pastes back into the notebook.
"""

from __future__ import annotations

import os
import sys

from peers.oidc_peer import sign_in  # tests/ is this script's directory, so on sys.path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    username, url = argv
    print(sign_in(url, username, os.environ["OIDC_PEER_PASSWORD"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
