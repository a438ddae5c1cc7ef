// The whole OpenID Connect authorization-code flow against Yiwang, driven by an independent strict client.
//
// Everything protocol-related is oauth4webapi's (discovery, PKCE, authorization URL, authorization response
// validation incl. RFC 9207 `iss`, code exchange with strict ID token validation, userinfo, refresh,
// revocation, introspection, RP-initiated logout). The "browser" part (redirects, cookies, the server-rendered
// login/consent forms, the sandbox SMS outbox) is plain fetch with `redirect: "manual"` and a tiny cookie jar
// (kit.mjs). The redirect_uri and post_logout_redirect_uri are never fetched, only parsed.
//
// Env: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, PHONE, POST_LOGOUT_REDIRECT_URI;
//      optional PUBLIC_CLIENT_ID + PUBLIC_REDIRECT_URI (a public client: PKCE required, no secret);
//      optional ID_TOKEN_ALG (default ES256).
// Prints one JSON object (one line) to stdout; exits 1 with a clear message (stderr, and `error` in the JSON) on failure.

import * as oauth from 'oauth4webapi'
import {
  Browser,
  check,
  decodeJwtPayload,
  discover,
  flow,
  hiddenInputs,
  loopbackOptions,
  need,
  pageError,
  refusal,
  sameEndpoint,
  signInAndConsent,
} from './kit.mjs'

const { results, step, run } = flow('oidc_flow')

async function expectInactive(as, client, auth, token, opts) {
  const response = await oauth.introspectionRequest(as, client, auth, token, opts)
  const result = await oauth.processIntrospectionResponse(as, client, response)
  check(result.active === false, `introspection says active=${result.active}, expected false`)
  return result
}

// --- the flow --------------------------------------------------------------------------------------------------

