"""Person linkage on keyed tokens: blocking, Fellegi-Sunter scoring, clustering, evaluation.

Pure code (no Kafka, Faust or database): the same functions run in batch (:func:`link`) and, record by
record, inside a stream agent (:class:`IncrementalLinker`: :class:`BlockIndex`, :func:`score_pair`,
:class:`UnionFind`). It only ever sees the tokens of shared events, never a name or a date of birth.
"""

from hub.linkage.blocking import (
    DEFAULT_RULES,
    BlockIndex,
    BlockingRule,
    Candidates,
    candidate_pairs,
)
from hub.linkage.clustering import UnionFind, cluster, connected_components, person_id
from hub.linkage.evaluate import Blocking, Quality, cluster_quality, link_quality, pairs_completeness
from hub.linkage.incremental import IncrementalLinker, Linked
from hub.linkage.link import Linkage, link, train
from hub.linkage.records import PersonRecord, record_key, records_from_event, records_from_events
from hub.linkage.scoring import (
    DEFAULT_MODEL,
    DEFAULT_THRESHOLD,
    LEVELS,
    Comparison,
    MatchModel,
    ScoredPair,
    TermFrequencies,
    Training,
    compare,
    estimate_m,
    estimate_u,
    score_pair,
    score_pairs,
    train_m,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_RULES",
    "DEFAULT_THRESHOLD",
    "LEVELS",
    "BlockIndex",
    "Blocking",
    "BlockingRule",
    "Candidates",
    "Comparison",
    "IncrementalLinker",
    "Linkage",
    "Linked",
    "MatchModel",
    "PersonRecord",
    "Quality",
    "ScoredPair",
    "TermFrequencies",
    "Training",
    "UnionFind",
    "candidate_pairs",
    "cluster",
    "cluster_quality",
    "compare",
    "connected_components",
    "estimate_m",
    "estimate_u",
    "link",
    "link_quality",
    "pairs_completeness",
    "person_id",
    "record_key",
    "records_from_event",
    "records_from_events",
    "score_pair",
    "score_pairs",
    "train",
    "train_m",
]
