"""Site chrome that is not the article: comment prompts, navigation, share and
newsletter prompts, cookie and paywall notices, rate-limit and error pages.

Chrome is removed line by line before anything is hashed, so that two
articles are never called duplicates because they share a cookie banner, and
so that a wire copy with a site's footer appended still hashes like the copy
without it. A page that is nothing but chrome (a "Too Many Requests" page, a
consent wall) strips to nothing, and an empty text is never a duplicate of
anything. Only whole short lines are chrome: a phrase that matches inside a
real paragraph leaves the paragraph alone.

Chrome is found two ways:

* Known patterns, in English, German, Spanish, French, Polish, Turkish and
  Russian. They are the ones seen on real pages (see ../shared/data/seeds/):
  "Leave a Comment", "This site uses Akismet to reduce spam...", "Prev
  Article" followed by the linked headline, "Stay tuned to The ... Times for
  ...". A line of several chrome phrases joined by " | ", " / ", " - " and the
  like ("Too Many Requests / Please try again later") is chrome too.
* Learned lines (`RecurringLines`): a short line that recurs in many articles
  of one source is that source's template (a tagline such as "The Daily
  Herald: independent news for the Midlands since 1889", a masthead, a
  house-style footer), whatever its wording or language.

API (all pure Python, no I/O, no threads):

    is_chrome(line) -> bool                 one line against the known patterns
    strip_chrome(body, learned=()) -> str   a body without its known chrome and the `learned` lines
    RecurringLines(min_articles=5, max_lines_per_source=512, max_sources=1024)
        .observe(source, body) -> Forgotten|None
                                            count one article of `source`; a source forgotten to make room
        .readmit(forgotten)                 put a forgotten source back (for a write that fails)
        .forget(source, body)               take an article's counts back (deleted or evicted)
        .learned(source) -> frozenset[int]  keys of the lines learned for `source`, for strip_chrome
        .strip(source, body) -> str         strip_chrome with the lines learned for `source`
        .is_learned(source, line) -> bool   whether `line` is learned chrome of `source`
        .snapshot(source) -> restore()      undo for a write that fails
        .export(source) / .load(source, b)  a source's counts as bytes, for the store
        .tracked_lines(source) -> int       lines counted for `source`, at most max_lines_per_source
        len(recurring) -> int               how many sources are tracked, at most max_sources
        source in recurring                 whether `source` is tracked

The engine takes `learned(source)` under its lock, strips outside it, and
observes each newly stored article once its batch is judged (see
`Engine._learn_chrome`); `RecurringLines` itself is not thread-safe.

The result depends on the articles observed before, so it is deterministic
for a given sequence of `observe` calls, not for one article on its own: the
first articles of a source keep the chrome that is only learned later.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import xxhash

from newsdedup import text

# A line longer than this is content even if it contains a chrome phrase, and
# is never learned as chrome however often it recurs.
MAX_CHROME_LINE = 300
# The line after a bare "Prev"/"Next" link is dropped as the linked headline
# only if it is at most this long and does not end like a sentence.
MAX_LINKED_HEADLINE = 200

DEFAULT_MIN_ARTICLES = 5
DEFAULT_MAX_LINES_PER_SOURCE = 512
DEFAULT_MAX_SOURCES = 1024

# Patterns are matched against a whole line, folded by `_fold` (case-folded,
# so German ß is written ss and Turkish ı is written i), and must therefore
# use no upper-case escapes (\S, \W, \D). A phrase common in real
# sentences ("Access denied to journalists...") is matched alone, with no free
# text after it; ".*" follows only a phrase no article sentence starts with.
_CHROME_LINE_PATTERNS = {
    "en": [
        # Comment prompts and counters.
        r"(leave|post|add|write) a (comment|reply)",
        r"comments? \(\d+\)|\d+ comments?|no comments( yet)?|show comments|view comments",
        r"join the (conversation|discussion)",
        r"this site uses akismet to reduce spam\b.*",
        r"you must be logged in to post a comment\.?",
        # Navigation, breadcrumbs, related links.
        r"(you may|you might) also like|related (articles|posts|stories|news)|read more|more stories",
        r"recommended( for you)?",
        r"(most )?(popular|trending|latest)( news| stories| articles)?|top stories|editor['’]?s picks",
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
        r"you('ve| have) reached (your|the) (monthly |weekly )?(free )?(article|story) limit.*",
        r"you('ve| have) reached (your|the) (monthly |weekly )?limit of (\d+ )?free (articles|stories).*",
        r"you('ve| have) (read|used( up)?) (all )?(of )?your (\d+ )?free (articles|stories).*",
        r"this is your last free (article|story).*|sign in to (continue|read).*",
        r"this (article|story|content) is (only )?(available )?(for|to) (paying )?subscribers.*",
        # Cookie and consent banners.
        r"(this (web)?site|we( and our partners)?) uses? cookies.*|accept( all)?( cookies)?|reject all( cookies)?|"
        r"cookie (policy|settings|preferences)|manage (cookies|consent|preferences)|"
        r"by (continuing to )?(use|using|browse|browsing) (this|our) (web)?site.{0,100}cookies.*",
        r"we( and our (\d+ )?(partners|vendors))? store and/or access information on a device.*",
        r"we value your privacy|privacy (policy|notice|settings)|terms (of use|of service|and conditions)|"
        r"do not sell (or share )?my personal information|accept and (close|continue)",
        # Footers and sign-offs that advertise the site. "Stay tuned" only
        # with what a sign-off promises: "Stay tuned for the verdict ..." is news.
        r"©.*|(\(c\)|copyright)\s*©?\s*\d{4}\b.*|all rights reserved",
        r"stay tuned( for (more|further|the latest|latest|live|all the latest|updates)\b.*)?",
        r"stay tuned (to|with) .{1,80}? for "
        r"(more|further|the latest|latest|live|real-time|regular|all|updates|news)\b.*",
        r"stay tuned (to|with) (us|this (space|page|blog|story)|our (website|site|channel|page|live blog))\b.*",
        r"follow us on .*",
    ],
    # Rate-limit, bot-check and error pages, which a crawler stores as if they were articles.
    "errors": [
        r"((http|error|http error|status|status code)\s*:?\s*)?[45]\d\d\s*[-:–|]?\s*"
        r"(too many requests|forbidden|(page )?not found|service (temporarily )?unavailable|bad gateway|"
        r"gateway time-?out|internal server error|access denied)",
        r"(http|error|http error|status code)\s*:?\s*[45]\d\d( error)?",
        r"too many requests|forbidden|(page|article) not found|service (temporarily )?unavailable|bad gateway|"
        r"internal server error|access (to this page )?(has been )?(denied|blocked|forbidden)",
        r"(please )?try again (later|in a (few|couple of) (minutes|moments|seconds))",
        r"(we('re| are) sorry,? (but )?)?you('ve| have) (sent|made) too many requests.*",
        r"we('ve| have) (received|detected) (too many|an unusual number of) requests.*",
        r"rate limit(ed| exceeded| reached)?|(you('ve| have) been|you are being) rate[- ]limited.*",
        r"you (do not|don't) have permission to access .{0,200} on this server\.?|reference #?[0-9a-f.]+",
        r"(cloudflare )?ray id:? [0-9a-f]+.*|performance (&|and) security by cloudflare",
        r"(please )?(enable|turn on) (javascript|js)( and cookies)?\b.*",
        r"(javascript|js) is (disabled|required|not enabled)\b.*",
        r"you need to enable javascript.*|this (site|page|website|app) requires javascript.*",
        r"are you a (robot|human)\??.*|(please )?(verify|confirm|prove) (that )?you('re| are) (a )?human.*",
        r"i['’]?m not a robot|checking (if the site connection is secure|your browser).*|just a moment\.*",
        r"press (and|&) hold( the button)? to confirm.*|(please )?complete the (captcha|security check).*|"
        r"pardon our interruption.*|as you were browsing,? something about your browser made us think you were a bot.*",
        r"(our systems have|we have|we've) detected unusual (traffic|activity).*",
        r"this (page|content|article|video|site|website|service|story) is (currently )?(not |no longer |un)available"
        r"( to you)?( in your (region|country|location|area))?( due to .{0,80})?",
        r"(sorry, )?(this|the) (page|article|story) (you (are|were) looking for|you requested) "
        r"(could not be found|does not exist|is (no longer |not )available|no longer exists|"
        r"has been (removed|moved)).*",
        r"(the )?(service|site|website|server) is (temporarily )?(unavailable|down for maintenance|under maintenance)|"
        r"we['’]ll be back soon",
        r"something went wrong[.!]?( please try again( later)?)?",
    ],
    "de": [
        r"alle (akzeptieren|ablehnen|cookies akzeptieren)|(cookies )?akzeptieren( und schliessen)?|ablehnen|"
        r"zustimmen( und weiter)?|"
        r"nur (notwendige|erforderliche|essenzielle) cookies( akzeptieren| zulassen| verwenden)?",
        r"cookie-?einstellungen|datenschutzeinstellungen|"
        r"(cookies|einstellungen|datenschutzeinstellungen) (verwalten|anpassen)",
        r"(wir verwenden|wir nutzen|diese (web)?seite verwendet|diese website (verwendet|nutzt)) cookies.*",
        r"(artikel|beitrag|seite) teilen|(jetzt |auf (facebook|twitter|x|whatsapp|linkedin) )?teilen|"
        r"link kopieren|drucken",
        r"newsletter (abonnieren|bestellen)|(jetzt )?(zum |für den |unseren )?newsletter anmelden.*|"
        r"melden sie sich (jetzt )?(für|zu) unserem? newsletter an.*",
        r"jetzt abonnieren|(jetzt )?abo (abschliessen|wählen)|(jetzt )?weiterlesen( mit .{1,40})?|"
        r"(sie sind )?bereits abonnent(in)?\?.*|"
        r"dieser (artikel|beitrag|inhalt) ist (nur |exklusiv )?für (abonnenten|abonnentinnen|abonnent\*innen).*",
        r"das könnte (sie|dich) auch interessieren|mehr zum thema(\s*[:|].*)?|weitere (artikel|nachrichten|beiträge)|"
        r"(ähnliche|verwandte) (artikel|beiträge)|zum seitenanfang|nach oben",
        r"kommentare?( \(\d+\))?|\d+ kommentare?|kommentar (schreiben|verfassen)|(jetzt )?kommentieren|anzeige|werbung",
        r"zu viele anfragen|zugriff verweigert|bitte aktivieren sie javascript.*|"
        r"bitte versuchen sie es später (noch einmal|erneut)",
    ],
    "es": [
        r"aceptar( todas?( las cookies)?| y cerrar| y continuar| cookies)?|rechazar( todas?( las cookies)?)?|"
        r"(configurar|configuración de|gestionar|administrar) (las )?cookies|más opciones",
        r"(utilizamos|usamos|este sitio( web)? (utiliza|usa)|esta (web|página) (utiliza|usa)) cookies.*",
        r"suscríbete( ahora| gratis)?|suscríbete (a|al) .*|¿?ya eres suscriptor\??.*|hazte suscriptor.*|"
        r"este (artículo|contenido) es exclusivo para suscriptores.*|regístrate( gratis)?( para .*)?",
        r"(recibe|apúntate a) (nuestra|nuestro|la|el) (newsletter|boletín).*",
        r"compartir( en (facebook|twitter|x|whatsapp|linkedin|telegram)| esta noticia| este artículo| artículo)?|"
        r"comparte (esta noticia|este artículo)|copiar enlace",
        r"(también )?te puede interesar|(noticias|artículos) relacionad[oa]s|(lee|lea) también\b.*|más noticias|"
        r"lo más (leído|visto)",
        r"deja (un|tu) comentario|comentarios?( \(\d+\))?|\d+ comentarios?|publicidad",
        r"demasiadas (solicitudes|peticiones)|acceso denegado|por favor,? (inténtalo|vuelve a intentarlo) más tarde",
    ],
    "fr": [
        r"tout accepter|tout refuser|accepter( et (fermer|continuer)| (tous )?les cookies| tout)?|"
        r"refuser( tout| les cookies)?|continuer sans accepter",
        r"(paramétrer|gérer|personnaliser) (les |mes )?(cookies|choix|préférences)|paramètres des cookies",
        r"(ce site( web)?|notre site) utilise des cookies.*|nous utilisons des cookies.*",
        r"abonnez-vous\b.*|s['’]abonner|déjà abonné(e)?\s?\?.*|"
        r"(cet article|ce contenu|la suite) est réservée? aux abonnés.*|il vous reste \d+\s?% de cet article à lire.*",
        r"inscrivez-vous (à|a) (notre|la) (newsletter|lettre d['’]information).*|recevez (notre|la) newsletter.*",
        r"partager( cet article| l['’]article| sur (facebook|twitter|x|whatsapp|linkedin))?|copier le lien|imprimer",
        r"(à|a) lire aussi\b.*|lire aussi\s*[:|].*|voir aussi|sur le même sujet|dans la même rubrique|"
        r"articles? (similaires|liés)",
        r"laisser un commentaire|commentaires?( \(\d+\))?|\d+ commentaires?|réagir|publicité",
        r"trop de requêtes|accès refusé|veuillez (réessayer plus tard|activer javascript\b.*)",
    ],
    "pl": [
        r"akceptuję( wszystkie| wszystko)?|akceptuj( wszystkie)?|zaakceptuj( wszystkie| wszystko)?|odrzuć( wszystkie)?|"
        r"przejdź do serwisu",
        r"ustawienia (plików cookies?|cookies|prywatności)|(zarządzaj|dostosuj) (ustawieniami|zgodami|cookies)",
        r"(ta strona|serwis|strona|nasz serwis) (używa|wykorzystuje|korzysta z) (plików )?cookies?.*|"
        r"(używamy|wykorzystujemy) (plików )?cookies?.*",
        r"zapisz się (do|na) newslettera?.*|subskrybuj\b.*|zaprenumeruj\b.*|wykup (dostęp|subskrypcję|prenumeratę).*|"
        r"masz już (konto|subskrypcję|prenumeratę)\?.*",
        r"(ten )?(artykuł|tekst|materiał) (jest )?dostępny (tylko )?dla (subskrybentów|prenumeratorów).*",
        r"udostępnij( artykuł| na (facebooku|twitterze|x))?|skopiuj link|drukuj",
        r"(zobacz|czytaj) (także|też|również)\b.*|czytaj więcej|polecane( artykuły)?|powiązane (artykuły|wiadomości)|"
        r"najczęściej czytane",
        r"dodaj komentarz|komentarze( \(\d+\))?|\d+ komentarzy?|reklama",
        r"zbyt wiele żądań|odmowa dostępu|dostęp zabroniony|spróbuj ponownie później",
    ],
    "tr": [
        r"tümünü kabul et|kabul et(miyorum)?|tümünü reddet|reddet|çerez(leri)? kabul et|"
        r"çerez (ayarlari|tercihleri|politikasi)",
        r"(bu (web )?sitede|(web )?sitemizde) çerez(ler)? kullanil.*|çerez(ler)? kullaniyoruz.*",
        r"(e-?bültenimize|bültenimize|e-?bültene) (abone ol(un)?|kaydol(un)?|üye ol(un)?).*|(hemen )?abone ol(un)?",
        r"bu (içerik|haber|makale) (sadece|yalnızca) abonelere (özeldir|açiktir).*",
        r"paylaş|haberi paylaş|(facebook|twitter|x|whatsapp)['’]?(ta|da|te|de) paylaş|baglantiyi kopyala|yazdir",
        r"ilgili haberler|benzer haberler|bunlar da ilginizi çekebilir|(daha fazla|diğer) haberler|"
        r"(en çok|çok) okunanlar",
        r"yorum (yap|yaz)|yorumlar( \(\d+\))?|\d+ yorum|ilk yorumu (sen yap|siz yapin)|reklam",
        r"çok fazla istek|erişim engellendi|erişim reddedildi|lütfen daha sonra tekrar deneyin",
    ],
    "ru": [
        r"принять( все| всё)?( cookies?| файлы cookie)?|принимаю|согласен|согласна|отклонить( все)?|"
        r"настройки (cookie|cookies|файлов cookie)",
        r"(этот сайт|сайт|мы) (использует|используем) (файлы )?cookies?.*|"
        r"продолжая (использовать|пользоваться) (сайтом|сайт).{0,100}cookies?.*",
        r"подписаться( на (рассылку|новости|канал|наш канал|telegram|телеграм))?|"
        r"подпишитесь на .{0,80}(рассылку|канал|новости|telegram|телеграм).*",
        r"оформить подписку|оформите подписку.*|"
        r"(эта статья|этот материал) доступ(на|ен) (только )?(для )?подписчик(ам|ов).*",
        r"поделиться( в (vk|вконтакте|telegram|телеграм|facebook|twitter|whatsapp|одноклассниках))?|"
        r"поделиться (статьей|статьёй|новостью)|скопировать ссылку|распечатать",
        r"(читайте|читать|смотрите) также\b.*|(похожие|связанные) (статьи|новости|материалы)|новости по теме|"
        r"(самое )?(популярное|читаемое)",
        r"(оставить|добавить|оставьте|напишите) комментарий|комментарии( \(\d+\))?|\d+ комментари(й|я|ев)|реклама",
        r"слишком много запросов|доступ (запрещ[её]н|ограничен)|попробуйте (ещё|еще) раз позже|"
        r"пожалуйста, включите javascript.*",
    ],
}
# "Prev Article" / "Next Article" links, which the page follows with the linked
# article's headline, either on the next line or on the same one.
_LINK_WITH_NOUN = (
    r"(prev|previous|next) (article|post|story)"
    r"|(vorheriger|nächster) (artikel|beitrag)"
    r"|(artículo|noticia) (anterior|siguiente)"
    r"|(article|billet) (précédent|suivant)"
    r"|(poprzedni|następny) (artykuł|wpis)"
    r"|(önceki|sonraki) (haber|makale|yazi)"
    r"|(предыдущая|следующая) (статья|новость|запись)"
)
_LINK_ARROW = r"[«‹<←]?\s*"


def _non_capturing(pattern: str) -> str:
    """The pattern with its plain groups made non-capturing (escaped parentheses stay literal)."""
    return re.sub(r"(?<!\\)\((?!\?)", "(?:", pattern)


# Groups are written plain for readability and compiled non-capturing, and
# lines are folded instead of matched with IGNORECASE: with both, the engine
# skips an alternative on its first character, which makes the few hundred
# alternatives about six times faster (2.5 µs a line instead of 15).
_CHROME_PHRASE = _non_capturing(
    "(" + "|".join(pattern for patterns in _CHROME_LINE_PATTERNS.values() for pattern in patterns) + r")[.!:…]?"
)
# One regex for a whole folded line, tried in this order:
# - `link`: a bare Prev/Next link ("Prev Article", "Next »"), whose headline is on the next line;
# - one chrome phrase, or several run together ("Accept all | Reject all",
#   "Too Many Requests / Please try again later", "The server is unavailable.
#   We'll be back soon."); a separator needs spaces around it, so "and/or"
#   or a hyphenated word is never split;
# - a link and its `headline` on one line ("Next Article: ..."), only with the
#   noun: "Next, the committee will vote" is a sentence.
_CHROME_LINE = re.compile(
    rf"(?P<link>{_LINK_ARROW}(prev|previous|next|{_non_capturing(_LINK_WITH_NOUN)})\s*[:»›>→]?)"
    rf"|{_CHROME_PHRASE}((\s+[|/·•–—-]|(?<=[.!?]))\s+{_CHROME_PHRASE})*"
    rf"|{_LINK_ARROW}({_non_capturing(_LINK_WITH_NOUN)})(\s*[:»›>→|–—-]\s*|\s+)(?P<headline>\S.*)"
)
# What may close a headline after its last word; a sentence ends in a full stop before these.
_CLOSING_QUOTES = "'\"’”»)"


def _fold(line: str) -> str:
    """The line as the chrome patterns expect it: trimmed and case-folded as `text.fold` does (ı is i).

    Case folding also leaves a combining dot after the i of a Turkish İ, which goes too.
    """
    return text.fold(line.strip()).replace("\u0307", "")


def _looks_like_headline(line: str) -> bool:
    """A short line that does not end like a sentence: what a Prev/Next link points at.

    Headlines almost never end in a full stop; paragraphs almost always do. A
    headline kept by mistake costs a few shingles, a sentence dropped by
    mistake costs content, so anything that ends like a sentence is kept.
    """
    stripped = line.strip()
    return len(stripped) <= MAX_LINKED_HEADLINE and not stripped.rstrip(_CLOSING_QUOTES).endswith((".", "…"))


def _match_chrome(line: str) -> re.Match[str] | None:
    """The known-pattern match of a short line, or None (long lines never match)."""
    return _CHROME_LINE.fullmatch(_fold(line)) if len(line) <= MAX_CHROME_LINE else None


def _is_chrome_match(match: re.Match[str] | None) -> bool:
    """Whether a `_match_chrome` result is chrome: any match, except a link whose "headline" is a sentence."""
    return match is not None and (match["headline"] is None or _looks_like_headline(match["headline"]))


def is_chrome(line: str) -> bool:
    """True for a short line that is site chrome rather than article text (known patterns only)."""
    return _is_chrome_match(_match_chrome(line))


def _strip_lines(body: str, is_learned: Callable[[str], bool] | None = None) -> str:
    """The body without blank lines, chrome lines (known, or learned: `is_learned`) and the
    headline line after a bare Prev/Next link."""
    kept: list[str] = []
    after_link = False
    for line in body.splitlines():
        if not line.strip():
            continue
        match = _match_chrome(line)
        if match is not None and match["link"] is not None:
            after_link = True
            continue
        if after_link:
            after_link = False
            if _looks_like_headline(line):
                continue
        if not _is_chrome_match(match) and not (is_learned and is_learned(line)):
            kept.append(line)
    return "\n".join(kept)


def strip_chrome(body: str, learned: frozenset[int] = frozenset()) -> str:
    """The body without its known chrome lines (and the headline line after a Prev/Next link),
    and without the lines whose keys are in `learned` (`RecurringLines.learned` of its source)."""
    if not learned:
        return _strip_lines(body)
    return _strip_lines(body, lambda line: len(line) <= MAX_CHROME_LINE and _line_key(line) in learned)


def _line_key(line: str) -> int:
    """A stable 64-bit key of a line, equal for lines that differ only in case or spacing.

    A source's template repeats its lines character for character, so case
    folding and spacing are all the normalisation recurring lines need. xxh3
    rather than `hash()`, which is salted per process: the same stream must
    learn the same lines in every run.
    """
    return xxhash.xxh3_64_intdigest(" ".join(_fold(line).split()).encode("utf-8", "surrogatepass"))


def _learnable_keys(body: str) -> list[int]:
    """The distinct keys of the body's short non-blank lines, in order of first appearance.

    Each line counts once per article, so a line repeated within one article
    never looks like a recurring one.
    """
    short_lines = (line for line in body.splitlines() if line.strip() and len(line) <= MAX_CHROME_LINE)
    return list(dict.fromkeys(_line_key(line) for line in short_lines))


class Forgotten(NamedTuple):
    """A source `RecurringLines.observe` forgot to make room for another: what a failed write puts back."""

    source: str
    counts: dict[int, int]


class RecurringLines:
    """Learns, per source, the short lines that recur across many of its articles: that source's chrome.

    A line is chrome of a source once it has appeared in at least
    `min_articles` distinct articles of that source and is at most
    MAX_CHROME_LINE characters long. Sources are independent: what one outlet
    repeats says nothing about another. Lines are compared ignoring case and
    spacing, and kept only as 64-bit hashes.

    Memory is bounded, at most `max_sources * max_lines_per_source` tracked
    lines, under 100 bytes each in CPython: at most about 50 MB at the
    defaults, if every one of 1,024 sources fills its 512 lines:

    * Per source, counts follow Misra and Gries ("Finding repeated elements",
      1982): when the table is full, a new line is not added and every count
      drops by one instead, and lines at zero are forgotten. The lines
      evicted are those seen least, which are the least useful, and a count
      never exceeds the true number of articles, so a line is never learned
      before it really recurred in `min_articles` articles. Each count is
      short of the truth by at most (lines observed) / (max_lines_per_source + 1),
      so a template line stays learned if it is in a larger fraction of the
      source's articles than (short lines per article) / max_lines_per_source:
      4% for articles of 20 short lines at the default, where a template line
      is in nearly all of them.
    * Across sources, the source observed least recently is forgotten when a
      new one would exceed `max_sources`: an outlet that stopped publishing.

    Deterministic: the same sequence of `observe` calls learns the same lines
    in every run. Not thread-safe: call it under the caller's lock.
    """

    def __init__(
        self,
        min_articles: int = DEFAULT_MIN_ARTICLES,
        max_lines_per_source: int = DEFAULT_MAX_LINES_PER_SOURCE,
        max_sources: int = DEFAULT_MAX_SOURCES,
    ) -> None:
        if min_articles < 2:
            raise ValueError(
                f"min_articles must be at least 2 (a line in one article is not recurring), got {min_articles}"
            )
        if max_lines_per_source < 1 or max_sources < 1:
            raise ValueError(
                f"max_lines_per_source and max_sources must be at least 1, got {max_lines_per_source} and {max_sources}"
            )
        self.min_articles = min_articles
        self.max_lines_per_source = max_lines_per_source
        self.max_sources = max_sources
        # source -> {line key: articles that had the line}, least recently observed source first.
        self._sources: OrderedDict[str, dict[int, int]] = OrderedDict()

    def __len__(self) -> int:
        """The number of sources tracked."""
        return len(self._sources)

    def __contains__(self, source: object) -> bool:
        """Whether `source` is tracked (observed, and not forgotten since)."""
        return source in self._sources

    def tracked_lines(self, source: str) -> int:
        """How many distinct lines are counted for `source` (at most `max_lines_per_source`)."""
        return len(self._sources.get(source, ()))

    def observe(self, source: str, body: str) -> Forgotten | None:
        """Count one article of `source`: each of its short lines once. Observe each article once.

        Returns the source forgotten to make room for this one, if any, so
        that the store forgets it too, or `readmit` puts it back.
        """
        counts = self._sources.pop(source, {})
        self._sources[source] = counts  # now the most recently observed
        forgotten = None
        if len(self._sources) > self.max_sources:
            forgotten = Forgotten(*self._sources.popitem(last=False))
        for key in _learnable_keys(body):
            if key in counts:
                counts[key] += 1
            elif len(counts) < self.max_lines_per_source:
                counts[key] = 1
            else:
                # Misra-Gries: the new line and one count of every tracked line cancel out.
                counts = {tracked: count - 1 for tracked, count in counts.items() if count > 1}
                self._sources[source] = counts
        return forgotten

    def readmit(self, forgotten: Forgotten) -> None:
        """Put back a source `observe` forgot, as the least recently observed (undo for a write that fails).

        With the `snapshot` of the source observed undone too, the sources are
        those before the observation.
        """
        self._sources[forgotten.source] = forgotten.counts
        self._sources.move_to_end(forgotten.source, last=False)

    def forget(self, source: str, body: str) -> None:
        """Take back what `observe` counted for an article that is no longer stored (deleted, evicted).

        So a line counts the stored articles that hold it: an article deleted
        and ingested again five times does not teach its own lines as chrome.
        A count the table already dropped stays dropped.
        """
        counts = self._sources.get(source)
        if counts is None:
            return
        for key in _learnable_keys(body):
            if counts.get(key, 0) > 1:
                counts[key] -= 1
            else:
                counts.pop(key, None)

    def learned(self, source: str) -> frozenset[int]:
        """The keys of the lines learned as chrome of `source`, for `strip_chrome`.

        A snapshot: taken under the caller's lock, it can be used outside it
        while other articles are observed.
        """
        counts = self._sources.get(source, {})
        return frozenset(key for key, count in counts.items() if count >= self.min_articles)

    def is_learned(self, source: str, line: str) -> bool:
        """Whether `line` is chrome learned for `source` (known patterns not included)."""
        counts = self._sources.get(source, {})
        return len(line) <= MAX_CHROME_LINE and counts.get(_line_key(line), 0) >= self.min_articles

    def strip(self, source: str, body: str) -> str:
        """The body without its known chrome and without the lines learned for `source`."""
        return strip_chrome(body, self.learned(source))

    def snapshot(self, source: str) -> Callable[[], None]:
        """A function that puts back the counts of `source` as they are now (for a write that fails)."""
        before = dict(self._sources[source]) if source in self._sources else None

        def restore() -> None:
            if before is None:
                self._sources.pop(source, None)
            else:
                self._sources[source] = before

        return restore

    def export(self, source: str) -> bytes:
        """The counts of `source` as bytes (pairs of little-endian uint64 key and count), for the store."""
        counts = self._sources.get(source, {})
        pairs = np.array(sorted(counts.items()), dtype=np.uint64).reshape(-1, 2)
        return pairs.astype("<u8").tobytes()

    def drop(self, source: str) -> None:
        """Forget everything counted for `source` (another replica forgot it to make room)."""
        self._sources.pop(source, None)

    def load(self, source: str, exported: bytes) -> None:
        """Restore the counts of `source` from `export`, as the most recently observed source.

        Never forgets another source to make room: which one goes is the
        writer's decision (`observe`), and the store holds at most
        `max_sources`. Replicas that chose for themselves would each drop
        their own least recent source, and learn different chrome; they get
        the writer's choice as a deletion (`drop`) instead.
        """
        pairs = np.frombuffer(exported, dtype="<u8").reshape(-1, 2)
        self._sources.pop(source, None)
        self._sources[source] = {int(key): int(count) for key, count in pairs.tolist()}
