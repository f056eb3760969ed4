"""Apps, members, tokens and authorization codes of the sandbox's OAuth2 server.

Token endpoint choices where the reference is silent (docs/classy-api.md §2):
- field validation errors collect every missing field in one 400 ``{"error": {field: [msg]},
  "queries_log": []}`` (Laravel's validator), checked before the client is authenticated;
- unknown client or wrong secret: 400 ``{"error": "invalid_client", "error_description":
  "Invalid client authentication"}`` (the status 400 is reported; the body is our guess);
- bad username/password, code or refresh token: 400 ``{"error": "invalid_grant", ...}``;
- unsupported grant: 400 ``{"error": "unsupported_grant_type", ...}``;
- refresh tokens rotate: using one issues a new one and invalidates the old (the stricter choice);
- member tokens may read the organizations their member administers (default: all of them);
- the token request for ``authorization_code`` may omit ``redirect_uri``; if sent it must match.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

Body = dict[str, Any]
GRANTS = ("client_credentials", "password", "authorization_code", "refresh_token")


@dataclass
class AppReg:
    client_id: str
    client_secret: str
    organization_ids: set[int]
    redirect_uris: list[str] = field(default_factory=list)

    def public(self) -> Body:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "organization_ids": sorted(self.organization_ids),
            "redirect_uris": list(self.redirect_uris),
        }


@dataclass
class Member:
    username: str
    password: str
    member_id: int
    organization_ids: set[int] | None = None  # None: every organization


@dataclass
class Token:
    value: str
    client_id: str
    expires_at: float
    member: Member | None = None


@dataclass
class Code:
    client_id: str
    redirect_uri: str | None
    member: Member
    expires_at: float
    scope: str | None


class OAuthError(Exception):
    """An OAuth failure with its HTTP status and JSON body."""

    def __init__(self, status: int, body: Body) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def _required(name: str) -> str:
    return f"The {name.replace('_', ' ')} field is required."


class AuthState:
    """In-memory OAuth2 server state."""

    def __init__(self, token_lifetime: int, code_lifetime: int) -> None:
        self.token_lifetime = token_lifetime
        self.code_lifetime = code_lifetime
        self.apps: dict[str, AppReg] = {}
        self.members: dict[str, Member] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, tuple[str, Member]] = {}
        self.codes: dict[str, Code] = {}

    # -- token endpoint -------------------------------------------------------------------
    def grant(self, form: dict[str, str]) -> Body:
        """Handle ``POST /oauth2/auth``; raises OAuthError."""
        errors: dict[str, list[str]] = {}
        grant_type = form.get("grant_type") or ""
        if not grant_type:
            errors["grant_type"] = [_required("grant_type")]
        if not form.get("client_id"):
            errors["client_id"] = [_required("client_id")]
        secret = form.get("client_secret") or form.get("secret_key")
        if not secret:
            errors["secret_key"] = ["The secret key field is required when client secret is not present."]
            errors["client_secret"] = ["The client secret field is required when secret key is not present."]
        for name in {
            "password": ("username", "password"),
            "authorization_code": ("code",),
            "refresh_token": ("refresh_token",),
        }.get(grant_type, ()):
            if not form.get(name):
                errors[name] = [_required(name)]
        if errors:
            raise OAuthError(400, {"error": errors, "queries_log": []})
        if grant_type not in GRANTS:
            raise OAuthError(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": (
                        "The authorization grant type is not supported by the authorization server."
                    ),
                },
            )
        app = self.apps.get(form["client_id"])
        if app is None or not secrets.compare_digest(app.client_secret, secret or ""):
            raise OAuthError(
                400, {"error": "invalid_client", "error_description": "Invalid client authentication"}
            )
        if grant_type == "client_credentials":
            return self._issue(app, None)
        if grant_type == "password":
            member = self.members.get(form["username"])
            if member is None or not secrets.compare_digest(member.password, form["password"]):
                raise OAuthError(
                    400,
                    {"error": "invalid_grant", "error_description": "The user credentials were incorrect."},
                )
            return self._issue(app, member)
        if grant_type == "authorization_code":
            return self._exchange_code(app, form)
        return self._refresh(app, form["refresh_token"])

    def _issue(self, app: AppReg, member: Member | None) -> Body:
        value = secrets.token_hex(16)
        self.tokens[value] = Token(value, app.client_id, time.time() + self.token_lifetime, member)
        body: Body = {"access_token": value, "expires_in": self.token_lifetime, "token_type": "bearer"}
        if member is not None:
            refresh = secrets.token_hex(20)
            self.refresh_tokens[refresh] = (app.client_id, member)
            body["refresh_token"] = refresh
        return body

    def _exchange_code(self, app: AppReg, form: dict[str, str]) -> Body:
        code = self.codes.get(form["code"])
        redirect = form.get("redirect_uri")
        if (
            code is None
            or code.client_id != app.client_id
            or code.expires_at < time.time()
            or (redirect and redirect != code.redirect_uri)
        ):
            raise OAuthError(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "The authorization code is invalid or has expired",
                },
            )
        del self.codes[form["code"]]
        return self._issue(app, code.member)

    def _refresh(self, app: AppReg, refresh: str) -> Body:
        entry = self.refresh_tokens.get(refresh)
        if entry is None or entry[0] != app.client_id:
            raise OAuthError(
                400, {"error": "invalid_grant", "error_description": "The refresh token is invalid."}
            )
        del self.refresh_tokens[refresh]
        return self._issue(app, entry[1])

    # -- authorize endpoint ---------------------------------------------------------------
    def authorize(self, params: dict[str, str]) -> str:
        """Auto-approve ``GET /authorize``; returns the redirect URL or raises OAuthError (400)."""
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            raise OAuthError(400, {"error": "invalid_client", "error_description": "Unknown client_id"})
        redirect = params.get("redirect_uri")
        if not redirect:
            if len(app.redirect_uris) != 1:
                raise OAuthError(
                    400, {"error": "invalid_request", "error_description": _required("redirect_uri")}
                )
            redirect = app.redirect_uris[0]
        if app.redirect_uris and redirect not in app.redirect_uris:
            raise OAuthError(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "The redirect_uri does not match a registered redirect URI",
                },
            )
        state = params.get("state")
        if params.get("response_type") != "code":
            return _with_query(redirect, {"error": "unsupported_response_type", "state": state})
        member = self.members.get(params.get("login_hint", "")) or next(iter(self.members.values()))
        value = secrets.token_urlsafe(24)
        self.codes[value] = Code(
            app.client_id,
            params.get("redirect_uri"),
            member,
            time.time() + self.code_lifetime,
            params.get("scope"),
        )
        return _with_query(redirect, {"code": value, "state": state})

    # -- resource server ------------------------------------------------------------------
    def check(self, header: str | None) -> Token | None:
        """The live token named by an ``Authorization: Bearer`` header, or None."""
        if not header or not header[:7].lower() == "bearer ":
            return None
        token = self.tokens.get(header[7:].strip())
        if token is None or token.expires_at <= time.time() or token.client_id not in self.apps:
            return None
        return token

    def can_read(self, token: Token, org_id: int) -> bool:
        if token.member is not None:
            orgs = token.member.organization_ids
            return orgs is None or org_id in orgs
        return org_id in self.apps[token.client_id].organization_ids

    def revoke(self, client_id: str | None = None) -> int:
        """Revoke access and refresh tokens (of one app, or all); returns how many access tokens."""
        doomed = [v for v, t in self.tokens.items() if client_id is None or t.client_id == client_id]
        for v in doomed:
            del self.tokens[v]
        for r in [r for r, (c, _) in self.refresh_tokens.items() if client_id is None or c == client_id]:
            del self.refresh_tokens[r]
        return len(doomed)


def _with_query(url: str, extra: dict[str, str | None]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend((k, v) for k, v in extra.items() if v is not None)
    return urlunsplit(parts._replace(query=urlencode(query)))
