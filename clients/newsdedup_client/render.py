"""What the `newsdedup` command prints: aligned tables for people, JSON for programs.

JSON output is the proto3 JSON mapping of the response message (field names
as in the .proto, enums by name, timestamps as RFC 3339 strings, int64
numbers as strings), with every field present even when it holds its
default, so a script can rely on the keys. Human output leaves out the
`VERDICT_`/`RELATION_` prefixes and shows an empty value as "-".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message
from newsdedup.v1 import dedup_service_pb2 as pb

EMPTY = "-"


def json_line(data: dict[str, Any]) -> str:
    """A JSON object on one line; text is kept as UTF-8 rather than escaped."""
    return json.dumps(data, ensure_ascii=False)


def to_json(message: Message) -> str:
    """One message as one line of JSON."""
    return json_line(
        json_format.MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, without trailing spaces."""
    lines = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def fields(pairs: Iterable[tuple[str, str]]) -> str:
    """A "name: value" block with the values aligned."""
    pairs = list(pairs)
    width = max(len(name) for name, _ in pairs) + 1
    return "\n".join(f"{name + ':':<{width}} {value}".rstrip() for name, value in pairs)


def _or_empty(value: str) -> str:
    return value or EMPTY


def _enum(name: str, prefix: str) -> str:
    return name.removeprefix(prefix).replace("_", " ").lower()


def verdict(value: pb.Verdict) -> str:
    """ "unique", "near duplicate" or "exact duplicate"."""
    return _enum(pb.Verdict.Name(value), "VERDICT_")


def relation(value: pb.Relation) -> str:
    """ "exact duplicate", "near duplicate", "same story", or "unrelated" when unset."""
    if value == pb.RELATION_UNSPECIFIED:
        return "unrelated"
    return _enum(pb.Relation.Name(value), "RELATION_")


def timestamp(value: timestamp_pb2.Timestamp, present: bool = True) -> str:
    return value.ToJsonString() if present else EMPTY


def similarity(value: float) -> str:
    return f"{value:.3f}"


def results_table(results: Iterable[pb.ArticleResult]) -> str:
    """Ingest or check results, one line per article.

    A check that would start a new cluster has no cluster id yet ("-").
    """
    rows = [
        (
            _or_empty(result.article_id),
            verdict(result.verdict) + (" (already stored)" if result.already_ingested else ""),
            _or_empty(result.duplicate_of),
            _or_empty(result.cluster_id),
            str(result.cluster_size),
        )
        for result in results
    ]
    return table(("ID", "VERDICT", "DUPLICATE OF", "CLUSTER", "CLUSTER SIZE"), rows)


def matches_table(matches: Iterable[pb.Match]) -> str:
    rows = [(m.article_id, relation(m.relation), similarity(m.similarity), m.cluster_id) for m in matches]
    if not rows:
        return "no similar articles"
    return table(("ARTICLE", "RELATION", "SIMILARITY", "CLUSTER"), rows)


def cluster_text(cluster: pb.Cluster) -> str:
    block = fields(
        [
            ("cluster", cluster.cluster_id),
            ("size", str(cluster.size)),
            ("title", _or_empty(cluster.title)),
            ("representative", cluster.representative_article_id),
            ("first published", timestamp(cluster.first_published_at)),
            ("last published", timestamp(cluster.last_published_at)),
            ("updated", timestamp(cluster.updated_at)),
            ("merged clusters", ", ".join(cluster.merged_cluster_ids) or EMPTY),
        ]
    )
    articles = "\n".join(f"  {article_id}" for article_id in cluster.article_ids)
    return f"{block}\narticles:\n{articles}"


def clusters_table(clusters: Iterable[pb.Cluster]) -> str:
    rows = [
        (c.cluster_id, str(c.size), timestamp(c.updated_at), c.representative_article_id, _or_empty(c.title))
        for c in clusters
    ]
    if not rows:
        return "no clusters"
    return table(("CLUSTER", "SIZE", "UPDATED", "REPRESENTATIVE", "TITLE"), rows)


def comparison_text(comparison: pb.CompareArticlesResponse) -> str:
    return fields(
        [
            ("relation", relation(comparison.relation)),
            ("similarity", f"{similarity(comparison.similarity)} (MinHash estimate of shingle Jaccard)"),
            ("exact similarity", f"{similarity(comparison.exact_similarity)} (exact shingle Jaccard)"),
            ("story similarity", f"{similarity(comparison.story_similarity)} (cosine of salient terms)"),
            ("shingles", f"{comparison.first_shingle_count} and {comparison.second_shingle_count}"),
            ("shared terms", ", ".join(comparison.shared_terms) or EMPTY),
            ("shared shingles", " | ".join(comparison.shared_shingles) or EMPTY),
        ]
    )


def stored_article_text(article: pb.StoredArticle) -> str:
    return fields(
        [
            ("id", article.id),
            ("title", _or_empty(article.title)),
            ("url", _or_empty(article.url)),
            ("source", _or_empty(article.source)),
            ("language", _or_empty(article.language)),
            ("published", timestamp(article.published_at, article.HasField("published_at"))),
            ("ingested", timestamp(article.ingested_at, article.HasField("ingested_at"))),
            ("verdict", verdict(article.verdict)),
            ("duplicate of", _or_empty(article.duplicate_of)),
            ("cluster", article.cluster_id),
            ("content hash", article.content_hash),
        ]
    )


def stats_text(stats: pb.GetStatsResponse) -> str:
    p = stats.parameters
    return fields(
        [
            ("articles", str(stats.article_count)),
            (
                "duplicates",
                f"{stats.duplicate_count} ({stats.exact_duplicate_count} exact, {stats.near_duplicate_count} near)",
            ),
            ("clusters", f"{stats.cluster_count} ({stats.multi_article_cluster_count} with more than one article)"),
            (
                "near-duplicate tier",
                f"threshold {p.near_duplicate.threshold:g}, {p.near_duplicate.bands} bands "
                f"x {p.near_duplicate.rows} rows, {p.shingle_size}-word shingles",
            ),
            (
                "story tier",
                f"threshold {p.story.threshold:g}, {p.story.bands} bands x {p.story.rows} rows, "
                f"{p.salient_terms} salient terms",
            ),
            ("minhash", f"{p.num_perm} permutations, scheme {p.scheme}, seed {p.seed}"),
        ]
    )
