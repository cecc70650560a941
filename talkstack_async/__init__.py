"""Talkstack SDK, asynchronous core (aiohttp).

::

    async with AsyncTalkstack(api_key="...") as client:
        project = await client.projects.create(name="Demo", description="...")
        async for call in client.calls.history(project.id, status="completed"):
            print(call.sid, call.status)
"""

from talkstack_async._auth import TokenCallback
from talkstack_async._batch_file import BatchSource
from talkstack_async._client import AsyncTalkstack
from talkstack_async._config import DEFAULT_TIMEOUTS, NOT_GIVEN, NotGiven, RetryPolicy, Timeouts
from talkstack_async._errors import (
    APIConnectionError,
    APIError,
    APIResponseError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    InternalServerError,
    MissingCredentialsError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    TalkstackError,
    UnprocessableEntityError,
    ValidationError,
)
from talkstack_async._version import __version__
from talkstack_async.models import (
    ActiveProjectUpdate,
    Agent,
    AnalysisQuestion,
    BatchCallResult,
    Call,
    CallAnalysis,
    CallHistoryPage,
    CallStatus,
    EmailVerification,
    EmailVerificationStatus,
    LoginResult,
    LoginStatus,
    PhoneNumber,
    PlacedCall,
    Project,
    QuestionType,
    SignupResult,
    SignupStatus,
    TokenSet,
    User,
    Voice,
    VoiceLabels,
)

__all__ = [
    "DEFAULT_TIMEOUTS",
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "ActiveProjectUpdate",
    "Agent",
    "AnalysisQuestion",
    "AsyncTalkstack",
    "AuthenticationError",
    "BadRequestError",
    "BatchCallResult",
    "BatchSource",
    "Call",
    "CallAnalysis",
    "CallHistoryPage",
    "CallStatus",
    "ClientClosedError",
    "ConflictError",
    "EmailVerification",
    "EmailVerificationStatus",
    "InternalServerError",
    "LoginResult",
    "LoginStatus",
    "MissingCredentialsError",
    "NotFoundError",
    "NotGiven",
    "PaginationError",
    "PermissionDeniedError",
    "PhoneNumber",
    "PlacedCall",
    "Project",
    "QuestionType",
    "RateLimitError",
    "RetryPolicy",
    "SignupResult",
    "SignupStatus",
    "TalkstackError",
    "Timeouts",
    "TokenCallback",
    "TokenSet",
    "UnprocessableEntityError",
    "User",
    "ValidationError",
    "Voice",
    "VoiceLabels",
    "__version__",
]
