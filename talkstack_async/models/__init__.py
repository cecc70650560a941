"""Response and request models: frozen attrs classes."""

from talkstack_async.models.agent import Agent
from talkstack_async.models.call import (
    AnalysisQuestion,
    BatchCallResult,
    Call,
    CallAnalysis,
    CallHistoryPage,
    PlacedCall,
)
from talkstack_async.models.dial import (
    CallRequest,
    CallRequestLike,
    DialAttempt,
    DialOutcome,
    DialProgress,
    DialStatus,
)
from talkstack_async.models.enums import (
    CallStatus,
    EmailVerificationStatus,
    LoginStatus,
    QuestionType,
    SignupStatus,
)
from talkstack_async.models.phone_number import PhoneNumber
from talkstack_async.models.project import Project
from talkstack_async.models.user import (
    ActiveProjectUpdate,
    EmailVerification,
    LoginResult,
    SignupResult,
    TokenSet,
    User,
)
from talkstack_async.models.voice import Voice, VoiceLabels
from talkstack_async.models.webhook import CallStatusEvent

__all__ = [
    "ActiveProjectUpdate",
    "Agent",
    "AnalysisQuestion",
    "BatchCallResult",
    "Call",
    "CallAnalysis",
    "CallHistoryPage",
    "CallRequest",
    "CallRequestLike",
    "CallStatus",
    "CallStatusEvent",
    "DialAttempt",
    "DialOutcome",
    "DialProgress",
    "DialStatus",
    "EmailVerification",
    "EmailVerificationStatus",
    "LoginResult",
    "LoginStatus",
    "PhoneNumber",
    "PlacedCall",
    "Project",
    "QuestionType",
    "SignupResult",
    "SignupStatus",
    "TokenSet",
    "User",
    "Voice",
    "VoiceLabels",
]
