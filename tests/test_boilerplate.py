"""Site chrome removal (newsdedup.boilerplate)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from newsdedup.boilerplate import MAX_CHROME_LINE, RecurringLines, is_chrome, strip_chrome

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


KNOWN_CHROME_LINES = [
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
    # German.
    "Alle akzeptieren",
    "Nur notwendige Cookies akzeptieren",
    "Wir verwenden Cookies, um Ihnen ein optimales Webseiten-Erlebnis zu bieten.",
    "Artikel teilen",
    "Newsletter abonnieren",
    "Jetzt Abo abschließen",
    "Bereits Abonnent? Hier anmelden",
    "Das könnte Sie auch interessieren",
    "Mehr zum Thema: Die Koalition der Willigen",
    "Anzeige",
    # Spanish.
    "Aceptar todas las cookies",
    "Utilizamos cookies propias y de terceros para mejorar nuestros servicios.",
    "Suscríbete",
    "¿Ya eres suscriptor? Inicia sesión",
    "Compartir en WhatsApp",
    "Te puede interesar",
    "Lee también: El Gobierno aprueba el presupuesto",
    "Deja un comentario",
    # French.
    "Tout accepter",
    "Continuer sans accepter",
    "Ce site utilise des cookies pour améliorer votre expérience.",
    "Abonnez-vous",
    "Abonnez-vous à notre newsletter",
    "Il vous reste 72% de cet article à lire. La suite est réservée aux abonnés.",
    "Partager cet article",
    "À lire aussi : Ukraine, la coalition des volontaires se réunit à Paris",
    "Laisser un commentaire",
    # Polish.
    "Akceptuję",
    "Akceptuję wszystkie",
    "Ta strona używa plików cookies.",
    "Zapisz się do newslettera",
    "Udostępnij",
    "Czytaj także: Rząd przyjął projekt budżetu",
    "Dodaj komentarz",
    # Turkish.
    "Tümünü kabul et",
    "TÜMÜNÜ KABUL ET",
    "Çerez ayarları",
    "Bu sitede çerezler kullanılmaktadır.",
    "Bültenimize abone olun",
    "Haberi paylaş",
    "İLGİLİ HABERLER",
    "Yorum yap",
    # Russian.
    "Принять все",
    "Мы используем файлы cookie для улучшения работы сайта.",
    "Подписаться на рассылку",
    "Подпишитесь на наш канал в Telegram",
    "Поделиться",
    "Читайте также: Коалиция желающих обсудила гарантии безопасности",
    "Оставить комментарий",
    # English sign-offs and footers.
    "Stay tuned to The Horizons Times for real-time updates on global security.",
    "Stay tuned for more updates.",
    "Stay tuned for the latest news.",
    "Stay tuned!",
    "© 2026 Daily Herald Media Group",
    "Copyright 2026 The Associated Press. All rights reserved.",
]


@pytest.mark.parametrize("line", KNOWN_CHROME_LINES, ids=lambda line: line[:40])
def test_realistic_chrome_lines_are_stripped(line: str) -> None:
    """Cookie banners, newsletter prompts, paywall notices, share rows, navigation and sign-offs are chrome,
    in each of the seven languages."""
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
    line = "Stay tuned to The Horizons Times for updates: " + "the minister will defend the budget line by line. " * 6
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


@pytest.mark.parametrize(
    "page",
    [
        "Too Many Requests\nWe're sorry, but you have sent too many requests to us recently. Please try again later.",
        "Error 429 - Too Many Requests\nRate limit exceeded.\nTry again in a few minutes.",
        "429 Too Many Requests / Please try again later",
        'Access Denied\nYou don\'t have permission to access "http://www.example.com/world/" on this server.\n'
        "Reference #18.5c3e1402.1718000000.2a1b3c4d",
        "Just a moment...\nChecking if the site connection is secure\n"
        "Please enable JavaScript and cookies to continue\n"
        "Ray ID: 8a1b2c3d4e5f6a7b\nPerformance & security by Cloudflare",
        "Are you a robot?\nPlease verify you are a human\nPress & Hold to confirm you are a human (and not a bot).",
        "Pardon Our Interruption\nAs you were browsing something about your browser made us think you were a bot.\n"
        "Please complete the security check to access the site.",
        "This page is not available in your region.",
        "This content is not available in your country due to legal restrictions.",
        "503 Service Unavailable\nThe server is temporarily unavailable. We'll be back soon.",
        "Sorry, the page you were looking for could not be found.\n404 Not Found",
        "You have reached your limit of free articles this month.\nSubscribe now\nAlready a subscriber? Sign in",
        "We value your privacy\nWe and our partners store and/or access information on a device, such as cookies "
        "and process personal data.\nAccept all | Reject all | Manage preferences\nPrivacy Policy",
        "Zu viele Anfragen\nBitte versuchen Sie es später noch einmal.",
        "Demasiadas solicitudes\nPor favor, inténtalo más tarde.",
        "Trop de requêtes\nVeuillez réessayer plus tard.",
        "Zbyt wiele żądań\nSpróbuj ponownie później.",
        "Çok fazla istek\nLütfen daha sonra tekrar deneyin.",
        "Слишком много запросов\nПопробуйте ещё раз позже.",
    ],
    ids=[
        "too-many-requests",
        "error-429",
        "joined-on-one-line",
        "akamai-access-denied",
        "cloudflare-check",
        "robot-check",
        "perimeterx-check",
        "geo-blocked",
        "geo-blocked-legal",
        "service-unavailable",
        "not-found",
        "free-article-limit",
        "consent-wall",
        "de",
        "es",
        "fr",
        "pl",
        "tr",
        "ru",
    ],
)
def test_rate_limit_error_and_wall_pages_strip_to_nothing(page: str) -> None:
    """A page that is only a rate-limit, bot-check, error, geo-block, paywall or consent notice has no content left."""
    assert strip_chrome(page) == ""


def test_two_rate_limit_pages_leave_nothing_to_match() -> None:
    """Two sites' rate-limit pages both strip to nothing, so neither can be called a copy of the other."""
    first = "Too Many Requests\nPlease try again later."
    second = "HTTP 429\nYou have made too many requests. Please try again in a few minutes."
    assert strip_chrome(first) == strip_chrome(second) == ""


