// The reference for bench/oidc_bench.py: panva's oidc-provider (a certified OpenID provider), in WORKERS processes
// (node:cluster), doing two things:
// - client_credentials grants as ES256-signed JWT access tokens (RFC 9068). The request shape matches ours:
//   POST /token, grant_type=client_credentials, client_secret_basic. No resource parameter is needed:
//   `defaultResource` names the one resource server (for this client only), which asks for JWT access tokens;
// - sign-ins through its devInteractions (any login name + any password, then consent), for a second client:
//   authorization code + PKCE S256, client_secret_basic, ES256 ID tokens; the default in-memory adapter.
//   That adapter is per process: a browser's requests must reach the worker that holds its interaction and
//   session. node:cluster hands out connections, so a browser that keeps its one keep-alive connection (as the
//   bench's virtual browsers do) stays on one worker. The cookie keys are shared so any worker reads any cookie.
//
// Env: PORT (default 3000), ISSUER (default http://127.0.0.1:PORT), WORKERS (default 2),
//      CLIENT_ID / CLIENT_SECRET (default bench / bench-secret), RESOURCE (default urn:yiwang:bench:api),
//      LOGIN_CLIENT_ID / LOGIN_CLIENT_SECRET (default bench-rp / bench-rp-secret),
//      REDIRECT_URI (default ISSUER/rp/cb).

import cluster from 'node:cluster'
import { generateKeyPairSync, randomUUID } from 'node:crypto'

const PORT = Number(process.env.PORT || 3000)
const ISSUER = process.env.ISSUER || `http://127.0.0.1:${PORT}`
const WORKERS = Number(process.env.WORKERS || 2)
const RESOURCE = process.env.RESOURCE || 'urn:yiwang:bench:api'
const CLIENT_ID = process.env.CLIENT_ID || 'bench'
const REDIRECT_URI = process.env.REDIRECT_URI || `${ISSUER}/rp/cb`

if (cluster.isPrimary) {
  // One signing key and one cookie key for every worker, made here and handed over in the environment.
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })
  const keys = JSON.stringify({ keys: [{ ...jwk, kid: randomUUID(), alg: 'ES256', use: 'sig' }] })
  const cookieKey = randomUUID()
  let ready = 0
  for (let i = 0; i < WORKERS; i++) {
    const worker = cluster.fork({ BENCH_JWKS: keys, BENCH_COOKIE_KEY: cookieKey })
    worker.on('message', (m) => {
      if (m === 'listening' && ++ready === WORKERS) console.log(`oidc-provider listening on ${ISSUER} (${WORKERS} workers)`)
    })
  }
  cluster.on('exit', (worker, code, signal) => {
    if (!shuttingDown) console.error(`worker ${worker.process.pid} died (${signal || code})`)
  })
  let shuttingDown = false
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      shuttingDown = true
      for (const w of Object.values(cluster.workers)) w.kill('SIGTERM')
      setTimeout(() => process.exit(0), 500).unref()
    })
  }
} else {
  const { default: Provider } = await import('oidc-provider')
  const provider = new Provider(ISSUER, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: process.env.CLIENT_SECRET || 'bench-secret',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256', // the only key is an ES256 one
      },
      {
        client_id: process.env.LOGIN_CLIENT_ID || 'bench-rp',
        client_secret: process.env.LOGIN_CLIENT_SECRET || 'bench-rp-secret',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: JSON.parse(process.env.BENCH_JWKS),
    cookies: { keys: [process.env.BENCH_COOKIE_KEY] },
    pkce: { required: () => true }, // as ours: PKCE S256 on every authorization request
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => (client?.clientId === CLIENT_ID ? RESOURCE : oneOf),
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          scope: 'api:read',
          audience: RESOURCE,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  })
  provider.on('server_error', (ctx, err) => console.error('server_error', err))
  provider.listen(PORT, '127.0.0.1', () => process.send?.('listening'))
  process.on('SIGTERM', () => process.exit(0))
}
