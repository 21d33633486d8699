#!/usr/bin/env bash
# A terminal session with the `keybearer` command, start to finish:
#
#   configure a profile -> login -> whoami -> get -> curl with `keybearer token` -> logout
#
# Against your own user pool (an app client allowing USER_PASSWORD_AUTH and
# REFRESH_TOKEN_AUTH, and an API behind a Cognito authorizer):
#
#   export COGNITO_USER_POOL_ID=us-east-1_AbCdEf123 COGNITO_CLIENT_ID=1example23456789
#   export API_URL=https://abc123.execute-api.us-east-1.amazonaws.com/prod
#   export COGNITO_USERNAME=alice
#   bash examples/cli_session.sh                          # asks for the password, hidden
#   printf '%s\n' "$PASSWORD" | bash examples/cli_session.sh    # or reads it from stdin
#
# Optional: API_PATH (default /pets), KEYBEARER_PROFILE (default "example": the
# profile this script writes; your other profiles are left alone), and for a
# local stand-in COGNITO_IDP_URL and COGNITO_JWKS_URL.
#
# Against local stand-ins on 127.0.0.1, as CI runs it (nothing talks to AWS):
#
#   python examples/cli_session_local.py
#
# It prints no token: `keybearer token` is the only command that prints one, and
# here its output goes straight into curl's Authorization header.
set -euo pipefail

: "${COGNITO_USER_POOL_ID:?set COGNITO_USER_POOL_ID, e.g. us-east-1_AbCdEf123}"
: "${COGNITO_CLIENT_ID:?set COGNITO_CLIENT_ID, the app client id}"
: "${API_URL:?set API_URL, e.g. https://abc123.execute-api.us-east-1.amazonaws.com/prod}"
: "${COGNITO_USERNAME:?set COGNITO_USERNAME, the user to sign in}"
API_PATH="${API_PATH:-/pets}"

# Like AWS_PROFILE for the AWS CLI: every keybearer command below uses this profile.
export KEYBEARER_PROFILE="${KEYBEARER_PROFILE:-example}"

# Show each command before running it. Only keybearer commands go through here;
# none of their arguments is a secret.
run() {
    printf '\n$ %s\n' "$*" >&2
    "$@"
}

# 1. Configure the profile once. It is checked (the pool's signing keys are
#    fetched) before it is saved. No secret goes into the file.
configure=(
    keybearer configure
    --user-pool-id "$COGNITO_USER_POOL_ID"
    --client-id "$COGNITO_CLIENT_ID"
    --api-url "$API_URL"
    --username "$COGNITO_USERNAME"
)
if [ -n "${COGNITO_IDP_URL:-}" ]; then configure+=(--idp-url "$COGNITO_IDP_URL"); fi
if [ -n "${COGNITO_JWKS_URL:-}" ]; then configure+=(--jwks-url "$COGNITO_JWKS_URL"); fi
run "${configure[@]}"

# 2. Log in with the profile's username. At a terminal the password prompt never
#    echoes; in a script the password is one line of stdin, never a flag value.
if [ -t 0 ]; then
    run keybearer login --password
else
    run keybearer login --password-stdin
fi

# 3. Who is signed in, which token the API gets, until when. Never a token.
run keybearer whoami

# 4. Call the API: GET <api_url>/pets with the token. The status line goes to
#    stderr, the body (JSON, pretty-printed) to stdout.
run keybearer get "$API_PATH"

# 5. Any other tool: `keybearer token` prints the raw token (refreshed first when
#    it is about to expire) and nothing else, so it fits in a command
#    substitution. The token never appears on the screen.
if command -v curl >/dev/null 2>&1; then
    printf '\n$ curl -fsS -H "Authorization: Bearer $(keybearer token)" "%s%s"\n' \
        "$API_URL" "$API_PATH" >&2
    curl -fsS -H "Authorization: Bearer $(keybearer token)" "$API_URL$API_PATH"
    echo
else
    printf '\n(curl is not installed: skipping the curl step)\n' >&2
fi

# 6. Log out: revoke the session at Cognito and delete the stored tokens.
run keybearer logout

# Afterwards, scripts can tell "not signed in" by whoami's exit code 3.
status=0
keybearer whoami >/dev/null 2>&1 || status=$?
printf '\n$ keybearer whoami  # after logout: exit code %s (3: login required)\n' "$status" >&2
[ "$status" -eq 3 ]