@pytest.mark.parametrize(
    "line",
    [
        "Stay tuned for the verdict in the Smith trial on Monday.",
        "Too many requests for asylum went unanswered last year, the report found.",
        "Access denied to journalists drew a protest from the press union on Friday.",
        "Something went wrong at the plant on Tuesday night, officials said.",
        "This service is unavailable to millions of rural users, the regulator said.",
        "Copyright lawyers said the ruling would reshape the music industry.",
        "Previous governments had promised the same reform.",
        "Die Regierung will nicht alle Vorschläge akzeptieren, sagte der Sprecher.",
        "El Gobierno aceptó todas las condiciones del acuerdo.",
        "Le ministre a refusé de tout accepter sans un vote au Parlement.",
        "Nie akceptuję takiego zachowania – powiedział premier.",
        "Bakan, teklifi kabul etmeyeceklerini açıkladı.",
        "Правительство решило принять все поправки к закону.",
        "Подписаться на рассылку министерства можно на его сайте, сообщили в ведомстве.",
    ],
    ids=[
        "stay-tuned-verdict",
        "too-many-requests",
        "access-denied",
        "something-went-wrong",
        "service-unavailable",
        "copyright-lawyers",
        "previous-governments",
        "de-akzeptieren",
        "es-acepto",
        "fr-tout-accepter",
        "pl-akceptuje",
        "tr-kabul",
        "ru-prinyat-vse",
        "ru-podpisatsya",
    ],
)
def test_news_sentences_that_open_like_chrome_are_kept(line: str) -> None:
    """A real sentence that starts with or contains a chrome phrase, in any language, is article text."""
    assert not is_chrome(line)
    assert strip_chrome(f"{PARAGRAPH}\n{line}") == f"{PARAGRAPH}\n{line}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "Story.\nNext Article: Spain strengthens China trade ties despite US opposition\nMore story.",
            "Story.\nMore story.",
        ),
        ("Story.\n« Previous Post: Markets plunge on tariff fears", "Story."),
        ("Story.\nArtículo anterior\nEl Gobierno aprueba el presupuesto\nMore story.", "Story.\nMore story."),
        ("Story.\nСледующая статья » Коалиция обсудила гарантии", "Story."),
        ("Story.\nNext story: the committee will vote on the amendment on Tuesday.", None),
        ("Story.\nNext\n" + PARAGRAPH, "Story.\n" + PARAGRAPH),
        ("Story.\nPrevious\nThe committee will vote on Tuesday.", "Story.\nThe committee will vote on Tuesday."),
        ("Story.\nPrev Article\nNext Article\nThird headline\nMore story.", "Story.\nMore story."),
    ],
    ids=[
        "link-and-headline-on-one-line",
        "arrow-and-headline",
        "es-link",
        "ru-link-and-headline",
        "link-word-then-sentence",
        "long-paragraph-after-link",
        "sentence-after-link",
        "two-links-in-a-row",
    ],
)
def test_navigation_links_take_only_a_headline_with_them(body: str, expected: str | None) -> None:
    """A Prev/Next link goes with a headline after it (same line or next), never with a sentence or paragraph."""
    assert strip_chrome(body) == (body if expected is None else expected)


