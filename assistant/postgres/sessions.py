"""Chat sessions in PostgreSQL, so a follow-up works whichever replica receives it.

Read from the table on every ``get`` (another replica may have answered the last turn) and
written on every ``save``. One-off questions are kept too (unlike the file store, which keeps
them in memory until their client comes back): with several replicas, coming back may mean
reaching another process.
"""

from __future__ import annotations

import json
from pathlib import Path

from assistant import validate
from assistant.answer.chat import ChatSession
from assistant.postgres.db import database
from assistant.settings import Settings

KEEP_TURNS = 20


class PgSessionStore:
    folder: Path | None = None  # nothing on disk for the server's health to check

    def __init__(self, settings: Settings, keep_turns: int = KEEP_TURNS) -> None:
        self.db = database(settings)
        self.keep_turns = keep_turns

    def new(self, persist: bool | None) -> ChatSession:
        return ChatSession(persist=persist)

    def get(self, session_id: str) -> ChatSession:
        session_id = validate.session_id(session_id)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT turns FROM assistant.sessions WHERE id = %s", (session_id,)
            ).fetchone()
        if row is None:
            return ChatSession(id=session_id)
        return ChatSession.from_json(json.dumps({"id": session_id, "turns": row[0]}))

    def save(self, session: ChatSession) -> None:
        from psycopg.types.json import Jsonb

        from assistant.postgres.catalog import nul_free

        session.turns = session.turns[-self.keep_turns :]
        if session.persist is False:
            return
        turns = json.loads(session.to_json())["turns"]
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO assistant.sessions (id, turns) VALUES (%s, %s) ON CONFLICT (id) "
                "DO UPDATE SET turns = EXCLUDED.turns, updated_at = now()",
                (session.id, Jsonb(nul_free(turns))),
            )
