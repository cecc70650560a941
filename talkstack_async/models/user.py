from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from talkstack_async.models._base import Model, extra_field, wire
from talkstack_async.models.enums import EmailVerificationStatus, LoginStatus, SignupStatus
from talkstack_async.models.project import Project

__all__ = [
    "ActiveProjectUpdate",
    "EmailVerification",
    "LoginResult",
    "SignupResult",
    "TokenSet",
    "User",
]


@attrs.frozen
class User(Model):
    """The account. Which fields are present depends on the endpoint that returned it."""

    id: str | None = wire("id", "_id", default=None)
    email: str | None = wire("email", default=None)
    name: str | None = wire("name", default=None)
    company_name: str | None = wire("company_name", default=None)
    verified: bool | None = wire("verified", default=None)
    active_project_id: str | None = wire("active_project", default=None)
    created_at: datetime | None = wire("created_at", default=None)
    updated_at: datetime | None = wire("updated_at", default=None)
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class TokenSet(Model):
    """A bearer token (valid for 2 hours), the refresh token that renews it, and its expiry.

    The refresh response spells its key ``resfreshToken``; both spellings are read.
    """

    access_token: str = wire("token", secret=True)
    refresh_token: str | None = wire("refreshToken", "resfreshToken", default=None, secret=True)
    expires_at: datetime | None = wire("expirationTime", default=None)
    extra: Mapping[str, Any] = extra_field(secret=True)


@attrs.frozen
class LoginResult(Model):
    """What login returns: the tokens, the user, and the API's login status code."""

    access_token: str = wire("token", secret=True)
    refresh_token: str | None = wire("refreshToken", "resfreshToken", default=None, secret=True)
    expires_at: datetime | None = wire("expirationTime", default=None)
    user: User | None = wire("user", "userData", default=None)
    status: LoginStatus | None = wire("loginStatus", default=None)
    extra: Mapping[str, Any] = extra_field()

    @property
    def tokens(self) -> TokenSet:
        return TokenSet(self.access_token, self.refresh_token, self.expires_at)


@attrs.frozen
class SignupResult(Model):
    """What signup returns. The prose also promises tokens; they are read when present."""

    user: User | None = wire("user", "userData", default=None)
    status: SignupStatus | None = wire("signupStatus", default=None)
    access_token: str | None = wire("token", default=None, secret=True)
    refresh_token: str | None = wire("refreshToken", "resfreshToken", default=None, secret=True)
    expires_at: datetime | None = wire("expirationTime", default=None)
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class EmailVerification(Model):
    user: User | None = wire("userData", "user", default=None)
    status: EmailVerificationStatus | None = wire("verificationStatus", default=None)
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class ActiveProjectUpdate(Model):
    """The user and the project after ``set_active_project``."""

    user: User = wire("userData")
    project: Project = wire("projectData")
    extra: Mapping[str, Any] = extra_field()