# A source's articles: a different story each, wrapped in the same site template.
HERALD = "Daily Herald"
HERALD_TEMPLATE = [
    "The Daily Herald: independent news for the Midlands since 1889",
    "Follow us on Mastodon @dailyherald",
    "© 2026 Daily Herald Media Group",
]
HERALD_STORIES = [
    "The county council approved a new flood barrier for the river Severn on Monday.",
    "Police arrested two men after a warehouse fire in Wolverhampton, a spokesman said.",
    "The hospital trust will close its maternity ward at night from April, managers confirmed.",
    "Birmingham's new tram line opened three months late and 40 million pounds over budget.",
    "A local bakery won the national award for the best sourdough loaf of the year.",
    "Farmers in Shropshire warned that the dry spring could halve this year's wheat harvest.",
]
TAGLINE = HERALD_TEMPLATE[0]


def herald_article(story: str, extra: str = "") -> str:
    """A Daily Herald article: the story and an optional extra paragraph, then the site template."""
    return "\n".join([story, extra, *HERALD_TEMPLATE])  # a blank line when there is no extra: never counted


def test_lines_in_every_article_of_a_source_are_learned() -> None:
    """After five articles that all end with the same footer, its lines are that source's chrome."""
    recurring = RecurringLines(min_articles=5)
    for story in HERALD_STORIES[:5]:
        recurring.observe(HERALD, herald_article(story))
    assert all(recurring.is_learned(HERALD, line) for line in HERALD_TEMPLATE)
    # The tagline matches no known pattern: only learning removes it.
    assert not is_chrome(TAGLINE)
    story = HERALD_STORIES[5]
    assert recurring.strip(HERALD, herald_article(story)) == story
    assert TAGLINE in strip_chrome(herald_article(story))


