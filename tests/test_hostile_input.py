"""Hostile input, property-based: whatever comes in, only a typed keybearer error comes out.

Every property runs ``KEYBEARER_FUZZ_EXAMPLES`` examples (default 1,000; raise
it for a deeper run) with hypothesis, over:

- the redirect / paste-back parser, alone and through ``complete_login``;
- token-endpoint answers (code exchange and refresh);
- cognito-idp answers (``InitiateAuth``, ``RespondToAuthChallenge``, refresh),
  including the challenges they may carry;
- JWT header and claims decoding, unverified (``_jwt``, ``TokenSet``, the 401
  diagnosis) and verified (``keybearer.verify``, with garbage and with
  correctly signed tokens carrying arbitrary claims);
- the keyring's split/join over a size-limited backend: round trips, and
  corruption or an interrupted save never yield a wrong value;
- configuration values (``OAuthClient.cognito`` / ``oidc`` with arbitrary
  strings and numbers) and the username and password passed to a login.

"Typed" means an instance of ``keybearer.errors.KeybearerError``. A value that
comes back must be usable: a ``TokenSet`` has a finite expiry and a repr, a
challenge answers or refuses with a typed error.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

import keybearer
from cognito_shapes import CLIENT, ISSUER, POOL, SigningKey, auth_result, fake_jwt
from keybearer import errors
from keybearer._challenges import Challenge, _Answers
from keybearer._config import CognitoConfig
from keybearer._diagnose import diagnose
from keybearer._jose.unverified import unverified_claims
from keybearer._protocol import cognito_idp as idp
from keybearer._protocol import oauth
from keybearer._signin.redirect import Redirect, parse_redirect
from keybearer._tokens import is_text
from keybearer.stores.keyring import KeyringStore
from keybearer.verify import CognitoVerifier, JwtVerifier

EXAMPLES = int(os.environ.get("KEYBEARER_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)

DOMAIN = "https://myapp.auth.us-east-1.amazoncognito.com"
REDIRECT = "http://localhost:8765/callback"
NOW = 1_700_000_000.0

# -- strategies ----------------------------------------------------------------------------

#: Any text at all: astral characters, lone surrogates, controls, NUL.
anything = st.text(st.characters(exclude_categories=()), max_size=30)
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
#: Numbers a provider might put where seconds belong.
odd_numbers = st.sampled_from(
    [0, -1, 1, 3600, 1e12, 1e300, 1e400, float("nan"), float("-inf"), 10**400, True, 2**63]
)
odd_number_strings = st.sampled_from(
    ["3600", "²", "٣٦٠٠", "9" * 5000, "1e3", " 60", "0x10", "-5", "", "NaN", "Infinity"]
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), anything, odd_numbers
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(anything, inner, max_size=3),
    max_leaves=6,
)
seconds = st.one_of(
    odd_numbers, odd_number_strings, st.integers(-5, 10**9), st.floats(), json_values
)
#: Access tokens that pass the "non-empty string" check, mostly.
access_tokens = st.one_of(
    st.just(fake_jwt({"sub": "s", "username": "u"})),
    st.just("opaque-access-token-0123456789"),
    anything,
    json_values,
)
#: Mostly 200, so that answers get past the status check and into the parsing.
statuses = st.one_of(
    st.just(200),
    st.just(200),
    st.just(200),
    st.sampled_from([400, 401, 403, 429, 500, 503]),
    st.integers(100, 599),
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


@st.composite
def bodies(draw: st.DrawFn, shape: st.SearchStrategy[Any]) -> bytes:
    """Mostly JSON of the expected shape; sometimes any JSON, sometimes any bytes."""
    kind = draw(st.sampled_from(["shape", "shape", "shape", "json", "bytes", "cut"]))
    if kind == "shape":
        return _dumps(draw(shape))
    if kind == "json":
        return _dumps(draw(json_values))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    text = _dumps(draw(shape))
    return text[: draw(st.integers(0, len(text)))]


token_answers = st.fixed_dictionaries(
    {},
    optional={
        "access_token": access_tokens,
        "token_type": st.one_of(st.sampled_from(["Bearer", "bearer", "mac", "DPoP"]), json_values),
        "expires_in": seconds,
        "id_token": st.one_of(anything, json_values),
        "refresh_token": st.one_of(anything, json_values),
        "scope": st.one_of(anything, json_values),
        "error": st.one_of(
            st.sampled_from(["invalid_grant", "invalid_client", "invalid_request", "slow_down"]),
            json_values,
        ),
        "error_description": st.one_of(anything, json_values),
    },
)

authentication_results = st.fixed_dictionaries(
    {},
    optional={
        "AccessToken": access_tokens,
        "IdToken": st.one_of(anything, json_values),
        "RefreshToken": st.one_of(anything, json_values),
        "ExpiresIn": seconds,
        "TokenType": st.one_of(anything, json_values),
    },
)
challenge_names = st.one_of(
    st.sampled_from(
        [
            "NEW_PASSWORD_REQUIRED",
            "SOFTWARE_TOKEN_MFA",
            "SMS_MFA",
            "EMAIL_OTP",
            "SMS_OTP",
            "SELECT_MFA_TYPE",
            "MFA_SETUP",
            "CUSTOM_CHALLENGE",
            "PASSWORD_VERIFIER",
        ]
    ),
    json_values,
)
cognito_answers = st.fixed_dictionaries(
    {},
    optional={
        "AuthenticationResult": st.one_of(authentication_results, json_values),
        "ChallengeName": challenge_names,
        "Session": st.one_of(anything, json_values),
        "ChallengeParameters": st.one_of(
            st.dictionaries(
                st.sampled_from(
                    [
                        "USERNAME",
                        "USER_ID_FOR_SRP",
                        "requiredAttributes",
                        "MFAS_CAN_CHOOSE",
                        "MFAS_CAN_SETUP",
                        "CODE_DELIVERY_DESTINATION",
                    ]
                )
                | anything,
                st.one_of(anything, json_values, st.just('["userAttributes.email"]')),
                max_size=3,
            ),
            json_values,
        ),
        "AvailableChallenges": json_values,
        "__type": st.one_of(
            st.sampled_from(
                [
                    "NotAuthorizedException",
                    "TooManyRequestsException",
                    "com.amazonaws#UserNotFoundException",
                    "RefreshTokenReuseException",
                ]
            ),
            json_values,
        ),
        "message": st.one_of(anything, json_values),
        "code": json_values,
    },
)


def response(status: int, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=content,
        headers=headers or {},
        request=httpx.Request("POST", "https://provider.example.test/"),
    )


def replayed(answer: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(answer))


# -- what a returned value must be -------------------------------------------------------


def outcome(call: Callable[[], Any]) -> Any:
    """What ``call`` returns, or the typed error it raises (anything else propagates)."""
    try:
        return call()
    except errors.KeybearerError as exc:
        return exc


def check_tokens(tokens: keybearer.TokenSet, *, received: bool = True) -> None:
    """A TokenSet that came back is fit to use, show and store (and send, if received)."""
    assert math.isfinite(tokens.expires_at)
    shown = repr(tokens) + str(tokens) + tokens._repr_html_()
    access = tokens.access_token.get_secret_value()
    # Only the last four characters may show. (Short values are skipped: hypothesis
    # also tries the words of the repr itself, "access_token", as tokens.)
    assert len(access) < 40 or access[:-4] not in shown
    assert keybearer.TokenSet.from_json(tokens.to_json()) == tokens
    if not received:
        return
    # It can be sent: in an Authorization header, and (refresh token) in a form.
    for token in (tokens.access_token, tokens.id_token):
        if token is not None:
            httpx.Request(
                "GET",
                "https://api.example.test/",
                headers={"Authorization": token.get_secret_value()},
            )
    if tokens.refresh_token is not None:
        urlencode({"refresh_token": tokens.refresh_token.get_secret_value()})
    # Reading what is derived from the (unverified) claims must not raise either.
    _ = (tokens.sub, tokens.scopes, tokens.username, tokens.id_claims, tokens.access_claims)


def check_challenge(challenge: Challenge) -> None:
    session = challenge.session.get_secret_value()
    assert len(session) < 40 or session not in repr(challenge)
    answers = _Answers(
        code="123456",
        new_password="New-Password-1",
        attributes={"email": "a@example.test"},
        mfa="SOFTWARE_TOKEN_MFA",
        answer="42",
        responses={"ANSWER": "x"},
    )
    with contextlib.suppress(errors.KeybearerError):
        assert isinstance(challenge.answer(answers), dict)


# -- the redirect / paste-back parser -----------------------------------------------------

redirect_keys = st.one_of(
    st.sampled_from(
        [
            "code",
            "state",
            "error",
            "error_description",
            "access_token",
            "id_token",
            "expires_in",
            "token_type",
            "iss",
        ]
    ),
    anything,
)
redirect_values = st.one_of(anything, odd_number_strings, st.just("abc"))


@st.composite
def pasted_redirects(draw: st.DrawFn) -> str:
    """Things a person might paste: whole URLs, bare queries and fragments, with junk."""
    from urllib.parse import quote

    def enc(text: str) -> str:
        return quote(text, safe="", errors="surrogatepass")

    def part() -> str:
        pairs = draw(st.lists(st.tuples(redirect_keys, redirect_values), max_size=8))
        encode = draw(st.booleans())
        return "&".join(f"{enc(k) if encode else k}={enc(v) if encode else v}" for k, v in pairs)

    query, fragment = part(), part()
    base = draw(
        st.sampled_from(
            [REDIRECT, "http://127.0.0.1:0/cb", "https://app.example.test/cb", "", "x://", "?", "#"]
        )
        | anything
    )
    text = base
    if draw(st.booleans()):
        text += "?" + query
    if draw(st.booleans()):
        text += "#" + fragment
    wrap = draw(st.sampled_from(["", " ", "'", '"', "<", "\n", "\t"]))
    return wrap + text + wrap[::-1]


@FUZZ
@given(st.one_of(anything, pasted_redirects()))
@example(f"{REDIRECT}?code=\ud800&state=s")  # a lone surrogate cannot be sent on
def test_the_redirect_parser_returns_a_redirect_or_a_typed_error(pasted: str) -> None:
    redirect = outcome(lambda: parse_redirect(pasted))
    if isinstance(redirect, errors.KeybearerError):
        assert isinstance(redirect, (errors.ProtocolError, errors.LoginError))
        assert len(str(redirect)) < 1000
        return
    assert isinstance(redirect, Redirect)
    assert redirect.code or redirect.is_implicit
    for value in (redirect.code, redirect.state, redirect.access_token, redirect.id_token):
        if value is not None:
            value.encode("utf-8")  # what it returns can be sent on
    shown = repr(redirect)
    for secret in (redirect.code, redirect.access_token, redirect.id_token):
        assert not secret or len(secret) < 40 or secret not in shown
    if redirect.expires_in is not None:
        assert math.isfinite(redirect.expires_in)
        assert redirect.expires_in > 0


@pytest.fixture(scope="module")
def paste_back() -> Iterator[tuple[keybearer.OAuthClient, dict[str, Any]]]:
    """A Cognito client with a domain; its provider answers whatever the example says."""
    plan: dict[str, Any] = {"status": 200, "content": b"{}"}

    def answer(request: httpx.Request) -> httpx.Response:
        plan["calls"] = plan.get("calls", 0) + 1
        return httpx.Response(plan["status"], content=plan["content"])

    client = keybearer.OAuthClient.cognito(
        POOL,
        CLIENT,
        domain=DOMAIN,
        redirect_uri=REDIRECT,
        store=keybearer.MemoryStore(),
    )
    client._session._sync_http = replayed(answer)
    yield client, plan
    client.close()


@FUZZ
@given(
    pasted=st.one_of(anything, pasted_redirects()),
    keep_state=st.sampled_from(["none", "real", "real-twice", "foreign"]),
    status=statuses,
    content=bodies(token_answers),
)
@example(pasted="\ud800", keep_state="real", status=400, content=b'{"error": "invalid_grant"}')
def test_complete_login_takes_any_paste(
    paste_back: tuple[keybearer.OAuthClient, dict[str, Any]],
    pasted: str,
    keep_state: str,
    status: int,
    content: bytes,
) -> None:
    client, plan = paste_back
    plan.update(status=status, content=content)
    state = httpx.URL(client.authorization_url()).params["state"]
    if keep_state == "real":
        pasted = f"{REDIRECT}?code={pasted[:20]!s}&state={state}"
    elif keep_state == "real-twice":
        pasted = f"{REDIRECT}?code=c&state={state}&state={state}"
    elif keep_state == "foreign":
        pasted = f"{REDIRECT}#access_token={pasted[:30]}&state={state}&expires_in=60"
    client._session.cache.drop()
    try:
        tokens = client.complete_login(pasted)
    except errors.KeybearerError:
        assert client._session.cache.tokens is None  # nothing half-stored
        return
    check_tokens(tokens)


# -- token-endpoint answers ---------------------------------------------------------------

ENDPOINTS = oauth.Endpoints(
    issuer=ISSUER,
    authorization=f"{DOMAIN}/oauth2/authorize",
    token=f"{DOMAIN}/oauth2/token",
    jwks=f"{ISSUER}/.well-known/jwks.json",
    revocation=f"{DOMAIN}/oauth2/revoke",
    userinfo=f"{DOMAIN}/oauth2/userInfo",
)
OAUTH_CLIENT = oauth.OAuthClientInfo(CLIENT, "secret", "client_secret_basic", 5.0)
PREVIOUS = keybearer.TokenSet(
    access_token=fake_jwt({"sub": "s"}),
    id_token=fake_jwt({"sub": "s", "cognito:username": "u"}),
    refresh_token="previous-refresh-" + "r" * 30,
    expires_at=NOW - 10,
    obtained_at=NOW - 3610,
    origin="hosted_ui",
)


def answered(flow: Any, status: int, content: bytes, headers: dict[str, str] | None = None) -> Any:
    """Drive a one-request flow with the given answer."""
    next(flow)
    try:
        flow.send(response(status, content, headers))
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the flow asked for a second request")


@FUZZ
@given(
    status=statuses,
    content=bodies(token_answers),
    refreshing=st.booleans(),
    retry_after=st.none() | header_text,
)
@example(
    status=200,
    content=b'{"access_token": "\\u20ac", "refresh_token": "r"}',
    refreshing=False,
    retry_after=None,
)  # a token no header can carry
@example(
    status=200,
    content=b'{"access_token": "a", "refresh_token": "\\ud800"}',
    refreshing=True,
    retry_after=None,
)  # a refresh token no form can carry
@example(
    status=200,
    content=b'{"access_token": "a", "expires_in": "\xc2\xb2"}',
    refreshing=False,
    retry_after=None,
)  # "²": str.isdigit() says yes, int() says no
@example(
    status=200,
    content=b'{"access_token": "a", "expires_in": 1e400}',
    refreshing=True,
    retry_after=None,
)  # infinity: the TokenSet cannot be shown
@example(
    status=200,
    content=b'{"access_token": "a", "expires_in": NaN}',
    refreshing=False,
    retry_after=None,
)  # NaN: never fresh, every request would refresh
@example(status=429, content=b"{}", refreshing=False, retry_after="NaN")  # time.sleep(nan)
@example(
    status=200,
    content=b'{"access_token": "a", "expires_in": 1e-300}',
    refreshing=False,
    retry_after=None,
)  # expired on arrival: a refresh per request
@example(
    status=200,
    content=b'{"access_token": "a", "expires_in": 1e12}',
    refreshing=False,
    retry_after=None,
)  # year 33,700
@example(
    status=200,
    content=b'{"access_token": "a", "expires_in": 1' + b"0" * 400 + b"}",
    refreshing=False,
    retry_after=None,
)  # an int too large for a float
def test_token_endpoint_answers_give_tokens_or_a_typed_error(
    status: int, content: bytes, refreshing: bool, retry_after: str | None
) -> None:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    if refreshing:
        flow = oauth.refresh(ENDPOINTS, OAUTH_CLIENT, PREVIOUS, lambda: NOW)
    else:
        flow = oauth.exchange_code(
            ENDPOINTS,
            OAUTH_CLIENT,
            code="c",
            verifier="v" * 43,
            redirect_uri=REDIRECT,
            clock=lambda: NOW,
        )
    tokens = outcome(lambda: answered(flow, status, content, headers))
    if isinstance(tokens, errors.KeybearerError):
        assert str(tokens)
        if isinstance(tokens, errors.ThrottledError) and tokens.retry_after is not None:
            assert 0 <= tokens.retry_after < math.inf  # a wait an app can sleep on
        return
    assert status == 200
    check_tokens(tokens)
    assert tokens.expires_at > NOW


@FUZZ
@given(status=statuses, content=bodies(json_values))
def test_discovery_userinfo_and_revoke_answers_are_typed(status: int, content: bytes) -> None:
    tokens = PREVIOUS
    for flow in (
        oauth.discover(ISSUER, 5.0),
        oauth.userinfo(ENDPOINTS, tokens, 5.0),
        oauth.revoke(ENDPOINTS, OAUTH_CLIENT, tokens),
    ):
        with contextlib.suppress(errors.KeybearerError):
            answered(flow, status, content)


# -- cognito-idp answers --------------------------------------------------------------------

COGNITO = CognitoConfig.model_validate(
    {"user_pool_id": POOL, "client_id": CLIENT, "client_secret": "s3cr3t"}
)


@FUZZ
@given(
    status=statuses,
    content=bodies(cognito_answers),
    error_type=st.none() | header_text,
    purpose=st.sampled_from(list(idp.Purpose)),
    retry_after=st.none() | header_text | st.sampled_from(["inf", "-5", "NaN", "1e400"]),
)
@example(
    status=200,
    content=b'{"AuthenticationResult": {"AccessToken": "a", "ExpiresIn": 1e300}}',
    error_type=None,
    purpose=idp.Purpose.LOGIN,
    retry_after=None,
)
@example(
    status=200,
    content=b'{"AuthenticationResult": {"AccessToken": "a", "ExpiresIn": NaN}}',
    error_type=None,
    purpose=idp.Purpose.REFRESH,
    retry_after=None,
)
@example(
    status=400,
    content=b'{"__type": "TooManyRequestsException"}',
    error_type=None,
    purpose=idp.Purpose.LOGIN,
    retry_after="inf",
)  # time.sleep(inf)
def test_cognito_answers_give_tokens_a_challenge_or_a_typed_error(
    status: int,
    content: bytes,
    error_type: str | None,
    purpose: idp.Purpose,
    retry_after: str | None,
) -> None:
    headers = {"x-amzn-ErrorType": error_type} if error_type is not None else {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    answer = response(status, content, headers)

    def parsed() -> Any:
        body = idp.parse(answer, purpose, secrets=("previous-refresh",))
        if purpose is idp.Purpose.REFRESH:
            return idp.tokens_from_result(
                body.get("AuthenticationResult"), config=COGNITO, now=NOW, previous=PREVIOUS
            )
        return idp.outcome(body, config=COGNITO, username="alice", now=NOW)

    result = outcome(parsed)
    if isinstance(result, errors.KeybearerError):
        assert "previous-refresh" not in str(result)
        if isinstance(result, errors.ThrottledError) and result.retry_after is not None:
            assert 0 <= result.retry_after < math.inf
        return
    if isinstance(result, keybearer.TokenSet):
        check_tokens(result)
        assert result.expires_at > NOW
    else:
        assert isinstance(result, Challenge)
        check_challenge(result)


@FUZZ
@given(content=bodies(cognito_answers), status=statuses)
def test_the_password_and_challenge_flows_take_any_answer(content: bytes, status: int) -> None:
    from keybearer._protocol import cognito_password as password

    challenge = keybearer.SoftwareTokenMfa(
        name="SOFTWARE_TOKEN_MFA", session=_secret("s" * 20), username="alice"
    )
    for flow in (
        password.login(COGNITO, "alice", "pw", lambda: NOW),
        password.respond(COGNITO, challenge, _Answers(code="123456"), lambda: NOW),
    ):
        try:
            result = answered(flow, status, content).result  # a Step: the result, device news
        except errors.KeybearerError:
            continue
        if isinstance(result, keybearer.TokenSet):
            check_tokens(result)
        else:
            check_challenge(result)


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


# -- JWTs: unverified claims, the 401 diagnosis, verification -------------------------------


@st.composite
def jwt_like(draw: st.DrawFn) -> str:
    """Three dot-separated parts, each base64url of JSON, of bytes, or not base64 at all."""

    def segment() -> str:
        kind = draw(st.sampled_from(["json", "bytes", "text"]))
        if kind == "json":
            return b64(_dumps(draw(json_values)))
        if kind == "bytes":
            return b64(draw(st.binary(max_size=60)))
        return draw(anything)

    parts = [segment() for _ in range(draw(st.sampled_from([3, 3, 3, 1, 2, 4])))]
    return ".".join(parts)


@FUZZ
@given(st.one_of(anything, jwt_like()), st.one_of(anything, jwt_like()), statuses)
def test_unverified_claims_never_raise(token: str, other: str, status: int) -> None:
    claims = unverified_claims(token)
    assert isinstance(claims, dict)
    assume(token)
    tokens = keybearer.TokenSet(
        access_token=token, id_token=other or None, expires_at=NOW + 60, obtained_at=NOW
    )
    check_tokens(tokens, received=False)  # made here, not received: only shown and stored
    refused = response(
        status if status in (401, 403) else 401,
        _dumps({"message": other}),
        {"www-authenticate": "Bearer error=invalid_token", "date": "not a date"},
    )
    # A twin with other tokens and the same (unverified) claims must be explained in
    # the same words: the diagnosis depends on the claims, never on the token itself.
    twin = tokens.model_copy(
        update={
            "access_token": _secret("twin-access"),
            "id_token": _secret("twin-id") if tokens.id_token is not None else None,
        }
    )
    twin.__dict__.update(access_claims=tokens.access_claims, id_claims=tokens.id_claims)
    for send in ("id", "access"):
        shown = str(diagnose(refused, tokens, send=send, scheme="Bearer", now=NOW, refreshed=True))
        same = str(diagnose(refused, twin, send=send, scheme="Bearer", now=NOW, refreshed=True))
        assert shown == same


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey()


@pytest.fixture(scope="module")
def verifiers(signing_key: SigningKey) -> Iterator[tuple[JwtVerifier, CognitoVerifier]]:
    jwks = signing_key.jwks()
    http = replayed(lambda request: httpx.Response(200, json=jwks))
    generic = JwtVerifier(ISSUER, f"{ISSUER}/.well-known/jwks.json", audiences=[CLIENT], http=http)
    cognito = CognitoVerifier(POOL, [CLIENT], http=http)
    yield generic, cognito
    http.close()


verify_arguments = st.fixed_dictionaries(
    {},
    optional={
        "token_use": st.one_of(st.sampled_from(["id", "access"]), anything),
        "nonce": anything,
        "required_scopes": st.one_of(anything, st.lists(anything, max_size=3)),
    },
)


@FUZZ
@given(st.one_of(anything, jwt_like()), verify_arguments)
def test_verify_refuses_garbage_with_a_typed_error(
    verifiers: tuple[JwtVerifier, CognitoVerifier], token: str, arguments: dict[str, Any]
) -> None:
    for verifier in verifiers:
        with pytest.raises(errors.KeybearerError):
            verifier.verify(token, **arguments)


times = st.one_of(
    st.integers(int(time.time()) - 100, int(time.time()) + 7200), seconds, st.floats()
)
claim_sets = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.one_of(st.just(ISSUER), json_values),
        "aud": st.one_of(st.just(CLIENT), st.just([CLIENT, "x"]), json_values),
        "client_id": st.one_of(st.just(CLIENT), json_values),
        "exp": times,
        "nbf": times,
        "iat": times,
        "nonce": anything,
        "scope": st.one_of(anything, st.lists(anything, max_size=3), json_values),
        "token_use": st.one_of(st.sampled_from(["id", "access"]), json_values),
        "cognito:groups": json_values,
        "username": json_values,
        "sub": json_values,
    },
)


@FUZZ
@given(claims=claim_sets, arguments=verify_arguments, method_scopes=st.lists(anything, max_size=3))
@example(
    claims={"iss": ISSUER, "aud": CLIENT, "exp": int(time.time()) + 600, "nonce": "\ud800"},
    arguments={"nonce": "n"},
    method_scopes=[],
)
def test_verify_takes_signed_tokens_with_any_claims(
    signing_key: SigningKey,
    verifiers: tuple[JwtVerifier, CognitoVerifier],
    claims: dict[str, Any],
    arguments: dict[str, Any],
    method_scopes: list[str],
) -> None:
    try:
        token = signing_key.sign(claims)
    except (ValueError, UnicodeEncodeError):
        # json.dumps refuses nothing here, but utf-8 refuses lone surrogates: a real
        # issuer escapes them (\ud800), which the escaped form below covers.
        token = _sign_escaped(signing_key, claims)
    generic, cognito = verifiers
    for verifier in (generic, cognito):
        try:
            verified = verifier.verify(token, **arguments)
        except errors.KeybearerError:
            continue
        assert isinstance(verified, dict)
    with contextlib.suppress(errors.KeybearerError):
        cognito.authorize(token, method_scopes)


def _sign_escaped(key: SigningKey, claims: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = b64(json.dumps({"kid": key.kid, "alg": "RS256"}).encode())
    payload = b64(json.dumps(claims).encode())  # ensure_ascii: surrogates become \udXXX
    signing_input = f"{header}.{payload}".encode()
    signature = key._key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{b64(signature)}"


# -- the keyring's split/join ----------------------------------------------------------------


class LimitedKeyring(KeyringBackend):
    """In memory, refusing entries over ``max_units`` UTF-16 code units (Windows' rule)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, max_units: int, entries: dict[tuple[str, str], str] | None = None) -> None:
        super().__init__()
        self.max_units = max_units
        self.entries = entries if entries is not None else {}
        self.crash_after: int | None = None

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        units = len(password.encode("utf-16-le", "surrogatepass")) // 2
        if units > self.max_units:
            raise OSError(1783, "CredWrite: the stub received bad data")
        if self.crash_after is not None:
            if self.crash_after == 0:
                raise KeyboardInterrupt  # the process dies mid-save
            self.crash_after -= 1
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


SERVICE = "keybearer-fuzz"
KEY = "cognito:us-east-1_Fuzz:client:default"
values = st.text(st.characters(exclude_categories=()), max_size=3000)


@FUZZ
@given(first=values, second=values, limit=st.integers(128, 700))
def test_split_values_round_trip_over_a_size_limited_keyring(
    first: str, second: str, limit: int
) -> None:
    backend = LimitedKeyring(limit)
    store = KeyringStore(SERVICE, backend=backend, max_entry_chars=limit)
    store.save(KEY, first)
    assert store.load(KEY) == first
    store.save(KEY, second)  # longer or shorter: no stale chunk may survive
    assert store.load(KEY) == second
    assert all(name == KEY or name.startswith(KEY + "#") for (_, name) in backend.entries)
    store.delete(KEY)
    assert backend.entries == {}


corruptions = st.sampled_from(
    ["delete", "replace", "truncate", "append", "swap", "digest", "count-", "count+", "empty"]
)


def corrupt(
    entries: dict[tuple[str, str], str],
    how: str,
    target: int,
    junk: str,
    head_too: bool,
    key: str = KEY,
) -> None:
    """Damage one entry of a split value (a chunk, or the head's manifest)."""
    KEY = key
    names = sorted(name for (_, name) in entries)
    chunks = [n for n in names if n != KEY]
    name = KEY if head_too or not chunks else chunks[target % len(chunks)]
    if (SERVICE, name) not in entries:
        return
    value = entries[(SERVICE, name)]
    marker = "keybearer-split:v1:"
    if name == KEY:
        # A head that is not a manifest is, by design, a plain value: damage only
        # what follows the marker (an entry is written whole or not at all).
        rest = value[len(marker) :]
        if how == "delete":
            del entries[(SERVICE, name)]
        elif how == "replace":
            entries[(SERVICE, name)] = marker + junk
        elif how == "truncate":
            entries[(SERVICE, name)] = marker + rest[: len(rest) // 2]
        elif how == "append":
            entries[(SERVICE, name)] = value + junk + "x"
        elif how == "digest" and rest:
            entries[(SERVICE, name)] = marker + rest[:-1] + ("0" if rest[-1] != "0" else "1")
        elif how in ("count-", "count+"):
            count, _, digest = rest.partition(":")
            if count.isascii() and count.isdigit():  # "¹" is a digit to isdigit() only
                changed = int(count) + (1 if how == "count+" else -1)
                entries[(SERVICE, name)] = f"{marker}{changed}:{digest}"
        elif how == "empty":
            entries[(SERVICE, name)] = marker
        return
    if how == "delete":
        del entries[(SERVICE, name)]
    elif how == "replace":
        entries[(SERVICE, name)] = junk
    elif how == "truncate":
        entries[(SERVICE, name)] = value[: len(value) // 2]
    elif how == "append":
        entries[(SERVICE, name)] = value + junk + "x"
    elif how == "swap" and len(chunks) > 1:
        a, b = chunks[0], chunks[-1]
        entries[(SERVICE, a)], entries[(SERVICE, b)] = entries[(SERVICE, b)], entries[(SERVICE, a)]
    elif how == "empty":
        entries[(SERVICE, name)] = ""


@FUZZ
@given(
    value=st.text(st.characters(exclude_categories=()), min_size=400, max_size=3000),
    limit=st.integers(128, 300),
    hows=st.lists(corruptions, min_size=1, max_size=3),
    target=st.integers(0, 100),
    junk=anything,
    head_too=st.booleans(),
)
def test_a_corrupted_split_value_loads_as_itself_or_none_never_as_another(
    value: str, limit: int, hows: list[str], target: int, junk: str, head_too: bool
) -> None:
    backend = LimitedKeyring(limit)
    store = KeyringStore(SERVICE, backend=backend, max_entry_chars=limit)
    store.save(KEY, value)
    for how in hows:
        corrupt(backend.entries, how, target, junk, head_too)
    assert store.load(KEY) in (value, None)


@FUZZ
@given(
    old=st.text(st.characters(exclude_categories=()), max_size=2000),
    new=st.text(st.characters(exclude_categories=()), max_size=2000),
    limit=st.integers(128, 300),
    crash_after=st.integers(0, 20),
)
def test_a_save_interrupted_at_any_write_never_loads_a_mix(
    old: str, new: str, limit: int, crash_after: int
) -> None:
    backend = LimitedKeyring(limit)
    store = KeyringStore(SERVICE, backend=backend, max_entry_chars=limit)
    store.save(KEY, old)
    backend.crash_after = crash_after
    with contextlib.suppress(KeyboardInterrupt):
        store.save(KEY, new)
    backend.crash_after = None
    assert store.load(KEY) in (old, new, None)


@FUZZ
@given(
    hows=st.lists(corruptions, min_size=1, max_size=3),
    target=st.integers(0, 100),
    junk=anything,
    head_too=st.booleans(),
    raw_head=st.none() | anything,
)
def test_through_the_client_a_damaged_keyring_entry_is_no_session_never_a_wrong_one(
    hows: list[str], target: int, junk: str, head_too: bool, raw_head: str | None
) -> None:
    entries: dict[tuple[str, str], str] = {}
    writer = KeyringStore(SERVICE, backend=LimitedKeyring(200, entries), max_entry_chars=200)
    client = keybearer.OAuthClient.cognito(POOL, CLIENT, store=writer)
    tokens = tokens_for_store()
    client._session.cache.put(tokens)
    key = client.config.store_key
    assert any(name.startswith(key + "#") for (_, name) in entries)  # it was split
    for how in hows:
        corrupt(entries, how, target, junk, head_too, key)
    if raw_head is not None:
        entries[(SERVICE, key)] = raw_head  # any text at all where the head was
    # A new process: a new backend object over the same entries (and a fresh cache).
    reader = keybearer.OAuthClient.cognito(
        POOL, CLIENT, store=KeyringStore(SERVICE, backend=LimitedKeyring(200, entries))
    )
    assert reader.tokens in (tokens, None)


def tokens_for_store() -> keybearer.TokenSet:
    result = auth_result()["AuthenticationResult"]
    return keybearer.TokenSet(
        access_token=result["AccessToken"],
        id_token=result["IdToken"],
        refresh_token=result["RefreshToken"],
        expires_at=NOW + 3600,
        obtained_at=NOW,
        username="7d8ca528-4931-4254-9273-ea5ee853f271",
    )


# -- configuration values, and what a person types at a login --------------------------------

urls = st.one_of(
    st.sampled_from(
        [
            "https://api.example.test",
            "http://127.0.0.1:8080",
            "http://localhost:99999/cb",
            "http://[::1]:8765/callback",
            "https://a:70000",
            "http://api.example.test",
            "ftp://x",
            "https://",
            "//host/path",
            "https://user:pass@host/x",
            "http://[",
            "https://exa mple.test",
        ]
    ),
    anything.map(lambda s: "https://" + s),
    anything.map(lambda s: "http://localhost:" + s),
    anything,
)
pool_ids = st.one_of(st.just(POOL), st.just("eu-west-1_X1"), anything)
client_ids = st.one_of(st.just(CLIENT), anything)
numbers = st.one_of(st.floats(), st.integers(), odd_numbers)
_VALID: dict[str, Any] = {
    "user_pool_id": POOL,
    "client_id": CLIENT,
    "client_secret": None,
    "domain": DOMAIN,
    "scopes": ["openid"],
    "redirect_uri": REDIRECT,
    "logout_uri": None,
    "api_hosts": [],
    "idp_url": None,
    "issuer": None,
    "jwks_url": None,
    "region": None,
    "profile": "default",
    "send": "id",
    "scheme": "Bearer",
    "token_auth": "client_secret_basic",
    "timeout": 30.0,
    "refresh_ahead": 120.0,
    "base_url": "https://api.example.test",
}


@FUZZ
@given(
    user_pool_id=pool_ids,
    client_id=client_ids,
    client_secret=st.none() | anything,
    domain=st.none() | urls,
    scopes=st.lists(st.one_of(st.just("openid"), anything), max_size=3) | anything,
    redirect_uri=st.none() | urls,
    logout_uri=st.none() | urls,
    api_hosts=st.lists(urls, max_size=3),
    idp_url=st.none() | urls,
    issuer=st.none() | urls,
    jwks_url=st.none() | urls,
    region=st.none() | anything,
    profile=anything,
    send=st.sampled_from(["id", "access"]) | anything,
    scheme=st.none() | st.just("Bearer") | anything,
    token_auth=st.sampled_from(["client_secret_basic", "client_secret_post", "none"]) | anything,
    timeout=st.just(30.0) | numbers,
    refresh_ahead=st.just(120.0) | numbers,
    base_url=urls,
)
@example(**{**_VALID, "api_hosts": ["https://\x1b"]})
@example(**{**_VALID, "api_hosts": ["localhost:\u00b2"]})
@example(**{**_VALID, "client_secret": "\ud800"})
@example(**{**_VALID, "timeout": float("inf")})
def test_cognito_configuration_is_valid_or_a_configuration_error(
    base_url: str, **values: Any
) -> None:
    client = outcome(lambda: keybearer.OAuthClient.cognito(store=keybearer.MemoryStore(), **values))
    if isinstance(client, errors.KeybearerError):
        assert isinstance(client, errors.ConfigurationError)
        return
    exercise(client, base_url)


@FUZZ
@given(
    issuer=urls,
    client_id=anything,
    client_secret=st.none() | anything,
    redirect_uri=st.none() | urls,
    api_hosts=st.lists(urls, max_size=3),
    timeout=numbers,
    base_url=urls,
)
def test_oidc_configuration_is_valid_or_a_configuration_error(base_url: str, **values: Any) -> None:
    client = outcome(lambda: keybearer.OAuthClient.oidc(store=keybearer.MemoryStore(), **values))
    if isinstance(client, errors.KeybearerError):
        assert isinstance(client, errors.ConfigurationError)
        return
    exercise(client, base_url)


def exercise(client: keybearer.OAuthClient, base_url: str) -> None:
    """Use a configuration the way an app would, without a network."""
    repr(client)
    repr(client.config)
    assert client.config.store_key
    client._session._sync_http = replayed(
        lambda request: httpx.Response(200, json=auth_result()["AuthenticationResult"] | {})
    )
    try:
        auth = client.auth
        request = httpx.Request("GET", "https://api.example.test/x")
        next(auth.sync_auth_flow(request))
    except errors.KeybearerError:
        pass
    with contextlib.suppress(errors.KeybearerError):
        client.http(base_url=base_url).close()
    if client.config.redirect_uri is not None and client.config.fixed_endpoints() is not None:
        with contextlib.suppress(errors.KeybearerError):
            assert client.authorization_url().startswith("http")
    if isinstance(client.config, CognitoConfig):
        client._session._sync_http = replayed(
            lambda request: httpx.Response(200, json=auth_result())
        )
        tokens = outcome(lambda: client.login_password("alice", "pw"))
        if isinstance(tokens, keybearer.TokenSet):
            check_tokens(tokens)
    client.close()


@FUZZ
@given(username=anything, password=anything, secret=st.sampled_from([None, "s3cr3t", "é+/=ü"]))
@example(username="\udcff", password="pw", secret="s3cr3t")  # a byte argv could not decode
def test_any_username_and_password_are_sent_or_refused_with_a_typed_error(
    username: str, password: str, secret: str | None
) -> None:
    client = keybearer.OAuthClient.cognito(
        POOL, CLIENT, client_secret=secret, store=keybearer.MemoryStore()
    )
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=auth_result())

    client._session._sync_http = replayed(answer)
    try:
        tokens = client.login_password(username, password)
    except errors.KeybearerError:
        client.close()
        return
    check_tokens(tokens)  # type: ignore[arg-type]
    client.close()


@pytest.mark.parametrize("timeout", [float("inf"), 1e300, 1e20, float("nan"), 0.0, -1.0])
def test_an_absurd_timeout_is_refused_or_still_works(timeout: float) -> None:
    with socket_closed_port() as port:
        try:
            client = keybearer.OAuthClient.cognito(
                POOL,
                CLIENT,
                idp_url=f"http://127.0.0.1:{port}/",
                timeout=timeout,
                store=keybearer.MemoryStore(),
            )
        except errors.ConfigurationError:
            return
        with pytest.raises(errors.NetworkError):
            client.login_password("alice", "pw")
        client.close()


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_a_redirect_uri_port_out_of_range_is_a_configuration_error(port: str) -> None:

    def sign_in() -> None:
        client = keybearer.OAuthClient.cognito(
            POOL,
            CLIENT,
            domain=DOMAIN,
            redirect_uri=f"http://localhost:{port}/callback",
            store=keybearer.MemoryStore(),
        )
        client.login_browser(open_url=lambda url: None, timeout=0.1, paste_fallback=False)

    with pytest.raises(errors.ConfigurationError):  # at construction, or at the latest here
        sign_in()


@contextlib.contextmanager
def socket_closed_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield port


# -- redaction of provider messages (finding 4) ---------------------------------------------

#: Secrets as providers and users make them: random tokens, passwords, odd text.
secrets = st.one_of(
    st.text(st.sampled_from("ABCDEFabcdef0123456789-_.~+/="), min_size=16, max_size=120),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=6, max_size=40),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=4, max_size=40),
)
#: Secrets that cannot occur in keybearer's own words: whatever of one shows was quoted.
marked_secrets = secrets.map(lambda secret: "\u00a7" + secret)


