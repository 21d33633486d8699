// A stand-in for Amazon Cognito's hosted UI (managed login), for tests only.
//
// oidc-provider (panva), a certified OpenID Connect server, configured so that
// an OAuth client written for Cognito can run its real flows against it on
// 127.0.0.1: authorization code + PKCE, Cognito's implicit redirect, refresh,
// revocation, userInfo, logout and generic OIDC discovery. Everything lives in
// memory and dies with the process; a fresh pair of RSA keys is made per start.
//
// Usage:  node server.mjs [PORT]      (PORT 0, the default, picks a free port)
// When it listens, it prints ONE line of JSON to stdout and nothing else ever:
//   {"ready":true,"issuer":"http://127.0.0.1:PORT","port":PORT,"clients":{...},"users":[...]}
// Diagnostics (oidc-provider's notices and warnings included) go to stderr.
//
// Environment (all optional):
//   OIDC_PEER_PORT                  port, when no argument is given
//   OIDC_PEER_ROTATE_REFRESH_TOKEN  "1"/"true": a refresh returns a new refresh token
//   OIDC_PEER_ACCESS_TOKEN_TTL      seconds, default 60
//   OIDC_PEER_ID_TOKEN_TTL          seconds, default 60
//   OIDC_PEER_REFRESH_TOKEN_TTL     seconds, default 86400
//
// Test-only control endpoints (no authentication: loopback test peer):
//   GET    /__test__/config   current settings
//   POST   /__test__/config   JSON {"rotate_refresh_token": bool, "access_token_ttl": s,
//                            "id_token_ttl": s, "refresh_token_ttl": s} (any subset)
//   GET    /__test__/counts   {"token": n, "token:authorization_code": n, "token:refresh_token": n,
//                            "token:client_credentials": n,
//                            "authorize": n, "login": n, "revoke": n, "userinfo": n, "jwks": n,
//                            "discovery": n, "logout": n}  (keys appear once counted)
//   DELETE /__test__/counts   forget the counts

import * as crypto from 'node:crypto';
import * as http from 'node:http';

// oidc-provider prints NOTICEs with console.info, i.e. to stdout. stdout is
// reserved for the ready line that the Python side parses, so send them to
// stderr. This must happen before oidc-provider is loaded, hence the dynamic
// import below.
console.info = (...args) => console.error(...args);
const { default: Provider, interactionPolicy } = await import('oidc-provider');

const HOST = '127.0.0.1';

// --- settings -------------------------------------------------------------

