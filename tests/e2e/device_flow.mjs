// The device authorization grant (RFC 8628) against Yiwang, the kiosk's side, driven by oauth4webapi.
//
// Discovery, the device authorization request and its response checks, the token polls and their strict
// processing (incl. the ID token's iss/aud/exp/iat checks) and userinfo are all oauth4webapi's. The person's
// side — the phone entering the user code, signing in and approving or declining — is done by the Python
// driver over HTTP: this script prints one JSON line per device authorization ({"event": "authorize", ...})
// and polls until the driver's decision shows in the token endpoint's answers.
//
// Env: ISSUER, CLIENT_ID, CLIENT_SECRET (a confidential kiosk: its approval gives tokens),
//      PUBLIC_CLIENT_ID (a public kiosk: its request is declined).
// Last line on stdout: one JSON object with every step's report; exit 1 with `error` on failure.

import * as oauth from 'oauth4webapi'
import { check, discover, fail, flow, loopbackOptions, need, refusal } from './kit.mjs'

const { step, run } = flow('device_flow')

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000))

function announce(event) {
  process.stdout.write(JSON.stringify(event) + '\n')
}

// Poll as §3.5 says: wait `interval` between polls; slow_down adds 5 seconds for this and every later poll.
async function pollUntilDecided(as, client, clientAuth, deviceCode, interval, opts) {
  const seen = []
  for (;;) {
    await sleep(interval)
    const response = await oauth.deviceCodeGrantRequest(as, client, clientAuth, deviceCode, opts)
    try {
      const tokens = await oauth.processDeviceCodeResponse(as, client, response)
      return { tokens, seen, interval }
    } catch (err) {
      if (!(err instanceof oauth.ResponseBodyError)) throw err
      seen.push(err.error)
      if (err.error === 'authorization_pending') continue
      if (err.error === 'slow_down') {
        interval += 5
        continue
      }
      return { error: err.error, status: err.status, seen, interval }
    }
  }
}

async function main() {
  const issuer = new URL(need('ISSUER'))
  const opts = loopbackOptions(issuer)
  let as

  await step('discovery', async () => {
    as = await discover(issuer, opts)
    return {
      device_authorization_endpoint: as.device_authorization_endpoint,
      grant_types_supported: as.grant_types_supported,
    }
  })

  const kiosk = { client_id: need('CLIENT_ID') }
  const kioskAuth = oauth.ClientSecretBasic(need('CLIENT_SECRET'))

  let grant
  await step('device_authorization', async () => {
    const params = { scope: 'openid profile phone', acr_values: 'urn:yiwang:loa:1' }
    const response = await oauth.deviceAuthorizationRequest(as, kiosk, kioskAuth, params, opts)
    grant = await oauth.processDeviceAuthorizationResponse(as, kiosk, response)
    return {
      user_code: grant.user_code,
      verification_uri: grant.verification_uri,
      verification_uri_complete: grant.verification_uri_complete,
      expires_in: grant.expires_in,
      interval: grant.interval,
    }
  })

  await step('slow_down', async () => {
    // Two polls at once: the second is too fast and must be told to slow down (§3.5).
    const answers = []
    for (let i = 0; i < 2; i++) {
      const response = await oauth.deviceCodeGrantRequest(as, kiosk, kioskAuth, grant.device_code, opts)
      const error = await refusal(() => oauth.processDeviceCodeResponse(as, kiosk, response))
      check(error, 'tokens before anyone approved')
      answers.push(error)
    }
    return { answers }
  })

  let approved
  await step('approved', async () => {
    announce({ event: 'authorize', decision: 'approve', user_code: grant.user_code, verification_uri_complete: grant.verification_uri_complete })
    const polled = await pollUntilDecided(as, kiosk, kioskAuth, grant.device_code, (grant.interval ?? 5) + 5, opts)
    if (!polled.tokens) fail(`expected tokens, got ${polled.error}`)
    approved = polled.tokens
    const claims = oauth.getValidatedIdTokenClaims(approved)
    return {
      seen: polled.seen,
      token_type: approved.token_type,
      has_refresh_token: Boolean(approved.refresh_token),
      id_token_claims: claims,
    }
  })

  await step('userinfo', async () => {
    const claims = oauth.getValidatedIdTokenClaims(approved)
    const response = await oauth.userInfoRequest(as, kiosk, approved.access_token, opts)
    const info = await oauth.processUserInfoResponse(as, kiosk, claims.sub, response)
    return { sub: info.sub, phone_number: info.phone_number }
  })

  await step('single_use', async () => {
    const response = await oauth.deviceCodeGrantRequest(as, kiosk, kioskAuth, grant.device_code, opts)
    const error = await refusal(() => oauth.processDeviceCodeResponse(as, kiosk, response))
    check(error, 'a device code gave tokens twice')
    return { error }
  })

  await step('declined', async () => {
    const publicKiosk = { client_id: need('PUBLIC_CLIENT_ID') }
    const response = await oauth.deviceAuthorizationRequest(as, publicKiosk, oauth.None(), { scope: 'openid' }, opts)
    const second = await oauth.processDeviceAuthorizationResponse(as, publicKiosk, response)
    announce({ event: 'authorize', decision: 'decline', user_code: second.user_code, verification_uri_complete: second.verification_uri_complete })
    const polled = await pollUntilDecided(as, publicKiosk, oauth.None(), second.device_code, second.interval ?? 5, opts)
    return { error: polled.error, status: polled.status, seen: polled.seen }
  })
}

await run(main)