@FUZZ
@given(
    secret=secrets,
    before=anything,
    after=anything,
    limit=st.integers(1, 600),
    spelling=st.sampled_from(["as-is", "url", "json"]),
    padding=st.integers(0, 600),
)
def test_a_quoted_secret_never_survives_redaction_and_clipping(
    secret: str, before: str, after: str, limit: int, spelling: str, padding: int
) -> None:
    from urllib.parse import quote

    from keybearer._redact import FRAGMENT, provider_text

    quoted = {
        "as-is": secret,
        "url": quote(secret, safe=""),
        "json": json.dumps(secret)[1:-1],
    }[spelling]
    text = provider_text("x" * padding + before + quoted + after, [secret], limit=limit)
    assert text is not None
    assert len(text) <= limit
    assume(secret not in before + after)  # text that holds it by itself proves nothing
    assert secret not in text
    if len(secret) >= FRAGMENT:
        for start in range(len(secret) - FRAGMENT + 1):
            assert secret[start : start + FRAGMENT] not in text


@FUZZ
@given(
    password=marked_secrets,
    refresh=marked_secrets,
    client_secret=marked_secrets,
    where=st.sampled_from(["message", "Message", "__type", "header", "split"]),
    status=st.sampled_from([400, 401, 403, 429, 500, 503]),
    padding=st.integers(0, 600),
)
def test_a_cognito_error_quoting_what_was_sent_says_none_of_it(
    password: str, refresh: str, client_secret: str, where: str, status: int, padding: int
) -> None:
    assume(is_text(client_secret) and is_text(password))
    config = CognitoConfig(
        user_pool_id=POOL, client_id=CLIENT, client_secret=client_secret, timeout=5.0
    )
    body = {"AuthParameters": {"USERNAME": "alice", "PASSWORD": password, "REFRESH_TOKEN": refresh}}
    request = idp.request(config, "InitiateAuth", body)
    quoted = "x" * padding + f"{password} {refresh} {client_secret}"
    headers: dict[str, str] = {}
    answer: dict[str, Any] = {"__type": "NotAuthorizedException"}
    if where == "header":
        headers["x-amzn-ErrorType"] = quoted.encode("ascii", "replace").decode()
    elif where == "split":
        half = len(refresh) // 2
        answer = {"__type": refresh[:half], "message": refresh[half:]}
    else:
        answer[where] = quoted
    response = httpx.Response(status, headers=headers, content=_dumps(answer), request=request)
    error = outcome(lambda: idp.parse(response, idp.Purpose.LOGIN))
    assert isinstance(error, errors.KeybearerError)
    said = [str(part) for part in (error, error.args, error.code, error.provider_message)]
    for secret in (password, refresh, client_secret):
        for text in said:
            assert secret not in text
            if len(secret) >= 16:
                assert secret[:16] not in text
                assert secret[-16:] not in text