def test_a_line_is_learned_only_from_enough_distinct_articles() -> None:
    """A line shared by two (or min_articles - 1) articles of a source is content and stays."""
    shared = "Ministers will meet again in Brussels on Thursday to agree the final text."
    recurring = RecurringLines(min_articles=5)
    for i, story in enumerate(HERALD_STORIES[:5]):
        recurring.observe(HERALD, herald_article(story, extra=shared if i < 2 else ""))
    assert not recurring.is_learned(HERALD, shared)
    assert shared in recurring.strip(HERALD, herald_article(HERALD_STORIES[5], extra=shared))
    for story in HERALD_STORIES[2:4]:
        recurring.observe(HERALD, herald_article(story, extra=shared))
    assert not recurring.is_learned(HERALD, shared)  # 4 articles
    recurring.observe(HERALD, herald_article(HERALD_STORIES[4], extra=shared))
    assert recurring.is_learned(HERALD, shared)  # 5 articles


def test_a_line_repeated_within_one_article_is_not_learned() -> None:
    """Repeats inside one article count once: recurrence means across articles."""
    recurring = RecurringLines(min_articles=2)
    recurring.observe(HERALD, "\n".join(["Live: flood warnings across the Midlands"] * 10))
    assert not recurring.is_learned(HERALD, "Live: flood warnings across the Midlands")


def test_other_sources_are_unaffected() -> None:
    """What one source repeats says nothing about another that prints the same line once."""
    recurring = RecurringLines(min_articles=3)
    for story in HERALD_STORIES[:3]:
        recurring.observe(HERALD, herald_article(story))
    assert recurring.is_learned(HERALD, TAGLINE)
    assert not recurring.is_learned("Evening Courier", TAGLINE)
    body = f"{HERALD_STORIES[5]}\n{TAGLINE}"
    assert recurring.strip("Evening Courier", body) == body == strip_chrome(body)


def test_long_lines_are_never_learned() -> None:
    """A line longer than MAX_CHROME_LINE is content however many articles repeat it."""
    disclaimer = "This article is part of our series on the Midlands economy. " * 6
    assert len(disclaimer) > MAX_CHROME_LINE
    recurring = RecurringLines(min_articles=2)
    for story in HERALD_STORIES:
        recurring.observe(HERALD, f"{story}\n{disclaimer}")
    assert not recurring.is_learned(HERALD, disclaimer)
    assert recurring.tracked_lines(HERALD) == len(HERALD_STORIES)  # the stories, never the long line
    assert disclaimer in recurring.strip(HERALD, f"{HERALD_STORIES[0]}\n{disclaimer}")


def test_learned_lines_match_across_case_and_spacing() -> None:
    """A template line re-rendered with other spacing or capitals is still the same line."""
    recurring = RecurringLines(min_articles=2)
    recurring.observe(HERALD, f"{HERALD_STORIES[0]}\nSUBSCRIBE TO THE   HERALD PRINT EDITION")
    recurring.observe(HERALD, f"{HERALD_STORIES[1]}\n  Subscribe to the Herald print edition ")
    assert recurring.strip(HERALD, f"{HERALD_STORIES[2]}\nSubscribe to the herald print edition") == HERALD_STORIES[2]


def test_strip_also_removes_known_chrome_and_navigation() -> None:
    """`RecurringLines.strip` is `strip_chrome` plus the learned lines."""
    recurring = RecurringLines(min_articles=2)
    for story in HERALD_STORIES[:2]:
        recurring.observe(HERALD, herald_article(story))
    body = f"{HERALD_STORIES[2]}\nShare this article\nPrev Article\nMarkets rally\n{TAGLINE}"
    assert recurring.strip(HERALD, body) == HERALD_STORIES[2]


def test_sources_are_bounded_and_the_least_recently_observed_is_forgotten() -> None:
    """With max_sources 2, a third source evicts the source observed longest ago."""
    recurring = RecurringLines(min_articles=2, max_sources=2)
    for source in ["Herald", "Courier", "Herald", "Gazette"]:
        recurring.observe(source, f"{source} footer\n{source} {len(recurring)}")
    assert len(recurring) == 2
    assert recurring.tracked_lines("Courier") == 0
    assert recurring.is_learned("Herald", "Herald footer")


