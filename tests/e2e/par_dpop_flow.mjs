// PAR + PKCE + DPoP against Yiwang, driven by the independent strict client oauth4webapi.
//
// A public client registered as PAR-only and DPoP-bound: its plain authorization request is refused
// (RFC 9126 §4); it pushes its request with a DPoP proof (RFC 9126, RFC 9449 §10.1), the person signs in by SMS,
// the code is exchanged with a DPoP proof (the server's nonce learnt from a use_dpop_nonce answer, §8), userinfo
// with the DPoP scheme and a proof (§7), a refresh with the same key (§5) after one with another key was refused;
// a bound token presented as a bearer token is refused (§7.2). The "browser" helpers are those of
// oidc_flow.mjs (manual redirects, a cookie jar, the server-rendered forms, the sandbox SMS outbox).
//
// Env: ISSUER, CLIENT_ID, REDIRECT_URI, PHONE. Prints one JSON object; exits 1 with a message on failure.

import * as oauth from 'oauth4webapi'

const results = { ok: false, steps: {} }
let currentStep = 'setup'

class StepError extends Error {}

function fail(message) {
  throw new StepError(message)
}

function check(condition, message) {
  if (!condition) fail(message)
}

function need(name) {
  const value = process.env[name]
  if (!value) fail(`environment variable ${name} is required`)
  return value
}

// Run one step; what it returns is its report in the output (values it produces go to outer variables).
async function step(name, fn) {
  currentStep = name
  const report = await fn()
  results.steps[name] = { ok: true, ...report }
}

function describeError(err) {
  if (err instanceof oauth.ResponseBodyError) {
    return `${err.message}: HTTP ${err.status} ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`
  }
  if (err instanceof oauth.AuthorizationResponseError) {
    return `${err.message}: ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`
  }
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    return `${err.message}: ${JSON.stringify(err.cause)}`
  }
  if (err instanceof oauth.OperationProcessingError) {
    const cause = err.cause ? ` ${JSON.stringify(err.cause, (k, v) => (v instanceof Response ? undefined : v))}` : ''
    return `${err.message} [${err.code}]${cause}`
  }
  return err?.stack || String(err)
}

// --- the "browser": manual redirects, a tiny cookie jar, hidden form fields -------------------------------------

class Browser {
  constructor(origin, clientUris) {
    this.origin = new URL(origin).origin
    this.clientUris = clientUris // the client's own addresses: parsed when redirected to, never fetched
    this.jar = new Map() // name -> value (one host: the provider's)
    this.visited = []
  }

  cookieHeader() {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      let value = pair.slice(eq + 1).trim()
      if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
      let expired = false
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=')
        const key = k.trim().toLowerCase()
        if (key === 'max-age' && Number(v) <= 0) expired = true
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true
      }
      if (expired) this.jar.delete(name)
      else this.jar.set(name, value)
    }
  }

  async request(url, { method = 'GET', form } = {}) {
    const target = new URL(url, this.origin)
    check(target.origin === this.origin, `the browser was sent off the provider, to ${target.href}`)
    const headers = { accept: 'text/html,application/json', 'accept-language': 'en' }
    const cookie = this.cookieHeader()
    if (cookie) headers.cookie = cookie
    let body
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(form).toString()
    }
    const response = await fetch(target, { method, headers, body, redirect: 'manual' })
    this.store(response)
    this.visited.push(`${method} ${target.pathname} -> ${response.status}`)
    return response
  }

  // Follow redirects on the provider; stop (without fetching) at the client's addresses or outside the provider.
  async follow(url, init) {
    let response = await this.request(url, init)
    for (let hops = 0; hops < 20; hops++) {
      if (![301, 302, 303, 307, 308].includes(response.status)) {
        return { response, url: new URL(response.url || url, this.origin) }
      }
      const location = response.headers.get('location')
      check(location, `redirect ${response.status} without a Location header`)
      const next = new URL(location, response.url || this.origin)
      if (next.origin !== this.origin || this.clientUris.some((u) => sameEndpoint(u, next.href))) {
        return { redirectedTo: next }
      }
      await response.arrayBuffer()
      response = await this.request(next.href)
      url = next.href
    }
    fail('more than 20 redirects')
  }
}

function decodeEntities(text) {
  return text
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

function hiddenInputs(html, action) {
  const forms = [...html.matchAll(/<form\b[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/gi)]
  const form = forms.find((m) => decodeEntities(m[1]) === action)
  check(form, `no form posting to ${action} on the page`)
  const fields = {}
  for (const input of form[2].matchAll(/<input\b[^>]*>/gi)) {
    const tag = input[0]
    if (!/\btype="hidden"/i.test(tag)) continue
    const name = /\bname="([^"]*)"/i.exec(tag)?.[1]
    const value = /\bvalue="([^"]*)"/i.exec(tag)?.[1] ?? ''
    if (name) fields[decodeEntities(name)] = decodeEntities(value)
  }
  return fields
}

