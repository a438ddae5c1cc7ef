// PAR + PKCE + DPoP against Yiwang, driven by the independent strict client oauth4webapi.
//
// A public client registered as PAR-only and DPoP-bound: its plain authorization request is refused
// (RFC 9126 §4); it pushes its request with a DPoP proof (RFC 9126, RFC 9449 §10.1), the person signs in by SMS,
// the code is exchanged with a DPoP proof (the server's nonce learnt from a use_dpop_nonce answer, §8), userinfo
// with the DPoP scheme and a proof (§7), a refresh with the same key (§5) after one with another key was refused;
// a bound token presented as a bearer token is refused (§7.2). The "browser" is kit.mjs's (manual redirects, a
// cookie jar, the server-rendered forms, the sandbox SMS outbox).
//
// Env: ISSUER, CLIENT_ID, REDIRECT_URI, PHONE. Prints one JSON object (one line); exits 1 with a message on failure.

import * as oauth from 'oauth4webapi'
import {
  Browser,
  check,
  decodeJwtPayload,
  discover,
  flow,
  loopbackOptions,
  need,
  refusal,
  sameEndpoint,
  signInAndConsent,
} from './kit.mjs'

const { step, run } = flow('par_dpop_flow')

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
  const opts = loopbackOptions(issuer)

  let as
  await step('discovery', async () => {
    as = await discover(issuer, opts)
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
    const error = await refusal(
      () => oauth.validateAuthResponse(as, client, redirectedTo, state),
      oauth.AuthorizationResponseError,
    )
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
    const error = await refusal(() =>
      withNonceRetry(
        () => oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, { ...opts, DPoP: thief }),
        (response) => oauth.processRefreshTokenResponse(as, client, response),
      ),
    )
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
}

await run(main)