function envSeconds(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer number of seconds, got ${raw}`);
  }
  return value;
}

function envFlag(name) {
  return ['1', 'true', 'yes', 'on'].includes((process.env[name] ?? '').toLowerCase());
}

// Mutable at run time through POST /__test__/config; the TTL and rotation
// hooks below read it on every call, so a change applies to the next token.
const settings = {
  // Cognito returns a new refresh token on refresh only when the app client has
  // rotation on; off is Cognito's default.
  rotate_refresh_token: envFlag('OIDC_PEER_ROTATE_REFRESH_TOKEN'),
  // Short lifetimes make expiry and refresh real in tests (Cognito: 5 min to
  // 1 day, default 1 h).
  access_token_ttl: envSeconds('OIDC_PEER_ACCESS_TOKEN_TTL', 60),
  id_token_ttl: envSeconds('OIDC_PEER_ID_TOKEN_TTL', 60),
  refresh_token_ttl: envSeconds('OIDC_PEER_REFRESH_TOKEN_TTL', 24 * 60 * 60),
};

// --- fixed test data --------------------------------------------------------

// The API, Cognito style: a resource server identifier and scopes spelled
// `<identifier>/<name>`. Asking for one of them makes the access token a JWT.
const API = 'https://api.example.test';
const API_SCOPES = [`${API}/read`, `${API}/write`];

// Scopes that are not resource-server scopes. `aws.cognito.signin.user.admin`
// is accepted (and ignored) like Cognito accepts it; other unknown scopes are
// dropped silently, as Cognito drops scopes a client may not ask for.
const CLAIMS_BY_SCOPE = {
  // `token_use`, `cognito:username` (ID token) and `username` (userInfo) are
  // Cognito's own claims; findAccount decides which use gets which.
  openid: ['sub', 'token_use', 'cognito:username', 'username'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at'],
};
const STATIC_SCOPES = [...Object.keys(CLAIMS_BY_SCOPE), 'aws.cognito.signin.user.admin'];

// The same users as the moto-backed LocalCognito fixtures. `sub` is a stable
// UUID, never the username, as in Cognito.
const USERS = [
  {
    username: 'alice',
    password: 'Correct-Horse-1',
    sub: '0f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7',
    email: 'alice@example.test',
  },
  {
    username: 'bob',
    password: 'Battery-Staple-2',
    sub: '7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918',
    email: undefined,
  },
];
const userBySub = new Map(USERS.map((user) => [user.sub, user]));

// Loopback redirect and sign-out URLs. With `application_type: native`,
// oidc-provider ignores the port of a loopback URL (RFC 8252 §7.3), so a test
// may listen on any free port. Cognito itself matches exactly.
const LOOPBACK_PATHS = ['/callback', '/', '/signed-out'];
const LOOPBACK_URLS = ['http://127.0.0.1', 'http://localhost'].flatMap(
  (origin) => LOOPBACK_PATHS.map((path) => `${origin}${path}`),
);

const CLIENT_COMMON = {
  application_type: 'native',
  // Cognito's ID tokens always carry `auth_time`; oidc-provider only on request.
  require_auth_time: true,
  grant_types: ['authorization_code', 'refresh_token', 'implicit'],
  response_types: ['code', 'id_token token'],
  redirect_uris: LOOPBACK_URLS,
  post_logout_redirect_uris: LOOPBACK_URLS,
};
const CLIENTS = {
  public: {
    ...CLIENT_COMMON,
    client_id: 'keybearer_public_client',
    token_endpoint_auth_method: 'none',
  },
  basic: {
    ...CLIENT_COMMON,
    client_id: 'keybearer_basic_client',
    client_secret: 'basic-client-secret-0123456789abcdefghijklmnopqrstuv',
    token_endpoint_auth_method: 'client_secret_basic',
  },
  post: {
    ...CLIENT_COMMON,
    client_id: 'keybearer_post_client',
    client_secret: 'post-client-secret-0123456789abcdefghijklmnopqrstuvw',
    token_endpoint_auth_method: 'client_secret_post',
  },
  // Services: the client-credentials grant only, for the API's custom scopes.
  service: {
    client_id: 'keybearer_service_client',
    client_secret: 'service-client-secret-0123456789abcdefghijklmnopqr',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  },
  service_post: {
    client_id: 'keybearer_service_post_client',
    client_secret: 'service-post-client-secret-0123456789abcdefghijkl',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  },
};

// --- keys -----------------------------------------------------------------

// Two RS256 keys, like a Cognito pool's JWKS: the first signs ID tokens (it is
// the provider's default signing key), the second signs JWT access tokens
// (picked by kid in the resource server below), so the two kinds of token have
// different `kid`s, as in Cognito.
async function rsaJwk(kid) {
  const { privateKey } = await new Promise((resolve, reject) => {
    crypto.generateKeyPair('rsa', { modulusLength: 2048 }, (err, publicKey, key) => (
      err ? reject(err) : resolve({ publicKey, privateKey: key })));
  });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}
const ID_KID = `id-${crypto.randomUUID()}`;
const ACCESS_KID = `access-${crypto.randomUUID()}`;
const [idKey, accessKey] = await Promise.all([rsaJwk(ID_KID), rsaJwk(ACCESS_KID)]);
const accessPublicKey = crypto.createPublicKey({ key: accessKey, format: 'jwk' });

// --- counters ---------------------------------------------------------------

const counts = new Map();
function count(key) {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

// --- listen first: the issuer must contain the port ------------------------

const portArg = process.argv[2] ?? process.env.OIDC_PEER_PORT ?? '0';
const wantedPort = Number(portArg);
if (!Number.isInteger(wantedPort) || wantedPort < 0 || wantedPort > 65535) {
  throw new Error(`invalid port ${portArg}`);
}
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(wantedPort, HOST, resolve);
});
const { port } = server.address();
const ISSUER = `http://${HOST}:${port}`;

// --- the provider -----------------------------------------------------------

// Consent is granted automatically, and a native client must not force a
// consent screen on every request (oidc-provider's `native_client_prompt`):
// Cognito has no consent step, and with a session cookie it answers a second
// /oauth2/authorize at once.
const policy = interactionPolicy.base();
policy.get('consent').checks.remove('native_client_prompt');

// Grant every scope asked for. Called on /oauth2/authorize once the user is
// known, so the consent prompt never has anything to ask.
async function grantEverythingRequested(ctx) {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
  // A grant destroyed by revocation is gone: start a new one.
  const grant = (grantId && await oidc.provider.Grant.find(grantId))
    || new oidc.provider.Grant({ accountId: oidc.session.accountId, clientId: oidc.client.clientId });
  const oidcScopes = [...oidc.requestParamOIDCScopes].join(' ');
  if (oidcScopes) grant.addOIDCScope(oidcScopes);
  for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers)) {
    const scopes = [...oidc.requestParamScopes].filter((s) => resourceServer.scopes.has(s));
    if (scopes.length) grant.addResourceScope(indicator, scopes.join(' '));
  }
  await grant.save();
  return grant;
}

