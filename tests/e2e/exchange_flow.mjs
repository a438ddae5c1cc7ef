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
import { createInterface } from 'node:readline'

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token'
const results = { ok: false, steps: {} }
let currentStep = 'setup'

class StepError extends Error {}

function check(condition, message) {
  if (!condition) throw new StepError(message)
}

function need(name) {
  const value = process.env[name]
  check(value, `environment variable ${name} is required`)
  return value
}

async function step(name, fn) {
  currentStep = name
  const report = await fn()
  results.steps[name] = { ok: true, ...report }
}

function describeError(err) {
  if (err instanceof oauth.ResponseBodyError) {
    return `${err.message}: HTTP ${err.status} ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`
  }
  if (err instanceof oauth.OperationProcessingError) return `${err.message} [${err.code}]`
  return err?.stack || String(err)
}

function payload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()

async function main() {
  const issuer = new URL(need('ISSUER'))
  const client = { client_id: need('CLIENT_ID') }
  const auth = oauth.ClientSecretBasic(need('CLIENT_SECRET'))
  const audience = need('AUDIENCE')
  const otherAudience = need('OTHER_AUDIENCE')
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname)
  const opts = { [oauth.allowInsecureRequests]: loopback }

  let as
  await step('discovery', async () => {
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...opts, algorithm: 'oidc' }))
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
    process.stdout.write('WAITING\n')
    const { value } = await lines.next()
    check(value?.trim() === 'APPROVED', `the driver said ${JSON.stringify(value)}`)
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

  const refusal = async (extra) => {
    try {
      await oauth.processGenericTokenEndpointResponse(as, client, await exchange(extra))
    } catch (err) {
      if (err instanceof oauth.ResponseBodyError) return { error: err.error }
      throw err
    }
    return { error: null }
  }
  await step('other_audience', () => refusal({ audience: otherAudience }))
  await step('wider_scope', () => refusal({ audience, scope: 'openid phone' }))

  results.ok = true
}

try {
  await main()
  process.stdout.write(JSON.stringify(results) + '\n')
  process.exit(0)
} catch (err) {
  const message = err instanceof StepError ? err.message : describeError(err)
  results.failed_step = currentStep
  results.error = message
  process.stdout.write(JSON.stringify(results) + '\n')
  process.stderr.write(`exchange_flow: step "${currentStep}" failed: ${message}\n`)
  process.exit(1)
}