function pageError(html) {
  const m = /<p class="error"[^>]*>([\s\S]*?)<\/p>/i.exec(html) || /<main[^>]*>([\s\S]*?)<\/main>/i.exec(html)
  return m
    ? decodeEntities(
        m[1]
          .replace(/<[^>]+>/g, ' ')
          .replace(/\s+/g, ' ')
          .trim(),
      ).slice(0, 300)
    : ''
}

// Drive the provider's pages (login by SMS, consent) until it redirects back to the client.
async function signInAndConsent(browser, authorizationUrl, phone, log) {
  let { response, url, redirectedTo } = await browser.follow(authorizationUrl.href)
  for (let pages = 0; pages < 10; pages++) {
    if (redirectedTo) return redirectedTo
    const html = await response.text()
    check(response.status === 200, `${url.pathname} answered ${response.status}: ${pageError(html)}`)
    if (url.pathname === '/login') {
      // Phone and code on one page: the form posts to /login/code; its send-code button to /login/sms.
      const fields = hiddenInputs(html, '/login/code')
      check(fields.flow && fields.csrf, 'the login form lacks flow/csrf')
      log.push('login page')
      ;({ response, url, redirectedTo } = await browser.follow('/login/sms', {
        method: 'POST',
        form: { ...fields, phone },
      }))
    } else if (url.pathname === '/login/sms') {
      // The same page again, now with the code sent: the code, the user agreement and the consent, in one post.
      const fields = hiddenInputs(html, '/login/code')
      const outbox = await browser.request(`/sandbox/sms/outbox?phone=${encodeURIComponent(phone)}`)
      check(outbox.status === 200, `the sandbox SMS outbox answered ${outbox.status}`)
      const { messages } = await outbox.json()
      const code = messages?.[0]?.code
      check(/^\d{6}$/.test(code ?? ''), `no 6-digit code in the SMS outbox: ${JSON.stringify(messages)}`)
      log.push('sms code read from the sandbox outbox')
      ;({ response, url, redirectedTo } = await browser.follow('/login/code', {
        method: 'POST',
        form: { ...fields, phone, code, agree: 'yes', decision: 'approve' },
      }))
    } else if (url.pathname === '/consent') {
      const fields = hiddenInputs(html, '/consent')
      log.push('consent page')
      ;({ response, url, redirectedTo } = await browser.follow('/consent', {
        method: 'POST',
        form: { ...fields, decision: 'approve' },
      }))
    } else {
      fail(`unexpected page ${url.pathname} (${response.status}): ${pageError(html)}`)
    }
  }
  fail('too many pages without getting back to the client')
}

function sameEndpoint(a, b) {
  const x = new URL(a)
  const y = new URL(b)
  return x.origin === y.origin && x.pathname === y.pathname
}

function decodeJwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())
}

async function expectInactive(as, client, auth, token, opts) {
  const response = await oauth.introspectionRequest(as, client, auth, token, opts)
  const result = await oauth.processIntrospectionResponse(as, client, response)
  check(result.active === false, `introspection says active=${result.active}, expected false`)
  return result
}

// --- the flow --------------------------------------------------------------------------------------------------

// One retry when the server asks for its DPoP nonce (the handle has cached it from the answer).
async function withNonceRetry(request, process) {
  try {
    return { result: await process(await request()), retried: false }
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err
    return { result: await process(await request()), retried: true }
  }
}

