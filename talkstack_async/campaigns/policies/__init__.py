"""The rules a campaign follows, as plain data (they travel to Celery workers): calling
windows, redials, and pacing that follows the server's 429s."""