@FUZZ
@given(
    code=marked_secrets,
    verifier=marked_secrets,
    client_secret=marked_secrets,
    field=st.sampled_from(["error", "error_description"]),
    status=st.sampled_from([400, 401, 403]),
    padding=st.integers(0, 400),
)
def test_a_token_endpoint_error_quoting_what_was_sent_says_none_of_it(
    code: str, verifier: str, client_secret: str, field: str, status: int, padding: int
) -> None:
    assume(all(is_text(value) for value in (code, verifier, client_secret)))
    client = oauth.OAuthClientInfo(CLIENT, client_secret, "client_secret_basic", 5.0)
    flow = oauth.exchange_code(
        ENDPOINTS, client, code=code, verifier=verifier, redirect_uri=REDIRECT, clock=lambda: NOW
    )
    request = next(flow)
    answer = {"error": "invalid_grant", field: "x" * padding + f"{code} {verifier} {client_secret}"}
    with pytest.raises(errors.KeybearerError) as caught:
        flow.send(httpx.Response(status, content=_dumps(answer), request=request))
    error = caught.value
    said = [str(part) for part in (error, error.args, error.code, error.provider_message)]
    for secret in (code, verifier, client_secret):
        for text in said:
            assert secret not in text
            if len(secret) >= 16:
                assert secret[:16] not in text
                assert secret[-16:] not in text


