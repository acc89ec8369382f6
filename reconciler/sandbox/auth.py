"""Login with Amazon (reference §1.3) and the bearer check every API call passes (§1.4)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from reconciler.sandbox import constants as c
from reconciler.sandbox.state import World
from reconciler.sandbox.wire import ApiFailure, Request, Response

_NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))  # RFC 6749 §5.1


def _oauth_error(status: int, error: str, description: str) -> Response:
    body = {"error": error, "error_description": description}
    return Response(status, json.dumps(body).encode(), c.MT_JSON, _NO_STORE)


def handle_token(world: World, request: Request) -> Response:
    """`POST /auth/o2/token`, refresh_token grant. OAuth2 (RFC 6749 §5.2) error bodies."""
    if request.path != c.TOKEN_PATH:
        return _oauth_error(404, "invalid_request", f"no resource at {request.path}")
    if request.method != "POST":
        return _oauth_error(405, "invalid_request", "use POST")
    content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != c.MT_FORM:
        return _oauth_error(400, "invalid_request", f"send the form as Content-Type: {c.MT_FORM}")
    try:
        form = {k: v[0] for k, v in parse_qs(request.body.decode(), strict_parsing=False).items()}
    except UnicodeDecodeError:
        return _oauth_error(400, "invalid_request", "the form is not UTF-8")
    if form.get("grant_type") != "refresh_token":
        return _oauth_error(
            400, "unsupported_grant_type", "the sandbox supports grant_type=refresh_token only"
        )
    with world.lock:
        world.stats.requests["lwa:token"] += 1
        client = world.clients.get(form.get("client_id", ""))
        if client is None or client[0] != form.get("client_secret"):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        if client[1] != form.get("refresh_token"):
            return _oauth_error(
                400, "invalid_grant", "The request has an invalid grant parameter : refresh_token"
            )
        token = world.mint_token(form["client_id"])
    body = {
        "access_token": token,
        # Reference §1.3: a successful refresh returns the same refresh token.
        "refresh_token": client[1],
        "token_type": "bearer",
        "expires_in": c.ACCESS_TOKEN_LIFETIME_S,
    }
    return Response(200, json.dumps(body).encode(), c.MT_JSON, _NO_STORE)


def check_bearer(world: World, request: Request) -> None:
    """401 unless `Authorization: Bearer <live token>` and a ClientId header that matches
    the client the token was issued to (reference §1.4). Messages never echo the token."""
    client_id = request.header("Amazon-Advertising-API-ClientId")
    if not client_id:
        raise ApiFailure(401, "the Amazon-Advertising-API-ClientId header is missing")
    auth = request.header("Authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiFailure(401, "the Authorization header must be `Bearer <access token>`")
    issued = world.tokens.get(token.strip())
    if issued is None:
        raise ApiFailure(401, "the access token is not valid")
    if issued.expires_at <= world.now():
        raise ApiFailure(401, "the access token has expired: refresh it")
    if issued.client_id != client_id:
        raise ApiFailure(
            401, "Amazon-Advertising-API-ClientId does not match the client the token was issued to"
        )
