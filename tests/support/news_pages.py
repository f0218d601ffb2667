"""Fixture web pages and feeds, written the way news sites write them: the article inside
navigation, ads, a newsletter box, comments and "related stories", with its byline and date in
the markup."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

NAV = """<header><nav class="menu"><ul><li><a href="/">Home</a></li><li><a href="/world">World</a>
</li><li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/weather">Weather</a></li></ul></nav>
<div class="breaking">Breaking: markets open higher across Asia</div></header>"""
AD = """<div class="ad-slot" id="ad-top"><span>Advertisement</span>
<p>Miracle Gadget Sale Ends Tonight! Buy Two Get One Free!</p></div>"""
NEWSLETTER = """<div class="newsletter"><h3>Sign up to our newsletter</h3>
<p>Get the morning briefing in your inbox every day.</p><form><input type="email"></form></div>"""
COMMENTS = """<section id="comments" class="comments"><h3>Comments (2)</h3>
<div class="comment"><p class="comment-author">sunnyday77</p>
<p>Absolutely disgraceful reporting, the harbour was fine when I walked past.</p></div>
<div class="comment"><p class="comment-author">Deals4U</p>
<p>Earn money from home with crypto, visit my profile!!!</p></div></section>"""
RELATED = """<aside class="related"><h3>Related stories</h3><ul>
<li><a href="/world/old-storm">Last winter's storm left towns without power for days</a></li>
<li><a href="/world/ferry">Ferry services suspended on the northern route</a></li></ul></aside>"""
FOOTER = """<footer><p>© 2024 The Harbour Gazette. All rights reserved.</p>
<p><a href="/privacy">Privacy</a> | <a href="/terms">Terms</a></p></footer>"""


@dataclass
class Story:
    slug: str
    title: str
    paragraphs: list[str]
    author: str = "Maria Lindqvist"
    date: str = "2024-05-14"
    section: str = "world"
    canonical: str | None = None  # default: the site's own /<section>/<slug>
    summary: str = ""
    extra_head: str = ""
    tags: list[str] = field(default_factory=list)

    def path(self) -> str:
        return f"/{self.section}/{self.slug}"


def article_html(story: Story, base: str) -> str:
    canonical = story.canonical or base + story.path()
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in story.paragraphs)
    middle = len(story.paragraphs) // 2
    paras = body.split("\n")
    body = "\n".join(paras[:middle] + [AD] + paras[middle:])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(story.title)} | The Harbour Gazette</title>
<link rel="canonical" href="{html.escape(canonical)}">
<meta property="og:site_name" content="The Harbour Gazette">
<meta property="og:title" content="{html.escape(story.title)}">
<meta name="author" content="{html.escape(story.author)}">
<meta property="article:published_time" content="{story.date}T07:30:00Z">
{story.extra_head}
</head><body>
{NAV}
{AD}
<main><article>
<h1>{html.escape(story.title)}</h1>
<p class="byline">By <a rel="author" href="/staff/x">{html.escape(story.author)}</a></p>
<time datetime="{story.date}T07:30:00Z">{story.date}</time>
{body}
</article>
{NEWSLETTER}
{RELATED}
{COMMENTS}
</main>
{FOOTER}
</body></html>"""


def rss(
    title: str,
    base: str,
    items: list[Story],
    full_text: bool = False,
    link_suffix: str = "?utm_source=rss&utm_medium=feed",
) -> str:
    """An RSS 2.0 feed of ``items`` (summaries only, unless ``full_text``)."""
    out = []
    for s in items:
        day = datetime.fromisoformat(s.date).replace(hour=7, minute=30, tzinfo=UTC)
        content = ""
        if full_text:
            full = "".join(f"<p>{html.escape(p)}</p>" for p in s.paragraphs)
            content = f"<content:encoded><![CDATA[{full}]]></content:encoded>"
        summary = html.escape(s.summary or s.paragraphs[0][:140])
        out.append(
            f"""<item><title>{html.escape(s.title)}</title>
<link>{base}{s.path()}{html.escape(link_suffix)}</link>
<guid isPermaLink="false">gazette-{s.slug}</guid>
<pubDate>{format_datetime(day)}</pubDate>
<dc:creator>{html.escape(s.author)}</dc:creator>
<description>{summary}</description>{content}</item>"""
        )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>{html.escape(title)}</title><link>{base}/</link><description>News</description>
{"".join(out)}
</channel></rss>"""


def atom(title: str, base: str, items: list[Story]) -> str:
    entries = "".join(
        f"""<entry><title>{html.escape(s.title)}</title><link href="{s.path()}"/>
<id>urn:gazette:{s.slug}</id><updated>{s.date}T07:30:00Z</updated>
<author><name>{html.escape(s.author)}</name></author>
<summary>{html.escape(s.summary or s.paragraphs[0][:140])}</summary></entry>"""
        for s in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{html.escape(title)}</title>
<id>urn:gazette</id><updated>2024-05-14T08:00:00Z</updated>{entries}</feed>"""


STORM = Story(
    "storm-hits-coast",
    "Storm floods harbour towns on the northern coast",
    [
        "A powerful storm struck the northern coast on Tuesday night, flooding the harbour "
        "towns of Port Quill and Elmsby and cutting power to about 40,000 homes, officials said.",
        "The mayor of Port Quill, Anna Berg, said emergency shelters had opened in three "
        "schools and that the harbour wall had been breached in two places.",
        "The regional grid operator said crews would need at least two days to restore power "
        "to the worst-hit villages, because several pylons had been brought down by the wind.",
        "Forecasters expect the wind to ease by Thursday but warned of further flooding at "
        "the next high tide, which is due early on Wednesday afternoon.",
    ],
)


def story(n: int, day: str = "2024-05-14") -> Story:
    """A distinct small story per number: a town, a project and a sum to ask about."""
    towns = ["Arvika", "Brennholm", "Calder", "Dunmore", "Eskerby", "Falkvik", "Grimsta",
             "Halden", "Iversund", "Jorvik", "Kelloe", "Lunsby"]  # fmt: skip
    projects = ["bridge", "library", "tram line", "school", "harbour crane", "clinic",
                "ferry terminal", "sports hall", "water plant", "bus depot"]  # fmt: skip
    endings = ["berg", "dal", "strand", "vik", "holm", "by", "sund", "ness", "field", "mouth"]
    # Each number its own town, so a question names exactly one story (up to 132 of them).
    town = towns[n % len(towns)] + ("" if n < len(towns) else endings[n // len(towns) - 1])
    project = projects[n % len(projects)]
    millions = 3 + (n * 7) % 90
    return Story(
        f"item-{n}",
        f"{town} approves new {project}",
        [
            f"The council of {town} voted on Monday to build a new {project}, at a cost of "
            f"{millions} million crowns, council minutes show.",
            f"Construction of the {project} in {town} is due to start next spring, the "
            f"council's planning chief, Erik Holm {n}, told reporters after the vote.",
            f"Opposition members in {town} argued that the {project} budget of {millions} "
            "million crowns should instead go to road repairs.",
        ],
        date=day,
        section="local",
    )
