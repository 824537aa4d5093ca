"""Access-token verification against the auth-service's JWKS, fetched over HTTP and cached.

Services other than auth never hold a private key: they verify with the published public
keys alone. The algorithm is pinned (EdDSA), and ``exp``, ``iat``, ``iss``, ``aud``, ``sub``
and ``jti`` are required. An unknown ``kid`` triggers one refetch of the key set, at most
once per ``refetch_interval`` so a stream of forged kids cannot turn into a stream of
fetches.

A token that verified is remembered until its ``exp`` (plus leeway): the same token comes
back with every request of its 15-minute life, and checking its Ed25519 signature each time
was about a fifth of the CPU a message send costs. Only tokens that verified are kept (a
flood of forged ones cannot fill the memory), at most ``capacity``, the oldest forgotten
first. So a key withdrawn from the JWKS stops tokens it signed only once they expire.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

from chatcore import jsonutil
from chatcore.errors import Unauthorized, Unavailable
from chatcore.httpclient import TRANSPORT_ERRORS, HttpClient
from chatcore.logs import get_logger

if TYPE_CHECKING:
    from chatcore.revocations import Revocations

log = get_logger(__name__)

ALGORITHM = "EdDSA"
ACCESS_TOKEN_TYPE = "at+jwt"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti"]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says about its bearer."""

    user_id: uuid.UUID
    name: str
    expires_at: int
    token_id: str
    issued_at: int = 0
    # Site roles (``"admin"``): what the user may do beyond their own rooms.
    roles: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class UnknownKey(Exception):
    """The token names a ``kid`` the cached key set does not hold."""


class TokenVerifier:
    """Verifies access tokens with the keys of a JWKS URL."""

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        leeway: int = 30,
        http: HttpClient | None = None,
        refetch_interval: float = 10.0,
        capacity: int = 10_000,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._http = http
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._refetch_interval = refetch_interval
        self._lock = asyncio.Lock()
        self.capacity = capacity
        self._verified: dict[str, AccessClaims] = {}
        # Set by a process that follows revocations (chatcore.revocations): checked on
        # every verification, cached or not.
        self.revocations: Revocations | None = None

    async def verify(self, token: str) -> AccessClaims:
        """The token's claims if it is a valid access token; :class:`Unauthorized` otherwise."""
        try:
            return self.verify_cached(token)
        except UnknownKey:
            await self.refresh(force=False)
            try:
                return self.verify_cached(token)
            except UnknownKey:
                raise Unauthorized("The token's key is not known.", code="invalid_token") from None

    def verify_cached(self, token: str) -> AccessClaims:
        """Verify with the keys already fetched; raises :class:`UnknownKey` if it needs more."""
        claims = self._verified.get(token)
        if claims is not None:
            if time.time() < claims.expires_at + self.leeway:
                if self.revocations is not None:
                    self.revocations.check(claims.user_id, claims.issued_at)
                return claims
            del self._verified[token]  # expired: verify again, which says so
        claims = self._verify_signed(token)
        if self.revocations is not None:
            self.revocations.check(claims.user_id, claims.issued_at)
        if len(self._verified) >= self.capacity:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = claims
        return claims

    def _verify_signed(self, token: str) -> AccessClaims:
        if len(token) > 8192:
            raise Unauthorized("The token is too long.", code="invalid_token")
        header = _header(token)
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("The token's algorithm is not accepted.", code="invalid_token")
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise Unauthorized("The token is not an access token.", code="invalid_token")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("The token names no key.", code="invalid_token")
        key = self._keys.get(kid)
        if key is None:
            raise UnknownKey(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired.", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("The token is not valid.", code="invalid_token") from None
        try:
            user_id = uuid.UUID(str(claims["sub"]))
            expires_at = int(claims["exp"])
            issued_at = int(claims["iat"])
        except (ValueError, TypeError):
            raise Unauthorized("The token's claims are malformed.", code="invalid_token") from None
        roles = claims.get("roles")
        return AccessClaims(
            user_id=user_id,
            name=str(claims.get("name", "")),
            expires_at=expires_at,
            token_id=str(claims["jti"]),
            issued_at=issued_at,
            roles=tuple(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else (),
        )

    async def refresh(self, *, force: bool = True) -> None:
        """Fetch the key set (unless one was fetched within the refetch interval)."""
        async with self._lock:
            if not force and time.monotonic() - self._fetched_at < self._refetch_interval:
                return
            self._fetched_at = time.monotonic()
            try:
                http = self._http or HttpClient(timeout=5.0)
                try:
                    answer = await http.request("GET", self.jwks_url)
                finally:
                    if self._http is None:
                        await http.aclose()
                if answer.status != 200:
                    raise ValueError(f"the key set answered {answer.status}")
                self._keys = parse_jwks(jsonutil.loads(answer.body))
            except (*TRANSPORT_ERRORS, ValueError) as exc:
                log.warning("jwks_fetch_failed", url=self.jwks_url, error=type(exc).__name__)
                if not self._keys:
                    raise Unavailable("The token keys cannot be fetched.") from None

    def load(self, document: Any) -> None:
        """Use the keys of a JWKS document already at hand (the issuer's own)."""
        self._keys = parse_jwks(document)
        self._fetched_at = time.monotonic()

    @property
    def has_keys(self) -> bool:
        return bool(self._keys)


def _header(token: str) -> dict[str, Any]:
    """The token's header, read only to pick the key: ``jwt.decode`` then checks the whole
    token (PyJWT's own header reader validates every character in Python, and decoding
    would do it all again)."""
    head, dot, _ = token.partition(".")
    try:
        if not dot:
            raise ValueError("no payload")
        header = jsonutil.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        raise Unauthorized("The token is malformed.", code="invalid_token") from None
    if not isinstance(header, dict):
        raise Unauthorized("The token is malformed.", code="invalid_token")
    return header


def parse_jwks(document: Any) -> dict[str, jwt.PyJWK]:
    """The usable Ed25519 keys of a JWKS document, by ``kid``; others are skipped."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "OKP" or "kid" not in entry:
            continue
        try:
            keys[str(entry["kid"])] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        except jwt.PyJWTError:
            log.warning("jwks_key_skipped", kid=str(entry.get("kid")))
    return keys
