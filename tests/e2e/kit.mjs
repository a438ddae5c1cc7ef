// What the end-to-end flow scripts share: steps and their JSON report, the "browser" (plain fetch with
// `redirect: "manual"`, a tiny cookie jar, the server-rendered login/consent forms, the sandbox SMS outbox), and
// the line-by-line conversation with the Python driver that plays the citizen. The protocol itself stays
// oauth4webapi's, in each script.
//
// A script's output protocol: its last line on stdout is one JSON object ({ok, steps, ...}); on failure it also
// has `failed_step` and `error`, the same message goes to stderr, and the exit status is 1.

import * as oauth from 'oauth4webapi'
import { createInterface } from 'node:readline'

export class StepError extends Error {}

export function fail(message) {
  throw new StepError(message)
}

export function check(condition, message) {
  if (!condition) fail(message)
}

export function need(name) {
  const value = process.env[name]
  if (!value) fail(`environment variable ${name} is required`)
  return value
}

export function describeError(err) {
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

// One script's run. `step` runs one step; what it returns is its report in the output (values it produces go to
// the script's variables). `run` runs the script's main, prints the report and exits.
export function flow(name) {
  const results = { ok: false, steps: {} }
  let currentStep = 'setup'

  async function step(stepName, fn) {
    currentStep = stepName
    const report = await fn()
    results.steps[stepName] = { ok: true, ...report }
  }

  async function run(main) {
    let status = 0
    try {
      await main()
      results.ok = true
    } catch (err) {
      const message = err instanceof StepError ? err.message : describeError(err)
      results.failed_step = currentStep
      results.error = message
      process.stderr.write(`${name}: step "${currentStep}" failed: ${message}\n`)
      status = 1
    }
    process.stdout.write(JSON.stringify(results) + '\n')
    process.exit(status) // stdin may still be open (a driver's conversation): don't wait for it
  }

  return { results, step, run }
}

// Plain http is allowed only because the provider under test listens on loopback.
export function loopbackOptions(issuer) {
  return { [oauth.allowInsecureRequests]: ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname) }
}

export async function discover(issuer, opts) {
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...opts, algorithm: 'oidc' }))
}

// The error code a request was refused with (`attempt` throws it as a `kind`), or null when it was not refused.
export async function refusal(attempt, kind = oauth.ResponseBodyError) {
  try {
    await attempt()
  } catch (err) {
    if (err instanceof kind) return err.error
    throw err
  }
  return null
}

// The Python driver plays the citizen: on our line `WAITING` it approves over HTTP, then writes `APPROVED`.
export async function citizenApproves() {
  const lines = createInterface({ input: process.stdin })
  process.stdout.write('WAITING\n')
  const { value } = await lines[Symbol.asyncIterator]().next()
  lines.close()
  check(value?.trim() === 'APPROVED', `the driver said ${JSON.stringify(value)}`)
}

export function decodeJwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())
}

export function sameEndpoint(a, b) {
  const x = new URL(a)
  const y = new URL(b)
  return x.origin === y.origin && x.pathname === y.pathname
}

// --- the "browser": manual redirects, a tiny cookie jar, hidden form fields -------------------------------------

export class Browser {
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

export function hiddenInputs(html, action) {
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

export function pageError(html) {
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
export async function signInAndConsent(browser, authorizationUrl, phone, log) {
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
