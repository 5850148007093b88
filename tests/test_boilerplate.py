"""Site chrome removal (newsdedup.boilerplate)."""

from __future__ import annotations

import pytest
from hypothesis import given
from newsdedup.boilerplate import MAX_CHROME_LINE, is_chrome, strip_chrome

from .strategies import tricky_text

# The chrome lines of the real seed articles (../shared/data/seeds/), by file stem prefix.
SEED_CHROME = {
    "003": [
        "Home » News » Ukraine: Calls for Western Forces to Deploy During Ceasefire Grow",
        "You may also like",
        "Leave a Comment",
        "This site uses Akismet to reduce spam. Learn how your comment data is processed.",
    ],
    "004": [
        "Stay tuned to The Horizons Times for real-time updates on global security, diplomacy, "
        "and the evolving landscape of the Russia-Ukraine war.",
        "Prev Article",
        "Trump Defends Tariffs as Markets Plunge: 'Hang Tough, This Is an Economic Revolution'",
        "Next Article",
        "Spain strengthens China trade ties despite US opposition",
        "Comments (0)",
        "    Leave a Comment",
    ],
}

PARAGRAPH = (
    "Kyiv has secured agreements with Western partners for a coordinated military response should Russia "
    "violate any future ceasefire agreement, according to officials briefed on the discussions."
)


def test_seed_chrome_is_stripped_and_everything_else_kept(seeds) -> None:
    """In the real seed articles exactly the chrome lines go; every other non-blank line stays, in order."""
    assert {seed.id[:3] for seed in seeds} >= SEED_CHROME.keys()
    for seed in seeds:
        chrome = SEED_CHROME.get(seed.id[:3], [])
        lines = [line for line in seed.body.splitlines() if line.strip()]
        assert all(line in lines for line in chrome), seed.id
        expected = [line for line in lines if line not in chrome]
        assert strip_chrome(seed.body).splitlines() == expected, seed.id


@pytest.mark.parametrize(
    "line",
    [
        # Cookie and consent banners.
        "We use cookies to improve your experience on our site. By continuing to browse, you agree to our cookie use.",
        "This website uses cookies to ensure you get the best experience on our website. Learn more",
        "By continuing to use this site, you agree to our use of cookies.",
        "We and our partners use cookies to personalise content and ads, and to analyse our traffic.",
        "Accept All Cookies",
        "Reject all",
        "Cookie Settings",
        "Manage preferences",
        # Newsletter prompts.
        "Sign up for our newsletter",
        "Subscribe to our daily newsletter for the latest news.",
        "Sign up to our free weekly newsletter and get the best stories in your inbox.",
        "Get the latest headlines delivered straight to your inbox every morning.",
        # Paywall notices.
        "Subscribe now",
        "Already a subscriber? Sign in",
        "You have reached your free article limit. Subscribe to keep reading.",
        "You've reached your article limit for this month.",
        "Subscribe to continue reading.",
        "This article is for subscribers only.",
        "Sign in to continue reading",
        # Share rows.
        "Share this article",
        "Share on Facebook",
        "Click to share on Twitter (Opens in new window)",
        "Facebook Twitter WhatsApp Email",
        "Facebook | Twitter | LinkedIn | Email",
        "Tweet · Email · Print",
        "Copy link",
        "Share via Email",
        "Follow us on Twitter @newsdesk",
        # Comment prompts, navigation and related links.
        "Leave a Reply",
        "3 Comments",
        "No comments yet",
        "Join the conversation",
        "You must be logged in to post a comment.",
        "Read more:",
        "Related Articles",
        "You might also like",
        "Recommended for you",
        "Most popular",
        "Editor's picks",
        "Advertisement",
        "Skip to main content",
        "Home > Politics",
        "Home / News / Ukraine",
        "Stay tuned for more updates.",
    ],
    ids=lambda line: line[:40],
)
def test_realistic_chrome_lines_are_stripped(line: str) -> None:
    """Cookie banners, newsletter prompts, paywall notices, share rows and navigation are chrome."""
    assert is_chrome(line)
    assert strip_chrome(f"{PARAGRAPH}\n{line}\n{PARAGRAPH}") == f"{PARAGRAPH}\n{PARAGRAPH}"


@pytest.mark.parametrize(
    "line",
    [
        "Readers who want to read more about the budget can find the full report on the ministry's website, "
        "which was published on Monday.",
        "More than 40,000 residents subscribe to the council's emergency text alerts, officials said on "
        "Tuesday after the river burst its banks.",
        "Share prices in Frankfurt fell 3% after the announcement, wiping out the week's gains.",
        "Popular anger over fuel prices spilled onto the streets of Nairobi on Tuesday.",
        "Home Secretary Yvette Cooper said the new rules would take effect in April.",
        "Next, the committee will vote on the amendment, which the opposition has promised to block.",
        "Print and broadcast media were barred from the courtroom during the verdict.",
        "The regulator found that the company uses cookies to track users without consent, and fined it.",
        "Comments made by the minister on Sunday drew sharp criticism from the opposition.",
        "Facebook said it had removed 3,000 accounts linked to the campaign.",
        "Advertisement spending rose by a fifth in the first quarter, the agency said.",
        "Trending downwards since March, inflation fell to 2.1% in October.",
    ],
    ids=[
        "read-more",
        "subscribe",
        "share-prices",
        "popular",
        "home-secretary",
        "next-comma",
        "print-media",
        "uses-cookies",
        "comments-made",
        "facebook-said",
        "advertisement-spending",
        "trending",
    ],
)
def test_article_sentences_containing_chrome_words_are_kept(line: str) -> None:
    """A real sentence that merely contains a chrome phrase is article text and is kept."""
    assert not is_chrome(line)
    assert strip_chrome(f"{PARAGRAPH}\n{line}") == f"{PARAGRAPH}\n{line}"


def test_long_lines_are_never_chrome() -> None:
    """A line longer than MAX_CHROME_LINE is content even if it opens with a chrome phrase."""
    line = "Stay tuned for the debate: " + "the minister will defend the budget line by line. " * 6
    assert len(line) > MAX_CHROME_LINE
    assert not is_chrome(line)
    assert is_chrome(line[:MAX_CHROME_LINE])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Story.\nPrev Article\nOther headline\nMore story.", "Story.\nMore story."),
        ("Story.\nNext Post:\n\n  \nOther headline\nMore story.", "Story.\nMore story."),
        ("Story.\nPrevious\nOther headline\nNext\nThird headline", "Story."),
        ("Story.\nNext Article", "Story."),
    ],
    ids=["prev-article", "blank-lines-between", "prev-and-next", "link-at-the-end"],
)
def test_navigation_link_takes_the_following_headline_with_it(body: str, expected: str) -> None:
    """'Prev/Next Article' lines are dropped with the one linked headline after them, and only that line."""
    assert strip_chrome(body) == expected


def test_blank_lines_are_dropped_and_the_rest_kept_verbatim() -> None:
    """Blank lines vanish; kept lines are not re-spaced or re-cased."""
    body = "\n\n  Kyiv,  Monday.  \n\t\nTalks RESUME.\r\n"
    assert strip_chrome(body) == "  Kyiv,  Monday.  \nTalks RESUME."


@given(tricky_text)
def test_strip_chrome_only_removes_lines(body: str) -> None:
    """Stripping never fails and never alters or reorders a line; it only drops whole lines."""
    kept = strip_chrome(body).splitlines() if strip_chrome(body) else []
    remaining = iter(body.splitlines())
    assert all(any(line == candidate for candidate in remaining) for line in kept)
