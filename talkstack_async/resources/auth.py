"""Account endpoints: signup, email verification, login, token refresh, passwords."""

from __future__ import annotations

from typing_extensions import Unpack

from talkstack_async import _endpoints as ep
from talkstack_async._options import RequestOptions
from talkstack_async._validation import check_email, check_id, check_text
from talkstack_async.models.user import EmailVerification, LoginResult, SignupResult, TokenSet
from talkstack_async.resources._base import AsyncResource

__all__ = ["AsyncAuthResource"]


class AsyncAuthResource(AsyncResource):
    """``client.auth``: the account's lifecycle. These calls never change the client's own
    credentials; create a client with ``email=``/``password=`` to have it log in by itself."""

    __slots__ = ()

    async def signup(
        self, *, email: str, password: str, name: str, **options: Unpack[RequestOptions]
    ) -> SignupResult:
        """Register an account; Talkstack then emails a verification code.

        Args:
            email: The account's email address.
            password: The account's password.
            name: The user's display name.

        Returns:
            The new user and the API's signup status (``SignupStatus``).

        Raises:
            BadRequestError: A field is missing, the email is invalid, or the account exists.
            ValidationError: An argument is empty or malformed (nothing is sent).
        """
        return await self._get_one(
            ep.SIGNUP,
            SignupResult,
            options,
            email=check_email("email", email),
            password=check_text("password", password, max_length=1024),
            name=check_text("name", name, max_length=200),
        )

    async def verify_email(
        self, *, email: str, code: str, **options: Unpack[RequestOptions]
    ) -> EmailVerification:
        """Confirm the email address with the code Talkstack sent.

        Args:
            email: The address being verified.
            code: The verification code from the email.

        Returns:
            The user and the API's verification status (``EmailVerificationStatus``).

        Raises:
            BadRequestError: Missing or invalid email or code, or already verified.
            NotFoundError: The email is not registered for verification.
            ValidationError: An argument is empty or malformed (nothing is sent).
        """
        return await self._get_one(
            ep.VERIFY_EMAIL,
            EmailVerification,
            options,
            email=check_email("email", email),
            code=check_text("code", code, max_length=64),
        )

    async def resend_verification_code(
        self, *, email: str, **options: Unpack[RequestOptions]
    ) -> None:
        """Email a new verification code.

        Raises:
            BadRequestError: The email is missing or invalid.
            NotFoundError: The email is not registered.
            ValidationError: ``email`` is malformed (nothing is sent).
        """
        await self._send(ep.RESEND_CODE, options, email=check_email("email", email))

    async def login(
        self, *, email: str, password: str, **options: Unpack[RequestOptions]
    ) -> LoginResult:
        """Log in and get a bearer token (valid 2 hours) and a refresh token.

        Returns:
            The tokens (``result.tokens``), the user and the API's ``LoginStatus``.

        Raises:
            AuthenticationError: Wrong password (401).
            NotFoundError: No such user.
            BadRequestError: A field is missing.
            ValidationError: An argument is empty or malformed (nothing is sent).
        """
        return await self._get_one(
            ep.LOGIN,
            LoginResult,
            options,
            email=check_email("email", email),
            password=check_text("password", password, max_length=1024),
        )

    async def refresh(self, *, refresh_token: str, **options: Unpack[RequestOptions]) -> TokenSet:
        """Exchange a refresh token for a new bearer token.

        The response's documented key ``resfreshToken`` (sic) is read as well as
        ``refreshToken``.

        Raises:
            AuthenticationError: The refresh token is invalid or expired (401).
            NotFoundError: The user no longer exists.
            ValidationError: ``refresh_token`` is empty (nothing is sent).
        """
        return await self._get_one(
            ep.REFRESH, TokenSet, options, refresh_token=check_id("refresh_token", refresh_token)
        )

    async def change_password(
        self, *, old_password: str, new_password: str, **options: Unpack[RequestOptions]
    ) -> None:
        """Change the password of the authenticated account.

        Raises:
            AuthenticationError: The old password is wrong, or the client's credentials are.
            BadRequestError: A field is missing.
            ValidationError: A password is empty (nothing is sent).
        """
        await self._send(
            ep.CHANGE_PASSWORD,
            options,
            old_password=check_text("old_password", old_password, max_length=1024),
            new_password=check_text("new_password", new_password, max_length=1024),
        )

    async def forgot_password(self, *, email: str, **options: Unpack[RequestOptions]) -> None:
        """Ask for a password-reset link by email (sent only if the email is registered).

        Raises:
            BadRequestError, NotFoundError: As the API documents.
            ValidationError: ``email`` is malformed (nothing is sent).
        """
        await self._send(ep.FORGOT_PASSWORD, options, email=check_email("email", email))

    async def reset_password(
        self,
        *,
        token: str,
        new_password: str,
        email: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> None:
        """Set a new password with the token from the reset link.

        Args:
            token: The reset token from the link.
            new_password: The new password.
            email: Optional; the prose of the docs lists it, their example body does not.

        Raises:
            BadRequestError: The token is invalid or expired.
            ValidationError: An argument is empty or malformed (nothing is sent).
        """
        await self._send(
            ep.RESET_PASSWORD,
            options,
            token=check_id("token", token),
            new_password=check_text("new_password", new_password, max_length=1024),
            email=None if email is None else check_email("email", email),
        )
