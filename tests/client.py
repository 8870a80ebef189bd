"""An HTTP client for tests, with a cookie jar and Django-style CSRF handling, over treq."""

from __future__ import annotations

import json
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import treq
from twisted.internet import reactor, ssl
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, CookieAgent, HTTPConnectionPool


class Response:
    def __init__(self, code: int, headers: Any, body: bytes) -> None:
        self.code = code
        self.headers = headers
        self.body = body

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name)
        return values[0] if values else None

    def __repr__(self) -> str:
        return f"<Response {self.code} {self.body[:300]!r}>"


class ApiClient:
    """`await client.get("/api/v1/users/me/")` -> Response; keeps cookies, sends X-CSRFToken on writes."""

    def __init__(self, base: str, ca: str | None = None) -> None:
        """`ca`: a PEM file of the CA that signed an https server's certificate."""
        self.base = base
        self.jar = CookieJar()
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        agent = Agent(reactor, pool=self.pool)
        if ca is not None:
            trust = ssl.Certificate.loadPEM(Path(ca).read_bytes())
            agent = Agent(reactor, contextFactory=BrowserLikePolicyForHTTPS(trustRoot=trust), pool=self.pool)
        self.http = treq.client.HTTPClient(CookieAgent(agent, self.jar))
        self.token: str | None = None

    def cookie(self, name: str) -> str | None:
        for c in self.jar:
            if c.name == name:
                return c.value
        return None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: dict | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict | None = None,
    ) -> Response:
        url = path if path.startswith("http") else self.base + path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        h = dict(headers or {})
        body: bytes | None = data
        if json_body is not None:
            body = json.dumps(json_body).encode()
            h.setdefault("Content-Type", "application/json")
        elif form is not None:
            body = urlencode(form, doseq=True).encode()
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.token and "Authorization" not in h:
            h["Authorization"] = f"Bearer {self.token}"
        csrf = self.cookie("csrftoken")
        if method not in ("GET", "HEAD") and csrf and "X-CSRFToken" not in h:
            h["X-CSRFToken"] = csrf
        resp = await self.http.request(
            method, url, data=body, headers={k: [v] for k, v in h.items()}, allow_redirects=False
        )
        content = await resp.content()
        return Response(resp.code, resp.headers, content)

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Response:
        return await self.request("POST", path, **kw)

    async def patch(self, path: str, **kw: Any) -> Response:
        return await self.request("PATCH", path, **kw)

    async def put(self, path: str, **kw: Any) -> Response:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)

    async def login(self, username: str, password: str) -> Response:
        """Session login as the SPA does it: fetch a CSRF cookie, then POST the form."""
        await self.get("/api/v1/instance/settings/")
        resp = await self.post("/api/v1/users/login", form={"username": username, "password": password})
        assert resp.code == 200, resp
        return resp

    async def signup(self, username: str, password: str) -> None:
        """Sign up (registration must be open) and log in."""
        await self.get("/api/v1/instance/settings/")
        resp = await self.post(
            "/api/v1/auth/registration/",
            json_body={
                "username": username,
                "email": f"{username}@example.org",
                "password1": password,
                "password2": password,
            },
        )
        assert resp.code in (200, 201, 204), resp
        await self.login(username, password)