def test_template_lines_stay_learned_while_unique_lines_churn_through_a_small_table() -> None:
    """With a table far smaller than the lines seen, the footer in every article stays learned."""
    recurring = RecurringLines(min_articles=5, max_lines_per_source=16)
    for i in range(200):
        stories = "\n".join(f"Paragraph {j} of story {i} about the county council." for j in range(10))
        recurring.observe(HERALD, herald_article(stories))
        assert recurring.tracked_lines(HERALD) <= 16
    assert all(recurring.is_learned(HERALD, line) for line in HERALD_TEMPLATE)
    assert not recurring.is_learned(HERALD, "Paragraph 3 of story 199 about the county council.")


@given(
    articles=st.lists(st.sets(st.sampled_from([f"line {i}" for i in range(12)]), max_size=8), max_size=40),
    capacity=st.integers(1, 12),
)
def test_no_line_is_learned_before_it_recurs_in_min_articles(articles: list[set[str]], capacity: int) -> None:
    """However small the table and whatever is evicted, a learned line really was in min_articles articles."""
    recurring = RecurringLines(min_articles=3, max_lines_per_source=capacity)
    for lines in articles:
        recurring.observe(HERALD, "\n".join(sorted(lines)))
        assert recurring.tracked_lines(HERALD) <= capacity
    for line in {line for lines in articles for line in lines}:
        if recurring.is_learned(HERALD, line):
            assert sum(line in lines for lines in articles) >= 3


def test_learning_is_deterministic() -> None:
    """The same sequence of observations learns the same lines and strips the same way."""
    bodies = [herald_article(story) for story in HERALD_STORIES]

    def replay() -> list[str]:
        recurring = RecurringLines(min_articles=3, max_lines_per_source=4)
        stripped = []
        for body in bodies:
            recurring.observe(HERALD, body)
            stripped.append(recurring.strip(HERALD, body))
        return stripped

    assert replay() == replay()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"min_articles": 1}, "min_articles must be at least 2"),
        ({"max_lines_per_source": 0}, "got 0 and 1024"),
        ({"max_sources": 0}, "got 512 and 0"),
    ],
    ids=["min-articles", "max-lines", "max-sources"],
)
def test_invalid_bounds_are_refused_with_the_numbers(arguments: dict[str, int], message: str) -> None:
    """A bound that cannot work is refused up front, and the message says the value given."""
    with pytest.raises(ValueError, match=message):
        RecurringLines(**arguments)


def test_learned_keys_strip_like_the_source_does() -> None:
    """`learned(source)` is a snapshot that `strip_chrome` applies exactly as `strip(source, ...)` does."""
    recurring = RecurringLines(min_articles=2)
    for story in ("First story.", "Second story."):
        recurring.observe("Herald", f"{story}\nThe Herald, proudly local since 1889")
    body = "Third story.\nTHE HERALD,  proudly local since 1889"
    assert strip_chrome(body, recurring.learned("Herald")) == recurring.strip("Herald", body) == "Third story."
    assert recurring.learned("Gazette") == frozenset() and strip_chrome(body) == body


def test_snapshot_puts_a_source_back_as_it_was() -> None:
    """A failed write undoes its observations: the counts, or the source's absence, come back."""
    recurring = RecurringLines(min_articles=2)
    recurring.observe("Herald", "Story one\nHerald footer")
    restore_herald, restore_new = recurring.snapshot("Herald"), recurring.snapshot("Gazette")
    recurring.observe("Herald", "Story two\nHerald footer")
    recurring.observe("Gazette", "Story three\nGazette footer")
    assert recurring.is_learned("Herald", "Herald footer")
    restore_herald()
    restore_new()
    assert not recurring.is_learned("Herald", "Herald footer") and recurring.tracked_lines("Herald") == 2
    assert recurring.tracked_lines("Gazette") == 0 and len(recurring) == 1


