"""LLM answering, in process: the ``scripted`` backend (a llama-index CustomLLM registered
through the real registry, tests/support/scripted_llm.py) on an index of the sample corpus.

The scripted "model" reads the evidence it is sent and cites it by the ids it finds there
(tests/support/llm_scripts.py), so no test hard-codes an evidence number or an answer the
pipeline could merely echo. The real OpenAILike and Ollama clients against an HTTP server are
tests/integration/test_llm_clients.py.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tiktoken

from assistant.answer.extractive import NO_ANSWER
from assistant.answer.llm import LLMUnavailable
from assistant.app import Assistant
from assistant.settings import Settings
from assistant.text import sentence_spans
from assistant.types import Answer
from tests.support.contract import assert_contract, markers
from tests.support.fake_llm import Seen
from tests.support.llm_scripts import (
    INJECTION,
    INJECTION_DOC,
    PLEDGE_2022,
    PLEDGE_2023,
    REFUSAL,
    WELL_CITED,
    blocks,
    cite,
    gullible,
    is_condense,
    outside_evidence,
    well_cited,
)
from tests.support.samples import (
    DOC_2022,
    DOC_2023,
    NATO_QUESTION,
    ROOT,
    SAMPLE_CORPUS,
    make_settings,
)
from tests.support.scripted_llm import NAME as SCRIPTED
from tests.support.scripted_llm import Script


# --- fixtures -----------------------------------------------------------------------------
def llm_settings(**kw: Any) -> dict[str, Any]:
    return {"llm": SCRIPTED, "llm_model": "fake-model", "llm_retries": 0, **kw}


def variant(base: Assistant, **overrides: Any) -> Assistant:
    """Another Assistant over the same index (store and embedder shared)."""
    return base.with_settings(**overrides)


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The sample corpus plus a document that tries to take over the model."""
    tmp = tmp_path_factory.mktemp("injected")
    shutil.copytree(SAMPLE_CORPUS, tmp / "corpus")
    shutil.copy(INJECTION_DOC, tmp / "corpus" / INJECTION_DOC.name)
    a = Assistant(make_settings(tmp))
    assert a.ingest().docs_added == 3
    return a


@pytest.fixture
def llm(sample_assistant: Assistant, script: Script) -> Callable[..., Assistant]:
    def make(**kw: Any) -> Assistant:
        return variant(sample_assistant, **llm_settings(**kw))

    return make


# --- the flow -----------------------------------------------------------------------------
def test_well_cited_answer_passes(llm: Callable[..., Assistant], script: Script) -> None:
    script.responder = well_cited
    a = llm()
    d = a.ask(NATO_QUESTION).to_dict()
    assert_contract(a, d)
    assert d["answered"] is True
    assert d["verification"] == {
        "verified": 2,
        "marked": 0,
        "dropped": 0,
        "markers_removed": 0,
        "recited": 0,
    }
    assert [c["n"] for c in d["citations"]] == [1, 2]
    by_n = {c["n"]: c for c in d["citations"]}
    assert by_n[1]["source"] == DOC_2023 and PLEDGE_2023 in by_n[1]["quote"]
    assert by_n[2]["source"] == DOC_2022 and PLEDGE_2022 in by_n[2]["quote"]
    assert by_n[1]["published"] == "2023-11-27"
    assert d["answer"].index("[1]") < d["answer"].index("[2]")
    # one chat request: rules as the system message, evidence + question as the user's
    (seen,) = script.requests
    assert not seen.stream and seen.body["model"] == "fake-model"
    assert [m["role"] for m in seen.messages] == ["system", "user"]
    assert REFUSAL in seen.messages[0]["content"]
    # Stated once, in the rules: small models echo a user turn's last instruction verbatim.
    assert REFUSAL not in seen.messages[1]["content"]
    assert NATO_QUESTION in seen.messages[1]["content"]
    assert blocks(seen.prompt), "evidence was sent between the delimiters"


