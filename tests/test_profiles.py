"""Profiles: the file, the environment, the precedence between them, and what a client gets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import keybearer
from keybearer._profiles import (
    ProfileSettings,
    client_from_profile,
    default_config_path,
    open_store,
    read_config,
    resolve_profile,
    secret_key,
    selected_profile_name,
)
from keybearer._profiles.writing import write_profile
from keybearer.errors import ConfigurationError
from keybearer.testing import AppClient, LocalCognito, Pool
from support import Person

POOL = "us-east-1_AbCdEf123"
CLIENT = "1example23456789"
POSIX = os.name == "posix"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        "# my profiles\n"
        "\n"
        "[profiles.default]\n"
        f'user_pool_id = "{POOL}"\n'
        f'client_id = "{CLIENT}"\n'
        'api_url = "https://api.example.test/prod"\n'
        "\n"
        "# the dev pool\n"
        "[profiles.dev]\n"
        'user_pool_id = "eu-west-1_Dev"\n'
        f'client_id = "{CLIENT}"\n'
        'send = "access"\n'
        'scopes = ["openid", "https://api.example.test/read"]\n',
        encoding="utf-8",
    )
    return path


# -- which file, which profile --


def test_config_path_is_keybearer_config_when_set(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.toml"
    assert default_config_path({"KEYBEARER_CONFIG": str(target)}) == target


def test_config_path_defaults_to_the_platform_config_dir(tmp_path: Path) -> None:
    import platformdirs

    path = default_config_path({})
    assert path.name == "config.toml"
    assert path.parent == platformdirs.user_config_path("keybearer", appauthor=False)


def test_profile_name_is_explicit_then_env_then_default() -> None:
    env = {"KEYBEARER_PROFILE": "fromenv"}
    assert selected_profile_name("flag", env) == "flag"
    assert selected_profile_name(None, env) == "fromenv"
    assert selected_profile_name(None, {}) == "default"


def test_a_profile_name_that_cannot_be_a_bare_toml_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"profile name 'a\.b' is not allowed"):
        selected_profile_name("a.b", {})


# -- precedence: flag > env > file > default --


def test_setting_precedence_is_flag_then_env_then_file_then_default(config: Path) -> None:
    file_only = resolve_profile("dev", config_path=config, environ={})
    assert file_only.settings.send == "access"
    assert file_only.sources["send"] == "file"
    assert file_only.settings.timeout == 30.0  # the default
    assert "timeout" not in file_only.sources

    env = {"KEYBEARER_SEND": "id", "KEYBEARER_TIMEOUT": "5"}
    from_env = resolve_profile("dev", config_path=config, environ=env)
    assert from_env.settings.send == "id"
    assert from_env.sources["send"] == "KEYBEARER_SEND"
    assert from_env.settings.timeout == 5.0

    flagged = resolve_profile("dev", config_path=config, environ=env, overrides={"send": "access"})
    assert flagged.settings.send == "access"
    assert flagged.sources["send"] == "--send"
    assert flagged.settings.timeout == 5.0


def test_env_lists_are_space_separated(config: Path) -> None:
    env = {
        "KEYBEARER_SCOPES": "openid  email\tprofile",
        "KEYBEARER_API_HOSTS": "a.test b.test:8443",
    }
    profile = resolve_profile("dev", config_path=config, environ=env)
    assert profile.settings.scopes == ("openid", "email", "profile")
    assert profile.settings.api_hosts == ("a.test", "b.test:8443")


def test_an_empty_env_variable_counts_as_unset(config: Path) -> None:
    profile = resolve_profile("dev", config_path=config, environ={"KEYBEARER_SEND": ""})
    assert profile.settings.send == "access"


def test_the_environment_alone_can_define_a_profile(tmp_path: Path) -> None:
    env = {"KEYBEARER_USER_POOL_ID": POOL, "KEYBEARER_CLIENT_ID": CLIENT}
    profile = resolve_profile("ci", config_path=tmp_path / "missing.toml", environ=env)
    assert profile.settings.user_pool_id == POOL
    assert not profile.in_file


def test_env_selects_the_profile_and_the_file(config: Path) -> None:
    env = {"KEYBEARER_CONFIG": str(config), "KEYBEARER_PROFILE": "dev"}
    profile = resolve_profile(environ=env)
    assert profile.name == "dev"
    assert profile.settings.user_pool_id == "eu-west-1_Dev"


# -- validation errors name the file, the profile and the field --


def _error(path: Path, name: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigurationError) as caught:
        resolve_profile(name, config_path=path, environ=env or {})
    return str(caught.value)


def test_a_bad_value_in_the_file_names_file_profile_and_field(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write_profile(path, "dev", {"user_pool_id": "not-a-pool", "client_id": CLIENT})
    message = _error(path, "dev")
    assert str(path) in message
    assert "profile 'dev'" in message
    assert "user_pool_id" in message
    assert "us-east-1_AbCdEf123" in message  # says what a good one looks like


def test_a_bad_value_from_the_environment_names_the_variable(config: Path) -> None:
    message = _error(config, "dev", {"KEYBEARER_SEND": "both"})
    assert str(config) in message
    assert "profile 'dev'" in message
    assert "send (set by KEYBEARER_SEND)" in message


def test_an_unknown_setting_is_named(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write_profile(path, "default", {"user_pool_id": POOL, "client_id": CLIENT, "pool": "x"})
    message = _error(path, "default")
    assert "profile 'default'" in message
    assert "pool: is not a setting keybearer knows" in message


def test_a_wrong_type_is_named(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write_profile(path, "default", {"user_pool_id": POOL, "client_id": CLIENT, "timeout": "soon"})
    assert "timeout:" in _error(path, "default")


def test_plain_http_to_another_host_is_refused_for_the_api(config: Path) -> None:
    message = _error(config, "dev", {"KEYBEARER_API_URL": "http://api.example.test/"})
    assert "api_url (set by KEYBEARER_API_URL)" in message
    assert "https" in message


def test_a_client_secret_in_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[profiles.default]\nuser_pool_id = "{POOL}"\nclient_id = "{CLIENT}"\n'
        'client_secret = "s3cr3t-value"\n'
    )
    message = _error(path, "default")
    assert "client_secret must not be in the config file" in message
    assert "s3cr3t-value" not in message


def test_a_missing_profile_says_how_to_create_it(config: Path) -> None:
    message = _error(config, "prod")
    assert f"profile 'prod' in {config}" in message
    assert "keybearer configure --profile prod" in message


def test_a_missing_client_id_is_named(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write_profile(path, "default", {"user_pool_id": POOL})
    assert "client_id: is not set" in _error(path, "default")


def test_pool_and_issuer_together_are_refused(config: Path) -> None:
    message = _error(config, "dev", {"KEYBEARER_ISSUER": "https://login.example.test"})
    assert "issuer (set by KEYBEARER_ISSUER)" in message
    assert "not both" in message


def test_cognito_settings_are_refused_for_an_oidc_profile(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write_profile(
        path,
        "okta",
        {"issuer": "https://login.example.test", "client_id": "abc", "idp_url": "https://x.test"},
    )
    assert "idp_url: applies to Cognito user pools only" in _error(path, "okta")


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[profiles.default\nclient_id = 1\n")
    with pytest.raises(ConfigurationError, match="is not valid TOML") as caught:
        read_config(path)
    assert str(path) in str(caught.value)


def test_the_aws_style_profile_header_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profile.dev]\nclient_id = "x"\n')
    with pytest.raises(ConfigurationError, match=r"\[profiles\.<name>\]"):
        read_config(path)


# -- writing the file --


def test_writing_a_profile_keeps_comments_and_other_profiles(config: Path) -> None:
    write_profile(config, "default", {"user_pool_id": POOL, "client_id": "newclient"})
    text = config.read_text()
    assert text.startswith("# my profiles\n")
    assert "# the dev pool\n[profiles.dev]" in text
    data = read_config(config).profiles
    assert data["default"] == {"user_pool_id": POOL, "client_id": "newclient"}
    assert data["dev"]["send"] == "access"


def test_a_new_setting_goes_into_its_table_not_under_the_next_tables_comment(
    config: Path,
) -> None:
    values = {"user_pool_id": POOL, "client_id": CLIENT, "send": "access"}
    write_profile(config, "default", values)
    text = config.read_text()
    assert 'send = "access"\n\n# the dev pool\n[profiles.dev]' in text
    assert read_config(config).profiles["default"] == values


def test_writing_round_trips_awkward_strings(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    values = {
        "username": 'quote " backslash \\ tab \t newline \n bell \x07 é ☃',
        "scopes": ["openid", "a/b"],
        "confidential": True,
        "timeout": 12.5,
    }
    write_profile(path, "odd-name_1", values)
    assert read_config(path).profiles["odd-name_1"] == values


def test_removing_a_profile_keeps_the_others(config: Path) -> None:
    write_profile(config, "dev", None)
    profiles = read_config(config).profiles
    assert list(profiles) == ["default"]
    assert "# my profiles" in config.read_text()


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_a_new_config_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    write_profile(path, "default", {"user_pool_id": POOL, "client_id": CLIENT})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


# -- stores --


def test_store_specs(tmp_path: Path) -> None:
    assert open_store("memory") is open_store("memory")  # one per process
    file_store = open_store("file:tokens.json", relative_to=tmp_path)
    assert isinstance(file_store, keybearer.FileStore)
    assert file_store.path == (tmp_path / "tokens.json").resolve()
    keyring_store = open_store("keyring:my-service")
    assert isinstance(keyring_store, keybearer.KeyringStore)
    assert keyring_store.service == "my-service"
    with pytest.raises(ConfigurationError, match="file:PATH"):
        open_store("vault")


def test_a_file_store_named_in_the_file_is_relative_to_the_file(config: Path) -> None:
    write_profile(
        config, "default", {"user_pool_id": POOL, "client_id": CLIENT, "store": "file:t.json"}
    )
    store = resolve_profile("default", config_path=config, environ={}).store()
    assert isinstance(store, keybearer.FileStore)
    assert store.path == (config.parent / "t.json").resolve()


def test_settings_model_rejects_a_bad_store_spec() -> None:
    with pytest.raises(ValueError, match="file:PATH"):
        ProfileSettings(store="s3://bucket")


# -- the client a profile builds --


@pytest.fixture
def local_config(
    tmp_path: Path, cognito: LocalCognito, pool: Pool, public_client: AppClient
) -> Path:
    path = tmp_path / "config.toml"
    common = {
        "user_pool_id": pool.id,
        "client_id": public_client.id,
        "idp_url": cognito.url,
        "jwks_url": pool.jwks_url,
    }
    write_profile(path, "a", common)
    write_profile(path, "b", common)
    return path


def test_client_from_profile_builds_the_clients_config(config: Path) -> None:
    store = keybearer.MemoryStore()
    client = client_from_profile("dev", config_path=config, store=store, environ={})
    assert client.config.client_id == CLIENT
    assert client.config.send == "access"
    assert client.config.profile == "dev"
    assert client.config.scopes == ("openid", "https://api.example.test/read")
    assert client.config.store_key.endswith(":dev")


def test_the_api_url_host_may_receive_the_token(config: Path) -> None:
    client = client_from_profile("default", config_path=config, store=keybearer.MemoryStore())
    assert "api.example.test" in repr(client.auth)


def test_two_profiles_of_one_pool_never_share_a_session(
    local_config: Path, person: Person, tmp_path: Path
) -> None:
    store = keybearer.FileStore(tmp_path / "tokens.json")
    a = client_from_profile("a", config_path=local_config, store=store, environ={})
    b = client_from_profile("b", config_path=local_config, store=store, environ={})
    a.login_password(person.username, person.password)
    assert a.tokens is not None
    assert b.tokens is None
    assert a.config.store_key != b.config.store_key


def test_a_confidential_profile_reads_its_secret_from_the_store(
    tmp_path: Path, cognito: LocalCognito, pool: Pool, secret_client: AppClient, person: Person
) -> None:
    assert secret_client.secret is not None
    path = tmp_path / "config.toml"
    values = {
        "user_pool_id": pool.id,
        "client_id": secret_client.id,
        "confidential": True,
        "idp_url": cognito.url,
    }
    write_profile(path, "conf", values)
    store = keybearer.FileStore(tmp_path / "tokens.json")

    with pytest.raises(ConfigurationError, match="none is stored") as caught:
        client_from_profile("conf", config_path=path, store=store, environ={})
    assert "profile 'conf'" in str(caught.value)

    store.save(secret_key("conf", secret_client.id), secret_client.secret)
    client = client_from_profile("conf", config_path=path, store=store, environ={})
    client.login_password(person.username, person.password)
    client.refresh()  # moto checks SECRET_HASH on refresh: the secret was used
    assert secret_client.secret not in path.read_text()


def test_the_secret_from_the_environment_wins(
    tmp_path: Path, cognito: LocalCognito, pool: Pool, secret_client: AppClient, person: Person
) -> None:
    assert secret_client.secret is not None
    path = tmp_path / "config.toml"
    write_profile(
        path,
        "conf",
        {"user_pool_id": pool.id, "client_id": secret_client.id, "idp_url": cognito.url},
    )
    env = {"KEYBEARER_CLIENT_SECRET": secret_client.secret}
    client = client_from_profile(
        "conf", config_path=path, store=keybearer.MemoryStore(), environ=env
    )
    client.login_password(person.username, person.password)
    client.refresh()


def test_oauthclient_from_profile_is_client_from_profile(config: Path) -> None:
    store = keybearer.MemoryStore()
    made = keybearer.OAuthClient.from_profile("dev", config_path=config, store=store, environ={})
    expected = client_from_profile("dev", config_path=config, store=store, environ={})
    assert made.config == expected.config
