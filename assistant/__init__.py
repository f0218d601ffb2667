"""newsroom-assistant: cited answers over news documents, offline by default."""

from assistant.offline import configure_offline

__version__ = "0.1.0"

# Before any third-party import: these libraries read their switches at import time.
configure_offline()
