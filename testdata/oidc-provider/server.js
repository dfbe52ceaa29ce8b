// A real OpenID Provider (panva/oidc-provider, OpenID Certified) for
// Gatehouse's OIDC tests. Test-only: fixed secrets, dev interactions (the
// provider's own simple HTML login and consent forms; any password is
// accepted for a known user), plain HTTP on loopback.
//
// Usage: node server.js PORT   (or PORT=… node server.js)
// Environment:
//   REDIRECT_URIS            comma-separated redirect URIs of both clients
//   POST_LOGOUT_REDIRECT_URIS comma-separated post-logout redirect URIs
//   BACKCHANNEL_LOGOUT_URI   the confidential client's back-channel logout URI
//
// Test-only endpoints (not part of OpenID Connect):
//   POST /test/disable?user=NAME     the user no longer exists (refresh: invalid_grant)
//   POST /test/enable?user=NAME
//   POST /test/backchannel?sub=NAME&sid=SID   send a back-channel logout to the
//        confidential client now; answers 204, or 502 with the reason
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.PORT || 0);
const host = '127.0.0.1';
const issuer = `http://${host}:${port}`;
const list = (v) => (v || '').split(',').map((s) => s.trim()).filter(Boolean);

const users = {
  alice: { email: 'alice@example.com', groups: ['staff', 'admins'] },
  bob: { email: 'bob@example.com', groups: ['staff'] },
  carol: { email: 'carol@example.com', groups: [] },
};
const disabled = new Set();

const redirectURIs = list(process.env.REDIRECT_URIS);
const postLogout = list(process.env.POST_LOGOUT_REDIRECT_URIS);
const confidential = {
  client_id: 'gatehouse',
  client_secret: 'gatehouse-test-secret',
  redirect_uris: redirectURIs,
  post_logout_redirect_uris: postLogout,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
};
if (process.env.BACKCHANNEL_LOGOUT_URI) {
  confidential.backchannel_logout_uri = process.env.BACKCHANNEL_LOGOUT_URI;
  confidential.backchannel_logout_session_required = true;
}

const provider = new Provider(issuer, {
  clients: [
    confidential,
    {
      client_id: 'gatehouse-public',
      redirect_uris: redirectURIs,
      post_logout_redirect_uris: postLogout,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
  ],
  async findAccount(ctx, id) {
    const u = users[id];
    if (!u || disabled.has(id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          email: u.email,
          email_verified: true,
          groups: u.groups,
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  // ID tokens carry the scope's claims, not only the userinfo endpoint.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    revocation: { enabled: true },
  },
  // The provider refuses outgoing requests (back-channel logout) to
  // special-use addresses; Gatehouse runs on loopback in the tests.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  cookies: { keys: ['gatehouse-oidc-fixture-cookie-key'] },
  ttl: { RefreshToken: 3600, Session: 3600, Grant: 3600, Interaction: 600, AccessToken: 600, IdToken: 600 },
});
provider.proxy = false;

const callback = provider.callback();
const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  if (req.method === 'POST' && url.pathname.startsWith('/test/')) {
    const user = url.searchParams.get('user');
    try {
      switch (url.pathname) {
        case '/test/disable':
          disabled.add(user);
          break;
        case '/test/enable':
          disabled.delete(user);
          break;
        case '/test/backchannel': {
          const client = await provider.Client.find('gatehouse');
          await client.backchannelLogout(url.searchParams.get('sub'), url.searchParams.get('sid') || undefined);
          break;
        }
        default:
          res.writeHead(404).end();
          return;
      }
      res.writeHead(204).end();
    } catch (err) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end(String(err && err.message) + (err && err.cause ? ': ' + String(err.cause.message || err.cause) : ''));
    }
    return;
  }
  callback(req, res);
});
server.listen(port, host, () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