async function main() {
  const issuer = new URL(need('ISSUER'))
  const clientId = need('CLIENT_ID')
  const clientSecret = need('CLIENT_SECRET')
  const redirectUri = need('REDIRECT_URI')
  const phone = need('PHONE')
  const postLogoutRedirectUri = need('POST_LOGOUT_REDIRECT_URI')
  const publicClientId = process.env.PUBLIC_CLIENT_ID
  const publicRedirectUri = process.env.PUBLIC_REDIRECT_URI || redirectUri
  const idTokenAlg = process.env.ID_TOKEN_ALG || 'ES256'
  const opts = loopbackOptions(issuer)

  let as
  await step('discovery', async () => {
    as = await discover(issuer, opts)
    for (const name of [
      'authorization_endpoint',
      'token_endpoint',
      'userinfo_endpoint',
      'jwks_uri',
      'introspection_endpoint',
      'revocation_endpoint',
      'end_session_endpoint',
    ]) {
      check(typeof as[name] === 'string', `discovery lacks ${name}`)
    }
    check(as.code_challenge_methods_supported?.includes('S256'), 'discovery does not offer PKCE S256')
    check(as.authorization_response_iss_parameter_supported === true, 'discovery does not announce RFC 9207 iss')
    return { issuer: as.issuer }
  })
  results.issuer = as.issuer

  const client = { client_id: clientId, id_token_signed_response_alg: idTokenAlg }
  const clientAuth = oauth.ClientSecretBasic(clientSecret)
  const browser = new Browser(as.issuer, [redirectUri, publicRedirectUri, postLogoutRedirectUri])

  // 1. Authorization request (PKCE S256 + state + nonce), sign-in by SMS, consent.
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  let callbackUrl
  await step('authorize', async () => {
    const url = new URL(as.authorization_endpoint)
    url.searchParams.set('client_id', clientId)
    url.searchParams.set('redirect_uri', redirectUri)
    url.searchParams.set('response_type', 'code')
    url.searchParams.set('scope', 'openid profile phone offline_access')
    url.searchParams.set('state', state)
    url.searchParams.set('nonce', nonce)
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier))
    url.searchParams.set('code_challenge_method', 'S256')
    const pages = []
    const back = await signInAndConsent(browser, url, phone, pages)
    check(sameEndpoint(back.href, redirectUri), `redirected to ${back.origin}${back.pathname}, not the redirect_uri`)
    check(browser.jar.has('yw_session'), 'no SSO session cookie after sign-in')
    callbackUrl = back
    return { pages, visited: [...browser.visited] }
  })

  let params
  await step('authorization_response', async () => {
    params = oauth.validateAuthResponse(as, client, callbackUrl, state) // checks state and iss (RFC 9207)
    check(params.get('code'), 'no code in the authorization response')
    return { iss: params.get('iss'), state_matches: true }
  })

  let first, idClaims
  await step('code_exchange', async () => {
    const tokenResponse = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      clientAuth,
      params,
      redirectUri,
      codeVerifier,
      opts,
    )
    first = await oauth.processAuthorizationCodeResponse(as, client, tokenResponse, {
      expectedNonce: nonce,
      requireIdToken: true,
    })
    // The module validates the ID token claims strictly; check its signature against the JWKS too.
    await oauth.validateApplicationLevelSignature(as, tokenResponse, opts)
    check(first.token_type === 'bearer', `token_type ${first.token_type}`)
    check(first.refresh_token, 'no refresh token (offline_access + refresh_token grant were asked for)')
    idClaims = oauth.getValidatedIdTokenClaims(first)
    results.id_token_claims = idClaims
    results.sub = idClaims.sub
    results.acr = idClaims.acr
    results.amr = idClaims.amr
    return {
      token_type: first.token_type,
      expires_in: first.expires_in,
      scope: first.scope,
      has_refresh_token: true,
      id_token_signature_verified: true,
      access_token_typ: JSON.parse(Buffer.from(first.access_token.split('.')[0], 'base64url')).typ,
    }
  })

  await step('userinfo', async () => {
    const response = await oauth.userInfoRequest(as, client, first.access_token, opts)
    const info = await oauth.processUserInfoResponse(as, client, idClaims.sub, response)
    return { claims: info }
  })

  await step('introspection_active', async () => {
    const response = await oauth.introspectionRequest(as, client, clientAuth, first.access_token, opts)
    const result = await oauth.processIntrospectionResponse(as, client, response)
    check(result.active === true, `introspection of a fresh access token says active=${result.active}`)
    check(result.sub === idClaims.sub, `introspection sub ${result.sub} != ID token sub ${idClaims.sub}`)
    check(result.client_id === clientId, `introspection client_id ${result.client_id}`)
    return { active: result.active, sub: result.sub, client_id: result.client_id, scope: result.scope }
  })

  let second
  await step('refresh', async () => {
    const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, first.refresh_token, opts)
    second = await oauth.processRefreshTokenResponse(as, client, response)
    check(second.refresh_token, 'the refresh response has no new refresh token')
    check(second.refresh_token !== first.refresh_token, 'the refresh token was not rotated')
    check(second.access_token !== first.access_token, 'the access token did not change')
    const at = decodeJwtPayload(second.access_token)
    check(at.sub === idClaims.sub, `refreshed access token sub ${at.sub} != ${idClaims.sub}`)
    return { new_refresh_token: true, new_access_token: true, scope: second.scope }
  })

  await step('rotated_refresh_token_inactive', async () => {
    const r = await expectInactive(as, client, clientAuth, first.refresh_token, opts)
    return { active: r.active }
  })

  await step('revocation', async () => {
    const before = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, clientAuth, second.access_token, opts),
    )
    check(before.active === true, `the refreshed access token is not active before revocation`)
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, clientAuth, second.access_token, opts),
    )
    const after = await expectInactive(as, client, clientAuth, second.access_token, opts)
    // A resource server's view: the revoked token no longer opens userinfo.
    let userinfoRefused = false
    try {
      await oauth.processUserInfoResponse(
        as,
        client,
        idClaims.sub,
        await oauth.userInfoRequest(as, client, second.access_token, opts),
      )
    } catch (err) {
      userinfoRefused = err instanceof oauth.WWWAuthenticateChallengeError || err instanceof oauth.ResponseBodyError
      if (!userinfoRefused) throw err
    }
    check(userinfoRefused, 'userinfo accepted a revoked access token')
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, clientAuth, second.refresh_token, opts),
    )
    const refreshAfter = await expectInactive(as, client, clientAuth, second.refresh_token, opts)
    return {
      access_token: { active_before: before.active, active_after: after.active },
      refresh_token: { active_after: refreshAfter.active },
      userinfo_refused_after: userinfoRefused,
    }
  })

  await step('code_replay', async () => {
    // RFC 6749 §4.1.2: a second use of a code is refused, and what the code issued is revoked.
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      clientAuth,
      params,
      redirectUri,
      codeVerifier,
      opts,
    )
    const error = await refusal(() =>
      oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce }),
    )
    check(error === 'invalid_grant', `a replayed code was answered with ${error ?? 'tokens'}`)
    const r = await expectInactive(as, client, clientAuth, first.access_token, opts)
    return { error, first_access_token_active_after: r.active }
  })

  if (publicClientId) {
    const publicClient = { client_id: publicClientId, id_token_signed_response_alg: idTokenAlg }
    await step('public_client_without_pkce_refused', async () => {
      const url = new URL(as.authorization_endpoint)
      const s = oauth.generateRandomState()
      url.searchParams.set('client_id', publicClientId)
      url.searchParams.set('redirect_uri', publicRedirectUri)
      url.searchParams.set('response_type', 'code')
      url.searchParams.set('scope', 'openid')
      url.searchParams.set('state', s)
      const { redirectedTo } = await browser.follow(url.href)
      check(redirectedTo, 'the provider did not answer the client with an error redirect')
      const error = await refusal(
        () => oauth.validateAuthResponse(as, publicClient, redirectedTo, s),
        oauth.AuthorizationResponseError,
      )
      check(error === 'invalid_request', `a public client without PKCE got ${error ?? 'a code'}`)
      return { error }
    })

    await step('public_client_sso', async () => {
      const verifier = oauth.generateRandomCodeVerifier()
      const s = oauth.generateRandomState()
      const n = oauth.generateRandomNonce()
      const url = new URL(as.authorization_endpoint)
      url.searchParams.set('client_id', publicClientId)
      url.searchParams.set('redirect_uri', publicRedirectUri)
      url.searchParams.set('response_type', 'code')
      url.searchParams.set('scope', 'openid profile') // profile: consent is asked for this new client
      url.searchParams.set('state', s)
      url.searchParams.set('nonce', n)
      url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier))
      url.searchParams.set('code_challenge_method', 'S256')
      const pages = []
      const back = await signInAndConsent(browser, url, phone, pages)
      check(!pages.includes('login page'), 'single sign-on did not hold: the second client asked for a login')
      const p = oauth.validateAuthResponse(as, publicClient, back, s)
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        publicClient,
        oauth.None(),
        p,
        publicRedirectUri,
        verifier,
        opts,
      )
      const result = await oauth.processAuthorizationCodeResponse(as, publicClient, response, {
        expectedNonce: n,
        requireIdToken: true,
      })
      await oauth.validateApplicationLevelSignature(as, response, opts)
      const claims = oauth.getValidatedIdTokenClaims(result)
      check(claims.sid === idClaims.sid, 'the second client got a different session id')
      return { pages, sub: claims.sub, acr: claims.acr, amr: claims.amr, same_sid: true }
    })
  }

  await step('logout', async () => {
    const logoutState = oauth.generateRandomState()
    const url = new URL(as.end_session_endpoint)
    url.searchParams.set('id_token_hint', first.id_token)
    url.searchParams.set('client_id', clientId)
    url.searchParams.set('post_logout_redirect_uri', postLogoutRedirectUri)
    url.searchParams.set('state', logoutState)
    let { response, redirectedTo } = await browser.follow(url.href)
    let confirmed = false
    if (!redirectedTo) {
      // The provider may ask the person to confirm; answer its form like a browser would.
      const html = await response.text()
      check(response.status === 200, `the end-session endpoint answered ${response.status}: ${pageError(html)}`)
      const fields = hiddenInputs(html, '/logout')
      ;({ redirectedTo } = await browser.follow('/logout', { method: 'POST', form: fields }))
      confirmed = true
      check(redirectedTo, 'logout did not redirect back to the client')
    }
    check(
      sameEndpoint(redirectedTo.href, postLogoutRedirectUri),
      `logout redirected to ${redirectedTo.origin}${redirectedTo.pathname}, not the registered URI`,
    )
    const returnedState = redirectedTo.searchParams.get('state')
    check(returnedState === logoutState, `logout returned state ${returnedState}, expected ${logoutState}`)
    check(!browser.jar.has('yw_session'), 'the SSO session cookie survived logout')

    // The session is over: a prompt=none request must now say login_required.
    const s = oauth.generateRandomState()
    const again = new URL(as.authorization_endpoint)
    again.searchParams.set('client_id', clientId)
    again.searchParams.set('redirect_uri', redirectUri)
    again.searchParams.set('response_type', 'code')
    again.searchParams.set('scope', 'openid')
    again.searchParams.set('state', s)
    again.searchParams.set('prompt', 'none')
    again.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()))
    again.searchParams.set('code_challenge_method', 'S256')
    const after = await browser.follow(again.href)
    check(after.redirectedTo, 'prompt=none after logout did not redirect back to the client')
    const error = await refusal(
      () => oauth.validateAuthResponse(as, client, after.redirectedTo, s),
      oauth.AuthorizationResponseError,
    )
    check(error === 'login_required', `prompt=none after logout got ${error ?? 'a code'}`)
    return {
      redirected_to: `${redirectedTo.origin}${redirectedTo.pathname}`,
      state: returnedState,
      state_matches: true,
      confirmation_page: confirmed,
      prompt_none_after: error,
    }
  })
}

await run(main)