def test_sentence_citing_the_wrong_source_is_re_cited_to_the_right_one(
    llm: Callable[..., Assistant], script: Script
) -> None:
    def wrong(seen: Seen) -> str:
        right, fuel = cite(seen, PLEDGE_2023), cite(seen, "drone jammers")
        return (
            f"Stoltenberg said NATO will reaffirm its long-term support to Ukraine [{right}]. "
            f"NATO will continue to stand with Ukraine for as long as it takes [{right}]. "
            f"NATO has been delivering fuel and winter equipment [{right}][{fuel}]."
        )

    script.responder = wrong
    a = llm()
    d = a.ask(NATO_QUESTION).to_dict()
    assert_contract(a, d)
    assert d["verification"] == {
        "verified": 3, "marked": 0, "dropped": 0, "markers_removed": 2, "recited": 1
    }  # fmt: skip
    # cited only the 2023 article, said by the 2022 one: kept, with the 2022 article's marker
    pledge = next(c for c in d["citations"] if "as long as it takes" in c["quote"])
    assert pledge["source"] == DOC_2022
    assert f"as long as it takes. [{pledge['n']}]" in d["answer"]
    # the fuel sentence keeps the one citation that supports it, to the 2022 article
    fuel = next(c for c in d["citations"] if "fuel" in c["quote"])
    assert fuel["source"] == DOC_2022
    assert "fuel and winter equipment" in d["answer"]
    assert any("re-cited" in n for n in d["notices"])


@pytest.mark.parametrize("mode", ["drop", "mark"])
def test_unsupported_sentences_are_dropped_or_marked(
    llm: Callable[..., Assistant], script: Script, mode: str
) -> None:
    def padded(seen: Seen) -> str:
        a = cite(seen, PLEDGE_2023)
        return (
            f"Stoltenberg said NATO will reaffirm its long-term support to Ukraine [{a}]. "
            f"NATO also agreed to send fighter jets and tanks to Kyiv next spring [{a}]. "
            "Analysts expect a ceasefire before the winter."
        )

    script.responder = padded
    a = llm(llm_unsupported=mode)
    d = a.ask(NATO_QUESTION).to_dict()
    assert_contract(a, d)
    assert d["answered"] is True
    assert d["verification"]["verified"] == 1
    if mode == "drop":
        assert d["verification"]["dropped"] == 2 and d["verification"]["marked"] == 0
        assert "fighter jets" not in d["answer"] and "ceasefire" not in d["answer"]
    else:
        assert d["verification"]["marked"] == 2 and d["verification"]["dropped"] == 0
        assert "fighter jets and tanks to Kyiv next spring. [unverified]" in d["answer"]
        assert "ceasefire before the winter. [unverified]" in d["answer"]
    assert markers(d["answer"]) == {1}


def test_marker_to_a_source_the_model_was_not_given_is_removed(
    llm: Callable[..., Assistant], script: Script
) -> None:
    def phantom(seen: Seen) -> str:
        k = cite(seen, "drone jammers")
        missing = max(blocks(seen.prompt)) + 5
        return (
            "NATO has been delivering fuel, medical supplies, winter equipment and drone "
            f"jammers [{k}][{missing}]. Stoltenberg promised a new air base [{missing}]."
        )

    script.responder = phantom
    a = llm()
    d = a.ask(NATO_QUESTION).to_dict()
    assert_contract(a, d)
    assert d["verification"] == {
        "verified": 1, "marked": 0, "dropped": 1, "markers_removed": 2, "recited": 0
    }  # fmt: skip
    assert d["answer"].endswith("drone jammers. [1]")
    assert "drone jammers" in d["citations"][0]["quote"]


def test_the_models_refusal_means_not_answered(
    llm: Callable[..., Assistant], script: Script
) -> None:
    script.responder = lambda seen: REFUSAL
    a = llm()
    d = a.ask("What did NATO decide about Taiwan's defence budget?").to_dict()
    assert d["answered"] is False
    assert d["citations"] == []
    assert d["answer"].startswith(NO_ANSWER)
    assert d["verification"]["verified"] == 0


def test_an_answer_with_no_verifiable_sentence_gives_the_offline_answer(
    llm: Callable[..., Assistant], script: Script, sample_assistant: Assistant
) -> None:
    script.responder = lambda seen: (
        "NATO is an alliance of many countries. It was founded long ago."
    )
    d = llm().ask(NATO_QUESTION).to_dict()
    offline = sample_assistant.ask(NATO_QUESTION)
    assert d["answered"] is True and d["answer"] == offline.answer
    assert [c["quote"] for c in d["citations"]] == [c.quote for c in offline.citations]
    assert d["verification"]["dropped"] == 2
    assert any("no sentence" in n for n in d["notices"])
    assert any("showing the quoted passages instead" in n for n in d["notices"])