// JWT access tokens are not stored by oidc-provider, so it cannot look them up
// at userInfo; remember which grant each came from, so that our userInfo for
// JWT access tokens can refuse tokens whose grant was revoked (Cognito refuses
// access tokens minted from a revoked refresh token).
const grantOfJwtAccessToken = new Map();

// The scope a JWT access token carries, Cognito style: all the scopes of the
// request (`openid email https://api.example.test/read`), not only the API's.
function cognitoScope(ctx, token) {
  const { entities, params } = ctx.oidc;
  const requested = (entities.AuthorizationCode?.scope
    ?? entities.RefreshToken?.scope ?? params?.scope ?? '').split(' ');
  const granted = new Set(token.scope?.split(' ').filter(Boolean));
  return requested.filter((s) => STATIC_SCOPES.includes(s) || granted.has(s))
    .concat([...granted].filter((s) => !requested.includes(s)))
    .join(' ');
}

// Everything we know about a user, for one `use` ('id_token' or 'userinfo');
// the caller keeps what the granted scopes allow.
function userClaims(user, use) {
  const claims = { sub: user.sub };
  if (use === 'id_token') {
    claims.token_use = 'id';
    claims['cognito:username'] = user.username;
  } else {
    claims.username = user.username;
  }
  if (user.email) {
    claims.email = user.email;
    // Cognito: a boolean in the ID token, the string "true" from userInfo.
    claims.email_verified = use === 'id_token' ? true : 'true';
  }
  return claims;
}

