from datetime import date
from pathlib import Path

import pytest

from assistant.index.dates import date_from_url, find_date_in_text, normalise_date

TODAY = date(2026, 11, 23)
CORPUS = Path(__file__).resolve().parents[2] / "corpus"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-06-12", "2022-06-12"),
        ("2022/06/12", "2022-06-12"),
        ("2022.6.2", "2022-06-02"),
        ("2022-06-12T10:00:00Z", "2022-06-12"),
        ("2022-06-12T23:30:00-05:00", "2022-06-12"),  # the publisher's day, not shifted to UTC
        ("2022-06-12 10:00:00", "2022-06-12"),
        ("20220612", "2022-06-12"),
        ("June 12, 2022", "2022-06-12"),
        ("Nov. 25, 2022", "2022-11-25"),
        ("Sept. 5, 2022", "2022-09-05"),
        ("November 25th, 2022", "2022-11-25"),
        ("Friday, November 25, 2022", "2022-11-25"),
        ("25 November 2022", "2022-11-25"),
        ("25th of November, 2022", "2022-11-25"),
        ("25-Nov-2022", "2022-11-25"),
        ("Fri, 25 Nov 2022 10:00:00 GMT", "2022-11-25"),
        ("06/12/2022", "2022-06-12"),  # ambiguous: month first
        ("13/06/2022", "2022-06-13"),  # day first, since 13 can't be a month
        ("1655035200", "2022-06-12"),  # Unix seconds
        ("1655035200000", "2022-06-12"),  # Unix milliseconds
        ("  2022-06-12  ", "2022-06-12"),
    ],
)
def test_normalise_date_formats(value: str, expected: str) -> None:
    assert normalise_date(value) == expected


@pytest.mark.parametrize(
    "value", ["", "soon", "June 2022", "2022-02-30", "2022-13-01", "31/31/2022", "Foo 12, 2022"]
)
def test_normalise_date_rejects_non_dates(value: str) -> None:
    assert normalise_date(value) is None


def test_explicit_date_in_text_wins_and_is_not_inferred() -> None:
    text = "LONDON, November 25, 2022 - Officials said on Monday (28 November) that..."
    assert find_date_in_text(text, TODAY) == ("2022-11-25", False)
    assert find_date_in_text("Posted 25 Nov. 2022 by staff", TODAY) == ("2022-11-25", False)
    assert find_date_in_text("Updated 2022-11-25 09:00", TODAY) == ("2022-11-25", False)


def test_future_explicit_date_is_a_deadline_not_the_publication_date() -> None:
    text = "The target is December 31, 2030. Published June 3, 2021."
    assert find_date_in_text(text, TODAY) == ("2021-06-03", False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Stoltenberg said on Monday (27 November).", "2023-11-27"),
        ("He spoke on Friday (25 November) in Brussels.", "2022-11-25"),
        ("The vote is set for Friday, November 25 at noon.", "2022-11-25"),
        ("Markets fell on Fri. Nov. 25 after the report.", "2022-11-25"),
        ("Released Sunday 12 June to the press.", "2022-06-12"),
        ("It happened on Monday, 29 February.", "2016-02-29"),  # leap day: a leap year only
    ],
)
def test_weekday_beside_day_and_month_gives_the_year(text: str, expected: str) -> None:
    assert find_date_in_text(text, TODAY) == (expected, True)


def test_year_is_the_latest_up_to_todays_year() -> None:
    text = "on Monday (27 November)"
    assert find_date_in_text(text, date(2023, 1, 1)) == ("2023-11-27", True)
    assert find_date_in_text(text, date(2022, 12, 31)) == ("2017-11-27", True)


def test_weak_rule_pairs_separate_weekday_and_date_mentions() -> None:
    text = (
        "A caption says the photo was taken in Brussels on November 25.\n\n"
        "NATO will not reduce support, the Secretary General said on Friday."
    )
    assert find_date_in_text(text, TODAY) == ("2022-11-25", True)


def test_weak_rule_ignores_weekdays_that_are_not_time_references() -> None:
    # "Black Friday" is not "on Friday"; without a pairing there is no date.
    text = "Black Friday sales started early. Stores open on November 25."
    assert find_date_in_text(text, TODAY) == (None, False)


def test_no_date_at_all() -> None:
    assert find_date_in_text("Nothing here mentions a day.", TODAY) == (None, False)
    assert find_date_in_text("", TODAY) == (None, False)


def test_default_today_still_dates_the_samples() -> None:
    text = "Jens Stoltenberg said on Monday (27 November)."
    assert find_date_in_text(text) == ("2023-11-27", True)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("000_7f57f19b72752444.txt", "2023-11-27"), ("004_b2e554588cd8baa4.txt", "2022-11-25")],
)
def test_sample_articles(name: str, expected: str) -> None:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"sample {name} not in corpus/")
    assert find_date_in_text(path.read_text(encoding="utf-8"), TODAY) == (expected, True)


def test_date_from_url() -> None:
    assert date_from_url("https://www.cnn.com/2022/06/12/media/x/index.html") == "2022-06-12"
    assert date_from_url("https://example.com/news/2022-06-12-storm") == "2022-06-12"
    assert date_from_url("https://example.com/2022/13/40/x") is None
    assert date_from_url("https://example.com/about") is None
    assert date_from_url("") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Berlin, 20. Februar 2024. Die Regierung hat beschlossen...", "2024-02-20"),
        ("Paris, le 3 mars 2024 – Le gouvernement a annoncé...", "2024-03-03"),
        ("Madrid, 5 de febrero de 2024. El Gobierno anunció...", "2024-02-05"),
        ("Roma, 12 dicembre 2023 — Il governo ha annunciato...", "2023-12-12"),
        ("Amsterdam, 7 maart 2024 - De regering heeft...", "2024-03-07"),
        ("Wien, am 1.3.2024 gab das Ministerium bekannt...", "2024-03-01"),
    ],
)
def test_dates_in_the_common_european_formats_are_read(text: str, expected: str) -> None:
    # issue 22: a German date ("20. Februar 2024") was not read
    assert find_date_in_text(text, today=date(2024, 6, 1)) == (expected, False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("20. Februar 2024", "2024-02-20"), ("3 mars 2024", "2024-03-03"),
     ("5 de febrero de 2024", "2024-02-05"), ("1er juillet 2023", "2023-07-01"),
     ("01.03.2024", "2024-03-01")],
)  # fmt: skip
def test_european_dates_in_metadata_are_normalised(value: str, expected: str) -> None:
    assert normalise_date(value) == expected