def test_exported_counts_load_into_a_fresh_instance() -> None:
    """export/load round-trips a source's counts (what the store keeps), learned lines included."""
    recurring = RecurringLines(min_articles=2)
    for story in ("One", "Two", "Three"):
        recurring.observe("Herald", f"{story}\nHerald footer\nSometimes this")
    reloaded = RecurringLines(min_articles=2)
    reloaded.load("Herald", recurring.export("Herald"))
    assert reloaded.learned("Herald") == recurring.learned("Herald") != frozenset()
    assert reloaded.tracked_lines("Herald") == recurring.tracked_lines("Herald") == 5


def test_observe_names_the_source_it_forgets() -> None:
    """The least recently observed source is forgotten past max_sources, and named so a store can drop it too."""
    recurring = RecurringLines(min_articles=2, max_sources=2)
    assert recurring.observe("A", "a") is None and recurring.observe("B", "b") is None
    assert recurring.observe("A", "a again") is None
    forgotten = recurring.observe("C", "c")
    assert forgotten is not None and forgotten.source == "B" and "B" not in recurring


def test_a_forgotten_source_readmitted_keeps_its_chrome_and_goes_first_again() -> None:
    """A write that failed after forgetting a source puts it back: learned lines and least-recent place alike."""
    recurring = RecurringLines(min_articles=2, max_sources=2)
    for story in ("One", "Two"):
        recurring.observe("Herald", f"{story}\nThe Herald: news for the Midlands since 1889")
    recurring.observe("Courier", "A brief of its own")
    undo_gazette = recurring.snapshot("Gazette")
    forgotten = recurring.observe("Gazette", "Another brief")
    assert forgotten is not None and forgotten.source == "Herald" and "Herald" not in recurring
    recurring.readmit(forgotten)
    undo_gazette()
    assert "Gazette" not in recurring and len(recurring) == 2
    assert recurring.is_learned("Herald", "The Herald: news for the Midlands since 1889")
    forgotten_again = recurring.observe("Gazette", "Another brief")
    assert forgotten_again is not None and forgotten_again.source == "Herald"


def test_loading_a_source_never_forgets_another() -> None:
    """Which source goes past max_sources is the writer's choice, which a replica gets as a `drop`."""
    writer = RecurringLines(min_articles=2, max_sources=2)
    for source in ("Herald", "Courier"):
        for story in ("One", "Two"):
            writer.observe(source, f"{story}\nThe {source} template line")
    replica = RecurringLines(min_articles=2, max_sources=2)
    for source in ("Courier", "Herald"):  # arriving in another order than the writer observed them
        replica.load(source, writer.export(source))
    forgotten = writer.observe("Gazette", "A brief")
    assert forgotten is not None
    replica.load("Gazette", writer.export("Gazette"))
    assert len(replica) == 3  # its own least recent (the Courier) would have been the wrong one
    replica.drop(forgotten.source)
    for source in ("Herald", "Courier", "Gazette"):
        assert (source in replica, replica.learned(source)) == (source in writer, writer.learned(source))


def test_forgetting_an_article_takes_its_counts_back() -> None:
    """Observed five times but forgotten four (deleted, ingested again), an article counts once: not learned."""
    recurring = RecurringLines(min_articles=5)
    body = "A story of its own.\nCorrection: an earlier version misspelled the mayor's name."
    for _ in range(4):
        recurring.observe("Herald", body)
        recurring.forget("Herald", body)
    recurring.observe("Herald", body)
    assert not recurring.is_learned("Herald", "Correction: an earlier version misspelled the mayor's name.")
    for story in ("Two", "Three", "Four", "Five"):
        recurring.observe("Herald", f"{story}\nCorrection: an earlier version misspelled the mayor's name.")
    assert recurring.is_learned("Herald", "Correction: an earlier version misspelled the mayor's name.")
    recurring.forget("Gazette", body)  # a source never seen: nothing to take back
    assert len(recurring) == 1