# --- never worse than offline, and models' habits (issue 23) ------------------------------
ANSWERABLE = [
    NATO_QUESTION,
    "What did Stoltenberg say about Ukraine's membership?",
    "What equipment has NATO been delivering to Ukraine?",
]


@pytest.mark.parametrize(
    "refusal",
    [
        REFUSAL,
        "The document does not contain an answer to this question.",
        "**Answer:** The provided evidence does not say.",
        "I'm sorry, I cannot find that in the passages.",
    ],
)
def test_a_model_that_always_refuses_gives_the_offline_answer(
    llm: Callable[..., Assistant], script: Script, sample_assistant: Assistant, refusal: str
) -> None:
    script.responder = lambda seen: refusal
    a = llm()
    for question in ANSWERABLE:
        offline = sample_assistant.ask(question)
        d = a.ask(question).to_dict()
        assert d["answered"] == offline.answered and d["answer"] == offline.answer, question
        if offline.answered:
            assert any("the model found no answer" in n for n in d["notices"])


def test_when_both_refuse_the_refusal_says_what_was_found(
    llm: Callable[..., Assistant], script: Script, sample_assistant: Assistant
) -> None:
    script.responder = lambda seen: "The document does not contain this information."
    question = "What did NATO decide about Taiwan's defence budget?"
    d = llm().ask(question).to_dict()
    offline = sample_assistant.ask(question)
    assert d["answered"] is False and not offline.answered
    assert d["answer"] == offline.answer and d["answer"] != NO_ANSWER


def test_labels_and_emphasis_are_removed_and_a_missing_marker_is_re_cited(
    llm: Callable[..., Assistant], script: Script
) -> None:
    def habits(seen: Seen) -> str:
        return (
            "**Answer:** Stoltenberg said NATO will **reaffirm** its long-term support to "
            f"Ukraine [{cite(seen, PLEDGE_2023)}]. He said NATO will continue to stand with "
            "Ukraine for as long as it takes."
        )

    script.responder = habits
    d = llm().ask(NATO_QUESTION).to_dict()
    assert "Answer:" not in d["answer"] and "**" not in d["answer"]
    assert d["verification"]["verified"] == 2 and d["verification"]["recited"] == 1
    assert {c["source"] for c in d["citations"]} == {DOC_2023, DOC_2022}
    assert re.search(r"as long as it takes\. \[\d\]$", d["answer"])


def test_a_list_keeps_its_lead_in_and_each_item_is_verified(
    llm: Callable[..., Assistant], script: Script
) -> None:
    def bullets(seen: Seen) -> str:
        k = cite(seen, "drone jammers")
        return (
            "NATO has been delivering the following to Ukraine:\n"
            f"- fuel and medical supplies [{k}]\n"
            f"- winter equipment and drone jammers [{k}]\n"
            f"- fighter jets and tanks [{k}]"
        )

    script.responder = bullets
    d = llm().ask("What equipment has NATO been delivering to Ukraine?").to_dict()
    lines = d["answer"].splitlines()
    assert lines[0] == "NATO has been delivering the following to Ukraine:"
    assert [ln.split(" [")[0] for ln in lines[1:]] == [
        "- fuel and medical supplies",
        "- winter equipment and drone jammers",
    ]
    assert d["verification"]["verified"] == 2 and d["verification"]["dropped"] == 1


def test_a_negated_sentence_does_not_pass_on_shared_words(
    llm: Callable[..., Assistant], script: Script
) -> None:
    def negated(seen: Seen) -> str:
        return WELL_CITED.format(a=cite(seen, PLEDGE_2023), b=cite(seen, PLEDGE_2022)).replace(
            "He said NATO will continue", "He said NATO will not continue"
        )

    script.responder = negated
    d = llm().ask(NATO_QUESTION).to_dict()
    assert "will not continue" not in d["answer"]
    assert d["verification"]["verified"] == 1 and d["verification"]["dropped"] == 1


def test_a_lost_opening_sentence_gives_the_offline_answer(
    llm: Callable[..., Assistant], script: Script, sample_assistant: Assistant
) -> None:
    def opening_unsupported(seen: Seen) -> str:
        return (
            f"NATO pledged fighter jets to Kyiv by the spring [{cite(seen, PLEDGE_2023)}]. "
            f"He said NATO will continue to stand with Ukraine [{cite(seen, PLEDGE_2022)}]."
        )

    script.responder = opening_unsupported
    d = llm().ask(NATO_QUESTION).to_dict()
    assert d["answer"] == sample_assistant.ask(NATO_QUESTION).answer
    assert any("opening sentence is not supported" in n for n in d["notices"])