const provider = new Provider(ISSUER, {
  // Default adapter: oidc-provider's in-memory one (it warns about it on stderr).
  clients: Object.values(CLIENTS),
  jwks: { keys: [idKey, accessKey] },
  // Signed cookies; a fresh random key per start is fine for a test peer.
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },

  // Cognito's endpoint paths. Discovery stays at /.well-known/openid-configuration.
  routes: {
    authorization: '/oauth2/authorize',
    token: '/oauth2/token',
    revocation: '/oauth2/revoke',
    userinfo: '/oauth2/userInfo',
    jwks: '/.well-known/jwks.json',
  },

  // Cognito supports exactly these response types (`token` is translated, see
  // the middleware below); `id_token token` needs a nonce, as OIDC says.
  responseTypes: ['code', 'id_token token'],
  scopes: STATIC_SCOPES,
  // Cognito's client authentication methods, and no others.
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
  claims: CLAIMS_BY_SCOPE,
  // Put the scope claims (email, ...) in the ID token even when an access
  // token is issued too, as Cognito does.
  conformIdTokenClaims: false,
  // Cognito only supports S256 and, for us, PKCE is always on. oidc-provider 9
  // only implements S256, so `plain` is refused.
  pkce: { required: () => true },
  // No leeway: a token is expired the second its `exp` passes.
  clockTolerance: 0,

  // Cognito issues a refresh token with every code exchange, without the
  // `offline_access` scope it does not know.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Tokens outlive the hosted-UI session: Cognito's /logout does not revoke
  // tokens, and oidc-provider would otherwise tie them to the session.
  expiresWithSession: async () => false,
  // Off by default, switchable at run time: see `settings`.
  rotateRefreshToken: () => settings.rotate_refresh_token,

  ttl: {
    AccessToken: () => settings.access_token_ttl,
    ClientCredentials: () => settings.access_token_ttl,
    IdToken: () => settings.id_token_ttl,
    RefreshToken: () => settings.refresh_token_ttl,
    AuthorizationCode: 300, // Cognito: 5 minutes
    Interaction: 3600,
    Session: 3600, // Cognito's managed-login cookie lasts 1 h
    Grant: 14 * 24 * 3600,
  },

  findAccount: async (_ctx, sub) => {
    const user = userBySub.get(sub);
    if (!user) return undefined;
    // oidc-provider filters the claims by the granted scopes (CLAIMS_BY_SCOPE).
    return { accountId: sub, claims: async (use) => userClaims(user, use) };
  },

  loadExistingGrant: grantEverythingRequested,
  interactions: {
    policy,
    // Cognito-like /login URL that carries the request's parameters; the
    // interaction itself is found through oidc-provider's `_interaction` cookie.
    url: async (_ctx, interaction) => {
      const query = new URLSearchParams();
      for (const key of ['client_id', 'redirect_uri', 'response_type', 'scope', 'state']) {
        if (interaction.params[key]) query.set(key, interaction.params[key]);
      }
      return `/login?${query}`;
    },
  },

  // Marks a request that the `token` translation below rewrote, so that its
  // redirect can be given Cognito's shape. Kept through the login interaction.
  extraParams: ['cognito_response_type'],

  features: {
    devInteractions: { enabled: false }, // our own /login form instead
    revocation: { enabled: true },
    userinfo: { enabled: true },
    // Cognito has none of these; keep discovery close to what it can do.
    pushedAuthorizationRequests: { enabled: false },
    dPoP: { enabled: false },
    introspection: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Cognito clients never send `resource`: infer it from the scopes.
      defaultResource: async (ctx, _client, oneOf) => {
        if (oneOf) return oneOf;
        const scopes = ctx.oidc.params?.scope?.split(' ') ?? [];
        return scopes.some((s) => API_SCOPES.includes(s)) ? API : undefined;
      },
      // Without this, a code exchange that includes `openid` would give an
      // opaque access token meant for userInfo; Cognito gives the API token.
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== API) throw new Provider.errors.InvalidTarget();
        return {
          scope: API_SCOPES.join(' '),
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256', kid: ACCESS_KID } },
        };
      },
    },
  },

  formats: {
    customizers: {
      // Make JWT access tokens look like Cognito's (`token_use`, `username`,
      // `auth_time`, the full `scope`). `aud` cannot go: oidc-provider requires it.
      jwt: async (ctx, token, jwt) => {
        const { entities, session } = ctx.oidc;
        const user = userBySub.get(token.accountId);
        const authTime = entities.AuthorizationCode?.authTime
          ?? entities.RefreshToken?.authTime ?? session?.authTime();
        jwt.payload.token_use = 'access';
        if (user) jwt.payload.username = user.username;
        if (authTime) jwt.payload.auth_time = authTime;
        jwt.payload.scope = cognitoScope(ctx, token);
        if (token.grantId) grantOfJwtAccessToken.set(jwt.payload.jti, token.grantId);
      },
    },
  },

  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', `<p id="error">${escapeHtml(out.error)}: ${escapeHtml(out.error_description ?? '')}</p>`);
  },
});

