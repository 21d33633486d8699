"""Named profiles: the settings the ``keybearer`` command and ``OAuthClient.from_profile`` share.

A profile is one table of a TOML file::

    [profiles.dev]
    user_pool_id = "us-east-1_AbCdEf123"
    client_id = "1example23456789"
    domain = "myapp.auth.us-east-1.amazoncognito.com"
    redirect_uri = "http://localhost:8765/callback"
    scopes = ["openid", "email"]
    api_url = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"

Each setting has an environment variable (``KEYBEARER_<KEY>``), and a value is
taken from the first place that has it: an explicit override (a command-line
flag), the environment, the file, the default. The profile is the one named
explicitly, else ``KEYBEARER_PROFILE``, else ``default``; the file is
``KEYBEARER_CONFIG``, else ``config.toml`` in the platform's config directory.

No secret is ever written to the file. A client secret lives where the
profile's tokens live (the OS keyring unless a store is chosen explicitly),
under ``client-secret:<profile>:<client id>``, or comes from
``KEYBEARER_CLIENT_SECRET``. Tokens are keyed by the profile name, so two
profiles never share a session.

The package, by job (each imports only those above it):

* :mod:`.settings`: the registry of settings and the checked model;
* :mod:`.files`: where the file is, which profile is meant, reading it;
* :mod:`.stores`: the token store a spec names;
* :mod:`.client`: building the client from settings;
* :mod:`.resolve`: merging flags, environment, file and defaults, checked;
* :mod:`.writing`: updating the file with tomlkit (comments kept); not
  imported here, since only ``keybearer configure`` writes.

``import keybearer`` imports none of this: :meth:`OAuthClient.from_profile`
and the command import it when they need it.
"""

from __future__ import annotations

from keybearer._profiles.files import (
    ConfigFile,
    default_config_path,
    read_config,
    selected_profile_name,
)
from keybearer._profiles.resolve import (
    ResolvedProfile,
    build_profile,
    client_from_profile,
    resolve_profile,
)
from keybearer._profiles.settings import (
    CONFIG_ENV,
    DEFAULT_PROFILE,
    LIST_SETTINGS,
    PROFILE_ENV,
    SECRET_ENV,
    SETTINGS,
    STORE_ENV,
    ProfileSettings,
    Setting,
    check_profile_name,
    secret_key,
)
from keybearer._profiles.stores import open_store

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_PROFILE",
    "LIST_SETTINGS",
    "PROFILE_ENV",
    "SECRET_ENV",
    "SETTINGS",
    "STORE_ENV",
    "ConfigFile",
    "ProfileSettings",
    "ResolvedProfile",
    "Setting",
    "build_profile",
    "check_profile_name",
    "client_from_profile",
    "default_config_path",
    "open_store",
    "read_config",
    "resolve_profile",
    "secret_key",
    "selected_profile_name",
]
