// Token exchange (RFC 8693) against Yiwang, driven by the independent strict client oauth4webapi: a department's
// back end gets a citizen's access token (by CIBA, the citizen approving on their phone) and exchanges it with
// `genericTokenEndpointRequest` for a token addressed to another department's API; then a target it may not ask
// for (invalid_target) and a scope wider than the subject token's (invalid_scope).
//
// The citizen is played by the Python driver (test_exchange_oauth4webapi.py): on the line `WAITING` it approves
// over HTTP and writes one line to our stdin.
//
// Env: ISSUER, CLIENT_ID, CLIENT_SECRET, PHONE, AUDIENCE, OTHER_AUDIENCE.
// Prints `WAITING`, then one JSON object as the last line of stdout; exits 1 with a clear message on failure.

import * as oauth from 'oauth4webapi'
import {
  check,
  citizenApproves,
  decodeJwtPayload as payload,
  discover,
  flow,
  loopbackOptions,
  need,
  refusal,
} from './kit.mjs'

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token'
const { results, step, run } = flow('exchange_flow')

async function main() {
  const issuer = new URL(need('ISSUER'))
  const client = { client_id: need('CLIENT_ID') }
  const auth = oauth.ClientSecretBasic(need('CLIENT_SECRET'))
  const audience = need('AUDIENCE')
  const otherAudience = need('OTHER_AUDIENCE')
  const opts = loopbackOptions(issuer)

  let as
  await step('discovery', async () => {
    as = await discover(issuer, opts)
    check(as.grant_types_supported?.includes(EXCHANGE), 'discovery lacks the token-exchange grant')
    return {}
  })

  let subject
  await step('citizen_token', async () => {
    const request = await oauth.backchannelAuthenticationRequest(
      as,
      client,
      auth,
      { scope: 'openid profile', login_hint: need('PHONE'), binding_message: '代办 0815' },
      opts,
    )
    const ack = await oauth.processBackchannelAuthenticationResponse(as, client, request)
    await citizenApproves()
    const response = await oauth.backchannelAuthenticationGrantRequest(as, client, auth, ack.auth_req_id, opts)
    subject = (await oauth.processBackchannelAuthenticationGrantResponse(as, client, response)).access_token
    return { scope: payload(subject).scope }
  })

  const exchange = (extra) =>
    oauth.genericTokenEndpointRequest(
      as,
      client,
      auth,
      EXCHANGE,
      { subject_token: subject, subject_token_type: ACCESS, ...extra },
      opts,
    )

  await step('exchange', async () => {
    const response = await exchange({ audience, scope: 'openid' })
    const body = await oauth.processGenericTokenEndpointResponse(as, client, response)
    check(body.issued_token_type === ACCESS, `issued_token_type ${body.issued_token_type}`)
    const before = payload(subject)
    const after = payload(body.access_token)
    results.exchanged_claims = after
    return {
      token_type: body.token_type,
      issued_token_type: body.issued_token_type,
      same_sub: after.sub === before.sub,
      not_longer: after.exp <= before.exp,
    }
  })

  const refused = async (extra) => ({
    error: await refusal(async () => oauth.processGenericTokenEndpointResponse(as, client, await exchange(extra))),
  })
  await step('other_audience', () => refused({ audience: otherAudience }))
  await step('wider_scope', () => refused({ audience, scope: 'openid phone' }))
}

await run(main)