// oidc-provider logs the errors it answers through events; keep server-side
// failures visible on stderr for whoever debugs a test.
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));

// --- helpers for our own routes ----------------------------------------------

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

function loginForm(action, error) {
  return page('Sign in', `${error ? `<p id="error" role="alert">${escapeHtml(error)}</p>\n` : ''}<form method="post" action="${escapeHtml(action)}">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>`);
}

async function readBody(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function json(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(body);
}

// --- middleware (runs before oidc-provider's own router) -----------------------

// Count calls, and give token responses Cognito's shape.
provider.use(async (ctx, next) => {
  const { path } = ctx;
  await next();
  if (path === '/oauth2/token' && ctx.method === 'POST') {
    const grantType = ctx.oidc?.params?.grant_type;
    count('token');
    if (grantType) count(`token:${grantType}`);
    if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      // Cognito's token response has no `scope`; and without rotation a
      // refresh answers no `refresh_token` at all (oidc-provider repeats it).
      delete ctx.body.scope;
      if (grantType === 'refresh_token' && ctx.body.refresh_token === ctx.oidc.params.refresh_token) {
        delete ctx.body.refresh_token;
      }
    }
  } else if (path.startsWith('/oauth2/authorize')) {
    if (path === '/oauth2/authorize') count('authorize');
  } else if (path === '/oauth2/revoke') {
    count('revoke');
  } else if (path === '/oauth2/userInfo') {
    count('userinfo');
  } else if (path === '/.well-known/jwks.json') {
    count('jwks');
  } else if (path === '/.well-known/openid-configuration') {
    count('discovery');
  }
});

// Cognito's implicit grant is `response_type=token`; with `openid` it returns
// an ID token too. oidc-provider has no bare `token`, so translate the request
// to `id_token token` (adding the nonce OIDC requires for it), and give the
// final redirect Cognito's fragment:
//   #id_token=...&access_token=...&token_type=bearer&expires_in=...&state=...
// (Cognito's documentation shows lowercase `bearer` there; its JSON says `Bearer`.)
provider.use(async (ctx, next) => {
  if (ctx.path === '/oauth2/authorize' && ctx.method === 'GET') {
    const query = new URLSearchParams(ctx.querystring);
    const scopes = (query.get('scope') ?? '').split(' ');
    if (query.get('response_type') === 'token' && scopes.includes('openid')) {
      query.set('response_type', 'id_token token');
      query.set('cognito_response_type', 'token');
      if (!query.get('nonce')) query.set('nonce', crypto.randomBytes(16).toString('base64url'));
      ctx.querystring = query.toString();
    }
  }
  await next();
  if (!ctx.path.startsWith('/oauth2/authorize') || ![302, 303].includes(ctx.status)) return;
  const location = ctx.response.get('Location');
  if (ctx.oidc?.params?.cognito_response_type !== 'token' || !location.includes('#')) return;
  const url = new URL(location);
  const fragment = new URLSearchParams(url.hash.slice(1));
  if (!fragment.has('access_token')) return; // an error: leave it as oidc-provider made it
  const cognito = new URLSearchParams();
  cognito.set('id_token', fragment.get('id_token'));
  cognito.set('access_token', fragment.get('access_token'));
  cognito.set('token_type', 'bearer');
  cognito.set('expires_in', fragment.get('expires_in'));
  if (fragment.has('state')) cognito.set('state', fragment.get('state'));
  url.hash = cognito.toString();
  ctx.status = 302; // Cognito answers 302 here
  ctx.redirect(url.href);
});

