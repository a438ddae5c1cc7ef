// CIBA (OpenID Connect Client-Initiated Backchannel Authentication Core 1.0, poll mode) against Yiwang, driven by
// the independent strict client oauth4webapi: discovery, the backchannel authentication request and its
// acknowledgement, polling (authorization_pending), and the grant response with oauth4webapi's strict ID token
// validation; then single use (invalid_grant) and an unregistered phone (same acknowledgement, pending).
//
// The citizen is played by the Python driver (test_ciba_oauth4webapi.py) over HTTP: when this script prints the
// line `WAITING` it reads the sandbox SMS outbox, signs in and approves, then writes one line to our stdin.
//
// Env: ISSUER, CLIENT_ID, CLIENT_SECRET, PHONE, UNKNOWN_PHONE.
// Prints `WAITING`, then one JSON object as the last line of stdout; exits 1 with a clear message on failure.

import * as oauth from 'oauth4webapi'
import { check, citizenApproves, discover, flow, loopbackOptions, need, refusal } from './kit.mjs'

const { results, step, run } = flow('ciba_flow')

// The error code of a refused grant request, as oauth4webapi reports it (it throws ResponseBodyError).
async function grantError(as, client, auth, authReqId, opts) {
  const response = await oauth.backchannelAuthenticationGrantRequest(as, client, auth, authReqId, opts)
  return refusal(() => oauth.processBackchannelAuthenticationGrantResponse(as, client, response))
}

async function main() {
  const issuer = new URL(need('ISSUER'))
  const clientId = need('CLIENT_ID')
  const clientSecret = need('CLIENT_SECRET')
  const phone = need('PHONE')
  const unknownPhone = need('UNKNOWN_PHONE')
  const opts = loopbackOptions(issuer)

  let as
  await step('discovery', async () => {
    as = await discover(issuer, opts)
    check(typeof as.backchannel_authentication_endpoint === 'string', 'discovery lacks backchannel_authentication_endpoint')
    check(as.grant_types_supported?.includes('urn:openid:params:grant-type:ciba'), 'discovery lacks the CIBA grant')
    return {
      endpoint: as.backchannel_authentication_endpoint,
      modes: as.backchannel_token_delivery_modes_supported,
      user_code: as.backchannel_user_code_parameter_supported,
    }
  })

  const client = { client_id: clientId }
  const auth = oauth.ClientSecretBasic(clientSecret)
  const ask = (loginHint) =>
    oauth.backchannelAuthenticationRequest(
      as,
      client,
      auth,
      { scope: 'openid profile', login_hint: loginHint, binding_message: '工单 4711' },
      opts,
    )

  let ack
  await step('backchannel_authentication', async () => {
    const response = await ask(phone)
    ack = await oauth.processBackchannelAuthenticationResponse(as, client, response)
    return { expires_in: ack.expires_in, interval: ack.interval, auth_req_id_length: ack.auth_req_id.length }
  })

  await step('pending', async () => ({ error: await grantError(as, client, auth, ack.auth_req_id, opts) }))

  let unknownAck
  await step('unknown_phone', async () => {
    const response = await ask(unknownPhone)
    unknownAck = await oauth.processBackchannelAuthenticationResponse(as, client, response)
    return {
      status: response.status,
      same_shape: Object.keys(unknownAck).sort().join() === Object.keys(ack).sort().join(),
      expires_in: unknownAck.expires_in,
      interval: unknownAck.interval,
    }
  })

  await step('citizen_approves', async () => {
    await citizenApproves()
    return {}
  })

  let tokens
  await step('token', async () => {
    // Wait the interval the provider asked for (§7.3) before polling again.
    await new Promise((resolve) => setTimeout(resolve, (ack.interval ?? 5) * 1000))
    const response = await oauth.backchannelAuthenticationGrantRequest(as, client, auth, ack.auth_req_id, opts)
    tokens = await oauth.processBackchannelAuthenticationGrantResponse(as, client, response)
    await oauth.validateApplicationLevelSignature(as, response, opts)
    const claims = oauth.getValidatedIdTokenClaims(tokens)
    check(claims, 'no ID token in the CIBA grant response')
    results.id_token_claims = claims
    return { token_type: tokens.token_type, scope: tokens.scope, id_token_signature_verified: true }
  })

  await step('single_use', async () => ({ error: await grantError(as, client, auth, ack.auth_req_id, opts) }))
  await step('unknown_still_pending', async () => ({
    error: await grantError(as, client, auth, unknownAck.auth_req_id, opts),
  }))
}

await run(main)