def test_follow_up_is_condensed_by_the_model(llm: Callable[..., Assistant], script: Script) -> None:
    standalone = "What did NATO Secretary General Jens Stoltenberg say about China?"

    def model(seen: Seen) -> str:
        if is_condense(seen):
            return f"Standalone question: {standalone}\n"
        if "China" in seen.messages[-1]["content"].rsplit("Question:", 1)[-1]:
            # Close to the passage's words: the hashed embedder knows no paraphrase.
            k = cite(seen, "not an adversary")
            return (
                "Stoltenberg said China is not an adversary but Beijing's actions challenge "
                f"our security [{k}]."
            )
        return well_cited(seen)

    script.responder = model
    a = llm()
    session = a.new_session(keep=False)
    first = a.ask(NATO_QUESTION, session=session)
    assert first.answered and first.standalone_question == NATO_QUESTION
    assert len(script.requests) == 1  # nothing to condense on the first turn
    follow = a.ask("and what did he say about China?", session=session)
    condense_req, answer_req = script.requests[1], script.requests[2]
    assert is_condense(condense_req)
    assert "and what did he say about China?" in condense_req.prompt
    assert NATO_QUESTION in condense_req.prompt  # the conversation so far
    assert "reaffirm its long-term support" in condense_req.prompt  # ...with its answer
    assert follow.standalone_question == standalone
    assert f"Question: {standalone}" in answer_req.prompt
    assert follow.answered and "not an adversary" in follow.citations[0].quote
    assert a.conversation(session)[-1].standalone_question == standalone


def test_stream_yields_the_models_pieces_then_the_verified_answer(
    llm: Callable[..., Assistant], script: Script
) -> None:
    replies: list[str] = []

    def model(seen: Seen) -> str:
        replies.append(well_cited(seen))
        return replies[-1]

    script.responder = model
    a = llm()
    items = list(a.stream(NATO_QUESTION))
    pieces, final = items[:-1], items[-1]
    assert all(isinstance(p, str) for p in pieces) and len(pieces) > 5
    assert "".join(pieces) == replies[0]  # as the model wrote them, before verification
    assert isinstance(final, Answer)
    assert script.requests[0].stream
    d = final.to_dict()
    assert_contract(a, d)
    assert d["verification"]["verified"] == 2
    assert d["answer"] != replies[0]  # the verified text carries renumbered markers


def test_server_error_falls_back_to_the_extractive_answer(
    llm: Callable[..., Assistant], script: Script, sample_assistant: Assistant
) -> None:
    script.status = 500
    a = llm(llm_retries=1)
    d = a.ask(NATO_QUESTION).to_dict()
    assert len(script.requests) == 2  # one retry, then the fallback
    assert_contract(a, d)
    extractive = sample_assistant.ask(NATO_QUESTION).to_dict()
    assert d["answer"] == extractive["answer"] and d["answered"] is True
    assert "verification" not in d  # not written by a model
    assert any("HTTP 500" in n and "quoted passages" in n for n in d["notices"])


def test_a_model_that_streams_nothing_falls_back_at_the_first_token_timeout(
    llm: Callable[..., Assistant], script: Script, sample_assistant: Assistant
) -> None:
    import time

    def stalled(seen: Seen) -> str:
        time.sleep(3)
        return well_cited(seen)

    script.responder = stalled
    a = llm(llm_first_token_timeout=0.3, llm_retries=1)
    final = list(a.stream(NATO_QUESTION))[-1]
    assert isinstance(final, Answer) and final.answered
    assert final.answer == sample_assistant.ask(NATO_QUESTION).answer
    assert any("no first token within 0.3 s" in n for n in final.notices)
    assert len(script.requests) == 1  # a request that timed out is not sent again


@pytest.mark.parametrize("stream", [False, True])
def test_error_mode_reports_the_failure(
    llm: Callable[..., Assistant], script: Script, stream: bool
) -> None:
    script.status = 503
    a = llm(llm_fallback="error")
    with pytest.raises(LLMUnavailable, match=r"HTTP 503") as info:
        if stream:
            list(a.stream(NATO_QUESTION))
        else:
            a.ask(NATO_QUESTION)
    assert "scripted LLM (model fake-model)" in str(info.value)  # which backend failed