// userInfo for JWT access tokens. oidc-provider refuses any access token with
// an audience at userinfo ("token audience prevents accessing the userinfo
// endpoint"), but a Cognito access token for the API (scope `openid` plus API
// scopes) works at /oauth2/userInfo. Answer those here: verify signature,
// issuer, expiry, `openid` scope and that the grant was not revoked. Opaque
// tokens fall through to oidc-provider's own userinfo.
provider.use(async (ctx, next) => {
  if (ctx.path !== '/oauth2/userInfo' || !['GET', 'POST'].includes(ctx.method)) return next();
  const match = /^Bearer (\S+)$/i.exec(ctx.get('authorization'));
  const token = match?.[1];
  if (!token || token.split('.').length !== 3) return next();
  const refuse = (description) => {
    ctx.set('WWW-Authenticate', `Bearer realm="${ISSUER}", error="invalid_token", error_description="${description}"`);
    json(ctx, 401, { error: 'invalid_token', error_description: description });
  };
  const [header64, payload64, signature64] = token.split('.');
  let header;
  let payload;
  try {
    header = JSON.parse(Buffer.from(header64, 'base64url'));
    payload = JSON.parse(Buffer.from(payload64, 'base64url'));
  } catch {
    return refuse('invalid token provided');
  }
  const signed = crypto.verify(
    'sha256',
    Buffer.from(`${header64}.${payload64}`),
    accessPublicKey,
    Buffer.from(signature64, 'base64url'),
  );
  if (!signed || header.alg !== 'RS256' || header.kid !== ACCESS_KID || payload.iss !== ISSUER) {
    return refuse('invalid token provided');
  }
  if (typeof payload.exp !== 'number' || payload.exp <= Math.floor(Date.now() / 1000)) {
    return refuse('Access token is expired, disabled, or deleted, or the user has globally signed out.');
  }
  const grantId = grantOfJwtAccessToken.get(payload.jti);
  if (!grantId || !(await provider.Grant.find(grantId))) {
    return refuse('Access token is expired, disabled, or deleted, or the user has globally signed out.');
  }
  const scopes = String(payload.scope ?? '').split(' ');
  if (!scopes.includes('openid')) {
    ctx.set('WWW-Authenticate', `Bearer realm="${ISSUER}", error="insufficient_scope", scope="openid"`);
    return json(ctx, 403, { error: 'insufficient_scope', error_description: 'access token missing openid scope' });
  }
  const user = userBySub.get(payload.sub);
  if (!user) return refuse('invalid token provided');
  const everything = userClaims(user, 'userinfo');
  const allowed = new Set(scopes.flatMap((s) => CLAIMS_BY_SCOPE[s] ?? []));
  const claims = Object.fromEntries(Object.entries(everything).filter(([k]) => allowed.has(k)));
  ctx.set('Cache-Control', 'no-store');
  return json(ctx, 200, claims);
});

// The hosted-UI sign-in page: GET shows the form, POST checks the password
// and finishes the interaction (303 back to /oauth2/authorize/<uid>).
provider.use(async (ctx, next) => {
  if (ctx.path !== '/login') return next();
  count('login');
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Error', '<p id="error">No sign-in in progress: start at /oauth2/authorize.</p>');
    return undefined;
  }
  const action = ctx.url; // post back to this very URL
  // Should a consent prompt ever come (e.g. `prompt=consent`), grant it: the
  // grant itself is made complete by loadExistingGrant.
  if (details.prompt.name === 'consent') {
    const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const grantId = await grant.save();
    ctx.respond = false;
    return provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } });
  }
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = loginForm(action);
    return undefined;
  }
  if (ctx.method !== 'POST') {
    ctx.status = 405;
    return undefined;
  }
  const form = new URLSearchParams(await readBody(ctx));
  const user = USERS.find((u) => u.username === form.get('username'));
  if (!user || !crypto.timingSafeEqual(
    crypto.createHash('sha256').update(user.password).digest(),
    crypto.createHash('sha256').update(form.get('password') ?? '').digest(),
  )) {
    // Cognito's wording, and the form again.
    ctx.status = 200;
    ctx.type = 'html';
    ctx.body = loginForm(action, 'Incorrect username or password.');
    return undefined;
  }
  ctx.respond = false;
  return provider.interactionFinished(ctx.req, ctx.res, {
    login: { accountId: user.sub },
  }, { mergeWithLastSubmission: false });
});