# -- hosts: one form for internationalised names, no *.localhost (findings 8, 11) -----------

labels = st.text(
    st.sampled_from(
        "abcdefghijklmnopqrstuvwxyz0123456789\u00e4\u00f6\u00fc\u00e9\u00df\u4e2d\u6587"
    ),
    min_size=1,
    max_size=12,
)


@FUZZ
@given(label=labels, port=st.none() | st.integers(1, 65535), upper=st.booleans())
def test_an_internationalised_host_matches_in_either_spelling(
    label: str, port: int | None, upper: bool
) -> None:
    from keybearer._io.hosts import HostAllowList

    host = f"{label}.example.test"
    try:
        ascii_host = httpx.URL(f"https://{host}/").raw_host.decode()
    except httpx.InvalidURL:
        assume(False)
    suffix = f":{port}" if port else ""
    url_port = f":{port}" if port else ""
    for entry, requested in ((ascii_host, host), (host, ascii_host)):
        entry = entry.upper() if upper and entry.isascii() else entry
        allowed = HostAllowList([entry + suffix])
        assert allowed.permits(httpx.URL(f"https://{requested}{url_port}/x"))
        assert not allowed.permits(httpx.URL(f"https://other-{ascii_host}{url_port}/x"))


@FUZZ
@given(name=st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,2}", fullmatch=True))
def test_no_name_under_localhost_counts_as_loopback(name: str) -> None:
    from keybearer._io.hosts import HostAllowList
    from keybearer._io.urls import is_loopback_host

    host = f"{name}.localhost"
    assert not is_loopback_host(host)
    assert not HostAllowList([host]).permits(httpx.URL(f"http://{host}:8080/x"))
    with pytest.raises(errors.ConfigurationError):
        keybearer.OAuthClient.cognito(POOL, CLIENT, idp_url=f"http://{host}/")