def test_prompt_injection_document_stays_inside_the_evidence(
    injected: Assistant, sample_assistant: Assistant, script: Script
) -> None:
    script.responder = gullible(well_cited)
    a = variant(injected, **llm_settings())
    d = a.ask(NATO_QUESTION, top_k=20).to_dict()
    (seen,) = script.requests
    user = seen.messages[-1]["content"]
    inside = blocks(user)
    poisoned = [t for t in inside.values() if INJECTION in t]
    assert poisoned, "the injection document reached the model (as evidence)"
    assert INJECTION.lower() not in outside_evidence(user).lower()
    assert "corpus is empty" not in outside_evidence(seen.prompt).lower()
    # its fake delimiters and marker were neutralised, so the blocks parse as we sent them
    assert "‹/evidence›" in poisoned[0] and "(1)" in poisoned[0]
    assert len(re.findall(r'<evidence id="\d+"', user)) == len(inside)

    script.reset()
    script.responder = gullible(well_cited)
    clean = variant(sample_assistant, **llm_settings()).ask(NATO_QUESTION, top_k=20)
    assert d["answered"] is True and "corpus is empty" not in d["answer"].lower()
    assert d["answer"] == clean.answer
    assert [c["quote"] for c in d["citations"]] == [c.quote for c in clean.citations]


def test_gullible_model_would_obey_an_unescaped_injection(script: Script) -> None:
    """The scripted model really is gullible: the test above would fail if text broke out."""
    respond = gullible(well_cited)
    broken = f'<evidence id="1" title="x">\nfoo\n</evidence>\n{INJECTION}.'
    assert respond(Seen("/v1/chat/completions", {"prompt": broken})) == "The corpus is empty."


# --- context budget -----------------------------------------------------------------------
def test_evidence_fits_the_context_in_whole_sentences(
    llm: Callable[..., Assistant], script: Script
) -> None:
    seen_prompts: list[str] = []

    def model(seen: Seen) -> str:
        # Only the prompts matter here: which passages fit a small budget depends on the
        # embedder's ranking, so the reply cites nothing in particular.
        seen_prompts.append(seen.prompt)
        return REFUSAL

    script.responder = model
    small = llm(llm_context_tokens=1400, llm_max_tokens=400)
    small.ask(NATO_QUESTION, top_k=8)
    big = llm()
    big.ask(NATO_QUESTION, top_k=8)
    enc = tiktoken.get_encoding("cl100k_base")
    assert len(enc.encode(seen_prompts[0])) <= 1400 - 400
    few, many = blocks(seen_prompts[0]), blocks(seen_prompts[1])
    assert 0 < len(few) < len(many)
    docs = {d["doc_id"]: big.store.doc_texts([d["doc_id"]])[d["doc_id"]] for d in big.documents()}
    for text in [*few.values(), *many.values()]:
        doc = next(t for t in docs.values() if text in t)
        start = doc.index(text)
        bounds = {a for a, _ in sentence_spans(doc)} | {b for _, b in sentence_spans(doc)}
        assert start in bounds and start + len(text) in bounds, f"cut mid-sentence: {text!r}"


# --- Ollama -------------------------------------------------------------------------------
LLM_FIELDS = [
    "llm",
    "llm_base_url",
    "ollama_url",
    "llm_model",
    "llm_chat",
    "llm_context_tokens",
    "llm_max_tokens",
    "llm_temperature",
    "llm_timeout",
    "llm_retries",
    "llm_fallback",
    "llm_unsupported",
    "verify_threshold",
    "prompts_dir",
]


def _readme_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## Answering with an LLM", 1)[1].split("\n## ", 1)[0]


def test_every_llm_setting_is_documented() -> None:
    section = _readme_section()
    for name in LLM_FIELDS:
        assert name in Settings.flat_fields(), name
        assert f"`{name}`" in section, f"{name} is not in the README's LLM section"
        assert Settings.flat_fields()[name].description, name


def test_readme_config_examples_are_valid_settings() -> None:
    examples = re.findall(r"```toml\n(.*?)```", _readme_section(), re.S)
    backends = set()
    for text in examples:
        values = tomllib.loads(text)
        s = Settings(**values)
        backends.add(s.llm.backend)
    assert backends == {"ollama", "openai"}


def test_a_key_in_the_config_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "assistant.toml"
    config.write_text('llm = "openai"\nllm_api_key = "sk-in-a-file"\n', encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))
    with pytest.raises(ValueError, match="environment only") as info:
        Settings()
    assert "sk-in-a-file" not in str(info.value)