async function main() {
  const issuer = new URL(need('ISSUER'))
  const clientId = need('CLIENT_ID')
  const redirectUri = need('REDIRECT_URI')
  const phone = need('PHONE')
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname)
  const opts = { [oauth.allowInsecureRequests]: loopback }

  let as
  await step('discovery', async () => {
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...opts, algorithm: 'oidc' }))
    check(typeof as.pushed_authorization_request_endpoint === 'string', 'discovery lacks the PAR endpoint')
    check(as.dpop_signing_alg_values_supported?.includes('ES256'), 'discovery does not offer DPoP with ES256')
    return {
      pushed_authorization_request_endpoint: as.pushed_authorization_request_endpoint,
      dpop_signing_alg_values_supported: as.dpop_signing_alg_values_supported,
    }
  })

  const client = { client_id: clientId, id_token_signed_response_alg: 'ES256' }
  const clientAuth = oauth.None()
  const browser = new Browser(as.issuer, [redirectUri])
  const keyPair = await oauth.generateKeyPair('ES256', { extractable: true })
  const DPoP = oauth.DPoP(client, keyPair)
  const jkt = await DPoP.calculateThumbprint()
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const authParams = {
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid profile offline_access',
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  }

  await step('plain_authorization_request_refused', async () => {
    const url = new URL(as.authorization_endpoint)
    url.searchParams.set('client_id', clientId)
    for (const [k, v] of Object.entries(authParams)) url.searchParams.set(k, v)
    const { redirectedTo } = await browser.follow(url.href)
    check(redirectedTo, 'a plain authorization request was not answered with a redirect')
    let error
    try {
      oauth.validateAuthResponse(as, client, redirectedTo, state)
    } catch (err) {
      if (!(err instanceof oauth.AuthorizationResponseError)) throw err
      error = err.error
    }
    check(error === 'invalid_request', `a plain request of a PAR-only client got ${error ?? 'a code'}`)
    return { error }
  })

  let pushed
  await step('pushed_authorization_request', async () => {
    const response = await oauth.pushedAuthorizationRequest(as, client, clientAuth, authParams, { ...opts, DPoP })
    pushed = await oauth.processPushedAuthorizationResponse(as, client, response)
    check(pushed.request_uri.startsWith('urn:ietf:params:oauth:request_uri:'), `request_uri ${pushed.request_uri}`)
    return { status: response.status, expires_in: pushed.expires_in, urn: true }
  })

  let callbackUrl
  await step('authorize', async () => {
    const url = new URL(as.authorization_endpoint)
    url.searchParams.set('client_id', clientId)
    url.searchParams.set('request_uri', pushed.request_uri)
    const pages = []
    callbackUrl = await signInAndConsent(browser, url, phone, pages)
    check(sameEndpoint(callbackUrl.href, redirectUri), `redirected to ${callbackUrl.href}`)
    return { pages }
  })

  let params
  await step('authorization_response', async () => {
    params = oauth.validateAuthResponse(as, client, callbackUrl, state)
    return { iss: params.get('iss'), code: Boolean(params.get('code')) }
  })

  await step('request_uri_reuse_refused', async () => {
    const url = new URL(as.authorization_endpoint)
    url.searchParams.set('client_id', clientId)
    url.searchParams.set('request_uri', pushed.request_uri)
    const { response, redirectedTo } = await browser.follow(url.href)
    check(!redirectedTo, 'a used request_uri was accepted again')
    return { status: response.status }
  })

  let tokens, idClaims
  await step('code_exchange', async () => {
    const { result, retried } = await withNonceRetry(
      () => oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, codeVerifier, { ...opts, DPoP }),
      (response) => oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: true }),
    )
    tokens = result
    check(tokens.token_type === 'dpop', `token_type ${tokens.token_type}`)
    idClaims = oauth.getValidatedIdTokenClaims(tokens)
    const at = decodeJwtPayload(tokens.access_token)
    check(at.cnf?.jkt === jkt, `the access token's cnf.jkt ${at.cnf?.jkt} is not the key's thumbprint ${jkt}`)
    return { token_type: tokens.token_type, nonce_retry: retried, cnf_jkt_matches: true, has_refresh_token: Boolean(tokens.refresh_token) }
  })

  await step('userinfo_with_dpop', async () => {
    const response = await oauth.userInfoRequest(as, client, tokens.access_token, { ...opts, DPoP })
    const info = await oauth.processUserInfoResponse(as, client, idClaims.sub, response)
    return { sub_matches: info.sub === idClaims.sub }
  })

  await step('bearer_downgrade_refused', async () => {
    let challenge
    try {
      await oauth.processUserInfoResponse(as, client, idClaims.sub, await oauth.userInfoRequest(as, client, tokens.access_token, opts))
    } catch (err) {
      if (!(err instanceof oauth.WWWAuthenticateChallengeError)) throw err
      challenge = err.cause.find((c) => c.scheme === 'dpop')
    }
    check(challenge?.parameters.error === 'invalid_token', `a bound token as a bearer token got ${JSON.stringify(challenge)}`)
    return { scheme: challenge.scheme, error: challenge.parameters.error }
  })

  await step('refresh_with_another_key_refused', async () => {
    const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256', { extractable: true }))
    let error
    try {
      await withNonceRetry(
        () => oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, { ...opts, DPoP: thief }),
        (response) => oauth.processRefreshTokenResponse(as, client, response),
      )
    } catch (err) {
      if (!(err instanceof oauth.ResponseBodyError)) throw err
      error = err.error
    }
    check(error === 'invalid_grant', `a refresh with another key got ${error ?? 'tokens'}`)
    return { error }
  })

  await step('refresh_with_dpop', async () => {
    const { result: renewed } = await withNonceRetry(
      () => oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, { ...opts, DPoP }),
      (response) => oauth.processRefreshTokenResponse(as, client, response),
    )
    check(renewed.token_type === 'dpop', `refreshed token_type ${renewed.token_type}`)
    check(renewed.refresh_token && renewed.refresh_token !== tokens.refresh_token, 'the refresh token was not rotated')
    check(decodeJwtPayload(renewed.access_token).cnf?.jkt === jkt, 'the refreshed access token is not bound to the key')
    const info = await oauth.processUserInfoResponse(
      as,
      client,
      idClaims.sub,
      await oauth.userInfoRequest(as, client, renewed.access_token, { ...opts, DPoP }),
    )
    return { token_type: renewed.token_type, rotated: true, userinfo_sub_matches: info.sub === idClaims.sub }
  })

  results.ok = true
}

try {
  await main()
  process.stdout.write(JSON.stringify(results, null, 2) + '\n')
} catch (err) {
  const message = err instanceof StepError ? err.message : describeError(err)
  results.ok = false
  results.failed_step = currentStep
  results.error = message
  process.stdout.write(JSON.stringify(results, null, 2) + '\n')
  process.stderr.write(`par_dpop_flow: step "${currentStep}" failed: ${message}\n`)
  process.exit(1)
}
