"""Site chrome that is not the article: comment prompts, navigation, share and
newsletter prompts, cookie and paywall notices.

Chrome is removed line by line before anything is hashed, so that two
articles are never called duplicates because they share a cookie banner, and
so that a wire copy with a site's footer appended still hashes like the copy
without it. Only short lines are considered: a pattern that matches inside a
real paragraph leaves the paragraph alone.

The patterns are the ones seen on real pages (see ../shared/data/seeds/):
"Leave a Comment", "This site uses Akismet to reduce spam...", "Prev Article"
followed by the linked headline, "Stay tuned to The ... Times for ...".
"""

from __future__ import annotations

import re

# A line longer than this is content even if it contains a chrome phrase.
MAX_CHROME_LINE = 300

_CHROME_LINE_PATTERNS = [
    # Comment prompts and counters.
    r"(leave|post|add|write) a (comment|reply)",
    r"comments? \(\d+\)|\d+ comments?|no comments( yet)?|show comments|view comments",
    r"join the (conversation|discussion)",
    r"this site uses akismet to reduce spam\b.*",
    r"you must be logged in to post a comment\.?",
    # Navigation, breadcrumbs, related links.
    r"(you may|you might) also like|related (articles|posts|stories|news)|read more|more stories",
    r"recommended( for you)?",
    r"(most )?(popular|trending|latest)( news| stories| articles)?|top stories|editor'?s picks",
    r"home\s*[»›>/|].*",
    r"skip to (main )?content|back to top|advertisement|sponsored( content)?",
    # Share prompts.
    r"share( this)?( article| story| post)?( on .*)?|share via .*|click to share .*",
    r"(tweet|email|print|copy link|whatsapp|facebook|twitter|linkedin|telegram|reddit)"
    r"(\s*[|·•,/]?\s*(tweet|email|print|copy link|whatsapp|facebook|twitter|x|linkedin|telegram|reddit))*",
    # Newsletter and subscription prompts, paywalls.
    r"(sign up|subscribe)( now)?( to| for)? (our|the) (free )?(daily |weekly )?newsletters?.*",
    r"get the latest (news|headlines|updates).{0,80}(inbox|delivered).*",
    r"subscribe( now| today)?|already a subscriber\?.*|subscribe to (continue|keep) reading.*",
    r"you('ve| have) reached your (free )?(article|story) limit.*|sign in to (continue|read).*",
    r"this (article|story|content) is (only )?(available )?(for|to) (paying )?subscribers.*",
    # Cookie and consent banners.
    r"(this (web)?site|we( and our partners)?) uses? cookies.*|accept (all )?cookies|reject all( cookies)?|"
    r"cookie (policy|settings|preferences)|manage (cookies|consent|preferences)|"
    r"by (continuing to )?(use|using|browse|browsing) (this|our) (web)?site.{0,100}cookies.*",
    # Sign-offs that advertise the site.
    r"stay tuned (to|for|with) .*",
    r"follow us on .*",
]
_CHROME_LINE = re.compile(r"\s*(?:" + "|".join(_CHROME_LINE_PATTERNS) + r")\s*[.!:]?\s*", re.IGNORECASE)
# "Prev Article" / "Next Article" links are followed by the linked article's headline.
_NAVIGATION_LINK = re.compile(r"\s*(prev|previous|next)( article| post| story)?\s*[:»›>]?\s*", re.IGNORECASE)


def is_chrome(line: str) -> bool:
    """True for a short line that is site chrome rather than article text."""
    return len(line) <= MAX_CHROME_LINE and _CHROME_LINE.fullmatch(line) is not None


def strip_chrome(body: str) -> str:
    """The body without its chrome lines (and the headline line after a Prev/Next link)."""
    kept: list[str] = []
    skip_link_title = False
    for line in body.splitlines():
        if not line.strip():
            continue
        if skip_link_title:
            skip_link_title = False
            continue
        if _NAVIGATION_LINK.fullmatch(line):
            skip_link_title = True
            continue
        if not is_chrome(line):
            kept.append(line)
    return "\n".join(kept)
