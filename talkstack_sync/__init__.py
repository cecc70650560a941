"""Talkstack SDK, blocking facade (placeholder until the sync issue lands)."""
