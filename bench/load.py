"""Load against a cluster, every request judged: complete logins, token grants and seal requests.

`Load(cluster, ...)` runs virtual clients on an asyncio loop in a thread of its own (the fault harness keeps the
main thread to break things), each looping over a mix of operations until `stop()`:

- login: a complete sign-in of a new person through the balancer (authorize -> login page -> send SMS code ->
  read it from the sandbox outbox -> code + agreement + consent -> token with PKCE), scope
  `openid phone offline_access`, checked as bench/oidc_bench.py checks it (state, iss, nonce); its refresh token
  joins a pool;
- refresh: one refresh token from the pool rotated (grant_type=refresh_token); the new one goes back;
- cc: a client_credentials grant;
- seal: CSC credentials/authorize + signatures/signHash of a fresh hash with the bench seal.

Each operation ends as one `Outcome`: `ok`; `clean` (a 4xx with an error body, or a 503 — the client was told,
and can start again); `cut` (a 502/504 from the balancer: the node died with the request in flight; nothing is
known, so the integrity checks afterwards must find nothing half-written); or `lost` (a 500, no answer within
the timeout, or a success whose content is wrong). Lost must be 0.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
import random
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.cluster import Cluster
from bench.oidc_bench import Authorization, VirtualBrowser, hidden_fields, jwt_part

CSC_SHA256 = "2.16.840.1.101.3.4.2.1"
CSC_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
TIMEOUT_S = 30.0
KINDS = ("login", "refresh", "cc", "seal")


class Judged(Exception):
    """An operation ended other than ok: how, and where."""

    def __init__(self, outcome: str, step: str, detail: str = "") -> None:
        super().__init__(f"{step}: {detail}")
        self.outcome, self.step, self.detail = outcome, step, detail


def judge(r: httpx.Response, step: str, ok: tuple[int, ...] = (200,)) -> httpx.Response:
    if r.status_code in ok:
        return r
    body = r.text[:160].replace("\n", " ")
    if r.status_code in (502, 504):
        raise Judged("cut", step, f"{r.status_code} from the balancer")
    if r.status_code == 503 or 400 <= r.status_code < 500:
        if not body.strip():
            raise Judged("lost", step, f"{r.status_code} without an explanation")
        raise Judged("clean", step, f"{r.status_code} {body[:80]}")
    raise Judged("lost", step, f"{r.status_code} {body}")


@dataclass
class Setup:
    """What the load needs registered in the cluster: a relying party, a service client allowed to use a seal."""

    rp_id: str
    rp_secret: str
    redirect_uri: str
    cc_id: str
    cc_secret: str
    seal_id: str

    @classmethod
    def register(cls, cluster: Cluster) -> Setup:
        redirect = f"{cluster.base}/rp/cb"
        rp = cluster.yiwang(
            "client", "add", "--name", "bench RP", "--redirect-uri", redirect,
            "--grant", "authorization_code", "--grant", "refresh_token",
            "--scope", "openid", "--scope", "phone", "--scope", "offline_access",
        )  # fmt: skip
        cc = cluster.yiwang(
            "client", "add", "--name", "bench service", "--grant", "client_credentials", "--scope", "seal"
        )
        uscc = "91110000600037341L"
        cluster.yiwang("org", "add", "--uscc", uscc, "--name", "压测有限公司", "--kind", "enterprise")
        seal = cluster.yiwang("seal", "create", "--org", uscc, "--type", "official", "--client", cc["client_id"])
        return cls(rp["client_id"], rp["client_secret"], redirect, cc["client_id"], cc["client_secret"], seal["id"])


@dataclass
class Tally:
    """Outcomes per kind, reasons for anything not ok, and when each success finished (for gaps)."""

    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: {k: Counter() for k in KINDS})
    reasons: Counter[str] = field(default_factory=Counter)
    ok_times: list[float] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    failed_logins: list[str] = field(default_factory=list)  # phones, to retry from the start
    sms_sent: Counter[str] = field(default_factory=Counter)  # phone -> SMS sends the service said it made
    sms_tried: set[str] = field(default_factory=set)  # phones whose send was asked, whatever the answer

    def count(self, kind: str, outcome: str, reason: str = "") -> None:
        self.outcomes[kind][outcome] += 1
        if reason:
            self.reasons[f"{kind} {outcome}: {reason}"] += 1

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.outcomes.values())

    def tried(self) -> int:
        return sum(sum(c.values()) for c in self.outcomes.values())


class Load:
    """Virtual clients against `cluster.base`; see the module docstring. `mix` weighs the kinds."""

    def __init__(
        self,
        cluster: Cluster,
        setup: Setup,
        clients: int = 8,
        mix: dict[str, int] | None = None,
        limits: dict[str, int] | None = None,
        prefix: str = "139",
    ) -> None:
        self.cluster, self.setup, self.clients = cluster, setup, clients
        self.mix = mix or {"login": 2, "refresh": 3, "cc": 3, "seal": 1}
        self.limits = limits or {}  # kind -> how many to start at most (a soak's N and M)
        self.tally = Tally()
        self.refresh_pool: list[str] = []
        self._phones = (f"{prefix}{n:08d}" for n in itertools.count(random.randrange(10**7) * 10))
        self._started: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seal_token: str | None = None
        # Each operation is a new client (a new browser, a new connection through the balancer), but not a new
        # TLS context: building one loads the CA store, which made the load generator, not the nodes, the
        # bottleneck (the cluster speaks plain HTTP on loopback).
        self._tls = ssl.create_default_context()

    # --- running ------------------------------------------------------------------------------------------------

    def start(self) -> Load:
        self._stop.clear()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True, name="load")
        self._thread.start()
        return self

    def stop(self) -> Tally:
        """Stop starting operations and wait for those in flight (each ends within the timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT_S * 8)
        return self.tally

    def wait(self) -> Tally:
        """Until every kind's limit is reached (limits given) and in-flight operations ended."""
        if self._thread is not None:
            self._thread.join()
        return self.tally

    def _pick(self) -> str | None:
        kinds = [k for k, w in self.mix.items() if w > 0 and self._started[k] < self.limits.get(k, 1 << 62)]
        if "refresh" in kinds and not self.refresh_pool:
            kinds.remove("refresh")
            if not kinds and self._started["login"] < self.limits.get("login", 1 << 62):
                kinds = ["login"]
        if not kinds:
            return None if not self.limits or self._started["refresh"] >= self.limits.get("refresh", 0) else "wait"
        return random.choices(kinds, weights=[self.mix[k] for k in kinds])[0]

    async def _run(self) -> None:
        await asyncio.gather(*(self._client() for _ in range(self.clients)))

    async def _client(self) -> None:
        while not self._stop.is_set():
            kind = self._pick()
            if kind is None:
                return
            if kind == "wait":  # refreshes left to do, their tokens still being made by logins in flight
                await asyncio.sleep(0.05)
                continue
            self._started[kind] += 1
            await self.one(kind)

    async def one(self, kind: str, phone: str | None = None) -> str:
        """Run one operation of `kind`, count its outcome, return it."""
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        began = time.monotonic()
        async with httpx.AsyncClient(
            base_url=self.cluster.base, limits=limits, timeout=TIMEOUT_S, verify=self._tls
        ) as http:
            try:
                if kind == "login":
                    phone = phone or next(self._phones)
                    try:
                        await self._login(VirtualBrowser(http), phone)
                    except Judged:
                        self.tally.failed_logins.append(phone)
                        raise
                elif kind == "refresh":
                    await self._refresh(http)
                elif kind == "cc":
                    await self._cc(http)
                else:
                    await self._seal(http)
            except Judged as j:
                self.tally.count(kind, j.outcome, f"{j.step}: {j.detail[:70]}")
                return j.outcome
            except httpx.TimeoutException:
                self.tally.count(kind, "lost", "no answer within the timeout")
                return "lost"
            except httpx.TransportError as exc:
                # The balancer itself refused or dropped the connection: the client was told nothing.
                self.tally.count(kind, "cut", f"transport {type(exc).__name__}")
                return "cut"
        self.tally.count(kind, "ok")
        self.tally.ok_times.append(time.monotonic())
        self.tally.latencies[kind].append(time.monotonic() - began)
        return "ok"

    # --- the operations -----------------------------------------------------------------------------------------

    def _ctx(self) -> dict[str, str]:
        return {
            "client_id": self.setup.rp_id,
            "client_secret": self.setup.rp_secret,
            "redirect_uri": self.setup.redirect_uri,
            "scope": "openid phone offline_access",
            "authorize": "/authorize",
            "issuer": self.cluster.base,
        }

    async def _login(self, b: VirtualBrowser, phone: str) -> None:
        az = Authorization(self._ctx())
        r = judge(await b.request("GET", az.url), "authorize", (302, 303))
        loc = r.headers.get("location", "")
        if not loc.startswith("/login?flow="):
            raise Judged("lost", "authorize", f"to {loc[:60]}")
        page = judge(await b.request("GET", loc), "login page")
        form = {**hidden_fields(page.text), "phone": phone}
        self.tally.sms_tried.add(phone)
        sent = judge(await b.request("POST", "/login/sms", data=form), "send sms")
        if 'name="code"' not in sent.text:
            raise Judged("clean", "send sms", "the page asks again")  # e.g. a provider error shown on the page
        self.tally.sms_sent[phone] += 1
        outbox = judge(await b.request("GET", "/sandbox/sms/outbox", params={"phone": phone}), "outbox")
        messages = outbox.json().get("messages") or []
        if not messages or not messages[0].get("code"):
            raise Judged("lost", "outbox", "the service said sent, the outbox has nothing")
        form |= {**hidden_fields(sent.text), "code": messages[0]["code"], "agree": "yes", "decision": "approve"}
        back = judge(await b.request("POST", "/login/code", data=form), "check code", (302,))
        await self._finish(b, az, back.headers["location"])

    async def _finish(self, b: VirtualBrowser, az: Authorization, back: str) -> None:
        from urllib.parse import parse_qs, urlsplit

        if not back.startswith(self.setup.redirect_uri + "?"):
            raise Judged("lost", "redirect back", back[:60])
        params = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
        if params.get("state") != az.state or params.get("iss") != self.cluster.base or "code" not in params:
            raise Judged("lost", "authorization response", str(sorted(params)))
        data = {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": self.setup.redirect_uri,
            "code_verifier": az.verifier,
        }
        auth = (self.setup.rp_id, self.setup.rp_secret)
        body = judge(await b.request("POST", "/token", data=data, auth=auth), "token").json()
        if jwt_part(body.get("id_token", "x.e30.x"), 1).get("nonce") != az.nonce or "refresh_token" not in body:
            raise Judged("lost", "token", f"id_token nonce or refresh_token missing: {sorted(body)}")
        self.refresh_pool.append(body["refresh_token"])

    async def _refresh(self, http: httpx.AsyncClient) -> None:
        token = self.refresh_pool.pop(random.randrange(len(self.refresh_pool)))
        data = {"grant_type": "refresh_token", "refresh_token": token}
        r = judge(await http.post("/token", data=data, auth=(self.setup.rp_id, self.setup.rp_secret)), "refresh")
        body = r.json()
        if "access_token" not in body or "refresh_token" not in body:
            raise Judged("lost", "refresh", f"answer without tokens: {sorted(body)}")
        self.refresh_pool.append(body["refresh_token"])

    async def _cc(self, http: httpx.AsyncClient, scope: str | None = None) -> str:
        data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        r = judge(await http.post("/token", data=data, auth=(self.setup.cc_id, self.setup.cc_secret)), "cc grant")
        token = r.json().get("access_token")
        if not token or jwt_part(token, 1).get("client_id") != self.setup.cc_id:
            raise Judged("lost", "cc grant", "no access token for this client")
        return str(token)

    async def _seal(self, http: httpx.AsyncClient) -> None:
        if self._seal_token is None:
            self._seal_token = await self._cc(http, "seal")
        headers = {"Authorization": f"Bearer {self._seal_token}"}
        hashes = [base64.b64encode(hashlib.sha256(os.urandom(16)).digest()).decode()]
        body = {"credentialID": self.setup.seal_id, "numSignatures": 1, "hashes": hashes}
        try:
            r = judge(await http.post("/csc/v2/credentials/authorize", headers=headers, json=body), "csc authorize")
        except Judged as j:
            if "401" in j.detail:
                self._seal_token = None  # expired: the next one asks for a new token
            raise
        sign = {
            "credentialID": self.setup.seal_id,
            "SAD": r.json()["SAD"],
            "hashes": hashes,
            "hashAlgorithmOID": CSC_SHA256,
            "signAlgo": CSC_ECDSA_SHA256,
        }
        done = judge(await http.post("/csc/v2/signatures/signHash", headers=headers, json=sign), "csc signHash")
        if len(done.json().get("signatures", [])) != 1:
            raise Judged("lost", "csc signHash", "no signature in a 200")

    # --- after a fault ------------------------------------------------------------------------------------------

    def retry_failed_logins(self) -> tuple[int, int]:
        """Each login that did not complete, again from the start with the same phone: (retried, completed)."""
        phones, self.tally.failed_logins = self.tally.failed_logins, []
        retry = Load(self.cluster, self.setup)
        retry._phones = iter(())
        # The retries' SMS are the service's sends too, for the outbox comparison.
        retry.tally.sms_sent, retry.tally.sms_tried = self.tally.sms_sent, self.tally.sms_tried
        outcomes = asyncio.run(_gather(retry, phones))
        return len(phones), outcomes.count("ok")


async def _gather(load: Load, phones: list[str]) -> list[str]:
    sem = asyncio.Semaphore(8)

    async def one(phone: str) -> str:
        async with sem:
            return await load.one("login", phone)

    return list(await asyncio.gather(*(one(p) for p in phones)))