// Cognito's /logout: `client_id` + `logout_uri` (a registered sign-out URL)
// clears the hosted-UI session and 302s to logout_uri; `client_id` +
// `redirect_uri` (+ response_type, state, scope) clears it and starts a new
// sign-in. It does not revoke tokens.
provider.use(async (ctx, next) => {
  if (ctx.path !== '/logout' || ctx.method !== 'GET') return next();
  count('logout');
  const client = await provider.Client.find(String(ctx.query.client_id ?? ''));
  const logoutUri = ctx.query.logout_uri;
  const redirectUri = ctx.query.redirect_uri;
  let destination;
  if (client && typeof logoutUri === 'string' && client.postLogoutRedirectUriAllowed(logoutUri)) {
    destination = logoutUri;
  } else if (client && typeof redirectUri === 'string' && client.redirectUriAllowed(redirectUri)) {
    destination = `/oauth2/authorize?${new URLSearchParams(ctx.querystring)}`;
  } else {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Error', '<p id="error">invalid_request: unknown client_id or unregistered logout_uri</p>');
    return undefined;
  }
  const session = await provider.Session.get(ctx);
  if (!session.new) await session.destroy();
  for (const name of [provider.cookieName('session'), `${provider.cookieName('session')}.legacy`]) {
    ctx.cookies.set(name, null);
    ctx.cookies.set(`${name}.sig`, null);
  }
  ctx.status = 302;
  ctx.redirect(destination);
  return undefined;
});

// Test-only controls.
provider.use(async (ctx, next) => {
  if (!ctx.path.startsWith('/__test__/')) return next();
  if (ctx.path === '/__test__/counts') {
    if (ctx.method === 'DELETE') {
      counts.clear();
      ctx.status = 204;
      return undefined;
    }
    return json(ctx, 200, Object.fromEntries(counts));
  }
  if (ctx.path === '/__test__/config') {
    if (ctx.method === 'POST') {
      let changes;
      try {
        changes = JSON.parse(await readBody(ctx) || '{}');
      } catch {
        return json(ctx, 400, { error: 'body must be JSON' });
      }
      for (const [key, value] of Object.entries(changes)) {
        if (!(key in settings)) return json(ctx, 400, { error: `unknown setting ${key}` });
        const ok = key === 'rotate_refresh_token'
          ? typeof value === 'boolean'
          : Number.isInteger(value) && value > 0;
        if (!ok) return json(ctx, 400, { error: `bad value for ${key}` });
      }
      Object.assign(settings, changes);
    }
    return json(ctx, 200, settings);
  }
  ctx.status = 404;
  return undefined;
});

// --- go ---------------------------------------------------------------------

server.on('request', provider.callback());
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}

const publicClient = (c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret ?? null,
  token_endpoint_auth_method: c.token_endpoint_auth_method,
});
process.stdout.write(`${JSON.stringify({
  ready: true,
  issuer: ISSUER,
  port,
  clients: Object.fromEntries(Object.entries(CLIENTS).map(([name, c]) => [name, publicClient(c)])),
  users: USERS.map(({ username, password, sub, email }) => ({
    username, password, sub, email: email ?? null,
  })),
  api: { identifier: API, scopes: API_SCOPES },
  redirect_uris: LOOPBACK_URLS,
})}\n`);
