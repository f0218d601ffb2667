"""Conversations a server keeps: bounded in memory, written to disk only when wanted."""

from __future__ import annotations

from pathlib import Path

from assistant.answer.chat import ChatSession, SessionStore, session_from_history
from assistant.types import Turn


def test_memory_keeps_only_recent_sessions_and_reloads_saved_ones(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, keep_sessions=3)
    first = store.get("first")
    first.add(Turn("q", "q", "a", True))
    store.save(first)
    for i in range(5):
        store.get(f"s{i}")
    assert len(store._mem) == 3 and "first" not in store._mem
    again = store.get("first")
    assert again is not first and [t.question for t in again.turns] == ["q"]


def test_unpersisted_sessions_are_not_written(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    s = ChatSession(persist=False)
    s.add(Turn("q", "q", "a", True))
    store.save(s)
    assert list(tmp_path.iterdir()) == []
    s.persist = True
    store.save(s)
    assert [p.name for p in tmp_path.iterdir()] == [f"{s.id}.json"]
    assert "persist" not in (tmp_path / f"{s.id}.json").read_text()


def test_a_client_kept_history_resolves_pronouns_like_a_kept_session() -> None:
    answer = 'From "NATO talks": Mr Stoltenberg said NATO will stand with Ukraine. [1]'
    s = session_from_history([("What did NATO pledge?", answer)])
    assert s.persist is False
    assert s.turns[0].standalone_question == "What did NATO pledge?"
    assert s.turns[0].citations == []  # the client kept only the text: nothing is made up
    s2 = session_from_history(
        [("What did NATO pledge?", answer), ("What did he say about Finland?", "x")]
    )
    assert s2.turns[1].standalone_question.startswith("What did Stoltenberg say about Finland?")


def test_a_one_off_session_is_written_once_its_client_comes_back(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    s = store.new(persist=None)
    s.add(Turn("q", "q", "a", True))
    store.save(s)
    assert list(tmp_path.iterdir()) == []
    again = store.get(s.id)
    assert again is s
    store.save(again)
    assert [p.name for p in tmp_path.iterdir()] == [f"{s.id}.json"]


def test_a_front_end_kept_session_is_never_written(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    s = store.new(persist=False)
    s.add(Turn("q", "q", "a", True))
    store.save(store.get(s.id))
    assert list(tmp_path.iterdir()) == []
