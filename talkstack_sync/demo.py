"""The main job with the blocking ``talkstack_sync`` client against the bundled emulator.

``python -m talkstack_sync.demo`` (``nox -s demo`` runs it after the async demo). The emulator
runs in a background thread; the client's own event loop runs in another; this script is
plain blocking code.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from talkstack_async.testing import EmulatorThread
from talkstack_sync import AnalysisQuestion, CallStatus, Talkstack


def say(text: str) -> None:
    print(text, flush=True)


def main() -> int:
    with EmulatorThread(status_interval=0.2, token_ttl=1.0) as emulator:
        say(f"emulator: API {emulator.base_url}, calls {emulator.calls_base_url}")
        account = emulator.create_account("grace@example.com", "another secret phrase")
        where = emulator.client_options()

        say("\n1. Log in with email and password (bearer tokens that live one second here)")
        with Talkstack(email=account.email, password=account.password, **where) as client:
            project = client.projects.create(name="Dental", description="Recall campaign")
            agent = client.agents.create(
                project_id=project.id,
                name="Noah",
                system_instruction="Ask {{name}} to book a check-up.",
                phone_number="+14155550111",
            )
            say(f"   project {project.id}, agent {agent.id}")

            say("\n2. Place calls and wait for them to end")
            numbers = ["+14155550130", "+14155550137", "+14155550139"]
            placed = [
                client.calls.make(n, project_id=project.id, agent_id=agent.id) for n in numbers
            ]
            for call in placed:
                details = client.calls.get(call.sid, project_id=project.id)
                while details.status is None or not details.status.is_final:
                    time.sleep(0.1)
                    details = client.calls.get(call.sid, project_id=project.id)
                say(f"   {call.to}: {details.status.value}")

            say("\n3. Tokens expired meanwhile; every request above went through anyway")
            time.sleep(1.1)
            agents = client.agents.list(project_id=project.id)
            say(f"   agents: {[a.name for a in agents]}; token refreshes: {emulator.refresh_count}")

            say("\n4. History and analysis")
            for past in client.calls.history(project_id=project.id, status=CallStatus.COMPLETED):
                assert past.sid is not None  # the emulator's history items carry callSid
                analysis = client.calls.analyze(
                    past.sid, questions=[AnalysisQuestion("Booked?", "Boolean")]
                )
                say(f"   {past.to} {past.status}: {analysis.answers}")

        say("\n5. 5,000 seeded calls through a plain for-loop (whole pages cross threads)")
        seed = emulator.seed(calls=5_000)
        with Talkstack(**emulator.client_options(seed.account)) as client:
            counts = Counter(
                c.status.value if c.status else "?"
                for c in client.calls.history(project_id=seed.project_id, page_size=1000)
            )
            say(f"   {sum(counts.values())} calls: {dict(counts)}")
    say("\nblocking demo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
