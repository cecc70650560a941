"""Users, passwords, email codes, API keys and expiring bearer tokens.

Assumptions where the docs are silent (each one easy to change here):

* a new account must verify its email before it can log in (login answers 400 with
  ``loginStatus`` 2, ACCOUNT_NOT_VERIFIED); verification and reset codes go to ``mailbox``;
* refresh tokens rotate: a refresh answers a new pair and the old refresh token stops working,
  which is what makes a client that refreshes twice at once visible;
* generating an API key replaces the previous key.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import attrs

from talkstack_async.testing._errors import Refusal
from talkstack_async.testing._records import UserRecord, iso, new_id

__all__ = ["Accounts", "Mail", "Session"]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_REFRESH_LIFETIME = 30 * 24 * 3600.0


@attrs.frozen
class Mail:
    """A message the emulator "sent": a verification code or a password-reset token."""

    to: str
    kind: str  # "verification" or "password-reset"
    code: str = attrs.field(repr=False)


@attrs.frozen
class Session:
    user_id: str
    expires_at: float


@attrs.define
class Accounts:
    clock: Callable[[], float]
    token_ttl: float
    users: dict[str, UserRecord] = attrs.field(factory=dict)  # by email
    mailbox: list[Mail] = attrs.field(factory=list)
    _by_id: dict[str, UserRecord] = attrs.field(factory=dict)
    _by_key: dict[str, UserRecord] = attrs.field(factory=dict)
    _tokens: dict[str, Session] = attrs.field(factory=dict)
    _refresh: dict[str, Session] = attrs.field(factory=dict)
    _resets: dict[str, str] = attrs.field(factory=dict)  # reset token -> email
    refreshes: int = 0  # refresh requests that succeeded

    # -- signup and verification ------------------------------------------------------------
    def signup(self, email: str, password: str, name: str) -> UserRecord:
        _check_email(email)
        if email.lower() in self.users:
            raise Refusal(400, "user already exists.", signupStatus=1)
        user = UserRecord(new_id(), email, name, password, created_at=self.clock())
        self.users[email.lower()] = user
        self._by_id[user.id] = user
        self._send_code(user)
        return user

    def _send_code(self, user: UserRecord) -> None:
        user.verification_code = f"{secrets.randbelow(10**6):06d}"
        self.mailbox.append(Mail(user.email, "verification", user.verification_code))

    def _unverified(self, email: str) -> UserRecord:
        _check_email(email)
        user = self.users.get(email.lower())
        if user is None:
            raise Refusal(404, "email not registered for verification.", verificationStatus=5)
        if user.verified:
            raise Refusal(400, "email already verified.", verificationStatus=4)
        return user

    def verify(self, email: str, code: str) -> UserRecord:
        user = self._unverified(email)
        if not secrets.compare_digest(code.encode(), (user.verification_code or "").encode()):
            raise Refusal(400, "invalid verification code.", verificationStatus=1)
        user.verified = True
        user.verification_code = None
        user.updated_at = self.clock()
        return user

    def resend(self, email: str) -> None:
        self._send_code(self._unverified(email))

    def create_verified(self, email: str, password: str, name: str) -> UserRecord:
        user = self.signup(email, password, name)
        user.verified = True
        user.verification_code = None
        self.mailbox.pop()
        return user

    # -- passwords --------------------------------------------------------------------------
    def check_password(self, email: str, password: str) -> UserRecord:
        _check_email(email)
        user = self.users.get(email.lower())
        if user is None:
            raise Refusal(404, "user not found.", loginStatus=3)
        if not secrets.compare_digest(password.encode(), user.password.encode()):
            raise Refusal(401, "invalid password.", loginStatus=4)
        if not user.verified:
            raise Refusal(400, "account not verified.", loginStatus=2)
        return user

    def change_password(self, user: UserRecord, old: str, new: str) -> None:
        if not secrets.compare_digest(old.encode(), user.password.encode()):
            raise Refusal(401, "old password is incorrect.")
        user.password = new
        user.updated_at = self.clock()

    def forgot(self, email: str) -> None:
        _check_email(email)
        if email.lower() not in self.users:
            raise Refusal(404, "user not found.")
        token = secrets.token_urlsafe(24)
        self._resets[token] = email.lower()
        self.mailbox.append(Mail(email, "password-reset", token))

    def reset(self, token: str, new_password: str) -> None:
        email = self._resets.pop(token, None)
        if email is None:
            raise Refusal(400, "reset token is invalid or has expired.")
        self.users[email].password = new_password
        self.users[email].updated_at = self.clock()

    # -- tokens and keys --------------------------------------------------------------------
    def issue_tokens(self, user: UserRecord) -> tuple[str, str, str | None]:
        """A new bearer token and refresh token, and the token's expiry in ISO 8601."""
        now = self.clock()
        token, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._tokens[token] = Session(user.id, now + self.token_ttl)
        self._refresh[refresh] = Session(user.id, now + _REFRESH_LIFETIME)
        return token, refresh, iso(now + self.token_ttl)

    def refresh(self, refresh_token: str) -> tuple[str, str, str | None]:
        session = self._refresh.pop(refresh_token, None)
        if session is None or session.expires_at <= self.clock():
            raise Refusal(401, "invalid or expired refresh token.")
        user = self._by_id.get(session.user_id)
        if user is None:
            raise Refusal(404, "user not found.")
        self.refreshes += 1
        return self.issue_tokens(user)

    def by_token(self, token: str) -> UserRecord:
        session = self._tokens.get(token)
        if session is None:
            raise Refusal(401, "invalid token.")
        if session.expires_at <= self.clock():
            del self._tokens[token]
            raise Refusal(401, "token expired.")
        return self._by_id[session.user_id]

    def by_api_key(self, key: str) -> UserRecord:
        user = self._by_key.get(key)
        if user is None:
            raise Refusal(401, "invalid api key.")
        return user

    def new_api_key(self, user: UserRecord) -> str:
        if user.api_key is not None:
            self._by_key.pop(user.api_key, None)
        user.api_key = secrets.token_hex(32)
        self._by_key[user.api_key] = user
        return user.api_key

    def expire_tokens(self) -> None:
        """Make every bearer token expire now (refresh tokens stay valid)."""
        now = self.clock()
        self._tokens = {t: Session(s.user_id, now) for t, s in self._tokens.items()}


def _check_email(email: str) -> None:
    if not email or not _EMAIL.fullmatch(email):
        raise Refusal(400, "invalid email.", signupStatus=5)
