"""The Milvus backend: both legs of the search (BM25 and dense ANN) answered by Milvus.

``[index] backend = "milvus"`` with ``milvus_uri``: a path ending in ``.db`` runs Milvus Lite inside
the process (the ``milvus-lite`` package); ``http://host:19530`` is a Milvus standalone or cluster.

What Milvus holds, one entity per passage of the current version (collection ``milvus_collection``):

- ``key``: a content key (blake2b of article id, position, kind, text hash, published time, title,
  source). A passage that changes gets a new key, so a version maps onto Milvus by keys alone: the
  rows of a version (renumbered by a rebuild) never have to be rewritten in Milvus.
- ``text``: the passage's search text *after* our normalization (pinyin stripped, OpenCC t2s, NFKC,
  lower case: ``clean.normalize_for_search``), analyzed by Milvus's jieba tokenizer (exact mode,
  punctuation as stop words: the same cut as ``lexical.tokenize``), feeding a BM25 function into
  the sparse field ``sparse`` (k1 = 1.5, b = 0.75 as ours).
- ``dense``: the same e5 vector as the local FAISS index (HNSW, inner product); ``has_vector`` is
  False (and the vector zero) for a passage not embedded yet.
- metadata: ``article_id``, ``kind``, ``published`` (epoch seconds, -1 undated), ``day`` (China
  date ordinal, for date filters), ``source``, ``title``.

The version folder stays the source of truth and the passage store for display (SQLite: text,
url, tokens for coverage and the best sentence, articles), and its BM25 statistics give the IDF
that coverage, the best sentence and the answerability self-score use. Milvus answers the legs; the
fusion, answerability, dates, best sentence and near-duplicates are the Retriever's, unchanged.

Every build, add, remove and embed ends with `sync`: keys no longer in the version are deleted,
new keys inserted, and passages that got a vector since are upserted. The collection records the
model and dimension; a sync or a search with another model is refused (ModelMismatchError).

BM25 scale: Milvus scores idf·tf·(k1+1)/(tf + k1·(…)); ours (bm25s "lucene") has no (k1+1). The
Milvus score divided by (k1+1) is therefore on our scale (exactly, when both cut the text alike and
see the same corpus statistics), and the answerability feature ``bm25_ratio`` divides it by the
question's self-score computed from our IDF as in the local backend.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import unicodedata
from pathlib import Path

import numpy as np

from index import store
from index.chinatime import NO_DAY, china_day, epoch
from index.ingest.clean import normalize_for_search
from index.errors import ModelMismatchError, NewsIndexError

logger = logging.getLogger(__name__)

K1, B = 1.5, 0.75  # as index.store.lexical
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF = 32, 80, 256  # as index.store
MAX_TEXT_BYTES = 65_535
MAX_META_BYTES = 1_024
BATCH = 1_000
SYNC_FILE = "milvus-sync.json"  # in the index folder: which version Milvus mirrors


def _punctuation() -> list[str]:
    """Single characters that are not words (what lexical.tokenize drops), as jieba yields them one by one."""
    ranges = [(0x21, 0xBF), (0x2000, 0x2BFF), (0x3000, 0x303F), (0xFE30, 0xFE4F), (0xFF00, 0xFF65)]
    out = []
    for a, b in ranges:
        for cp in range(a, b + 1):
            ch = chr(cp)
            if re.match(r"[\W_]", ch) and unicodedata.category(ch)[0] in "PS":
                out.append(ch)
    return out + ["...", "…", "……", "--", "——", "·"]


def analyzer_params() -> dict:
    """jieba, exact mode (jieba.lcut, as ours), punctuation dropped; Milvus Lite and Milvus both read it."""
    return {"tokenizer": {"type": "jieba", "mode": "exact", "hmm": True},
            "filter": [{"type": "stop", "stop_words": _punctuation()}]}


def search_text(index_text: str) -> str:
    """The text Milvus analyzes: our normalization first (as lexical.tokenize does before jieba)."""
    from index.store.lexical import MAX_TOKENIZE_CHARS

    return _cut_bytes(normalize_for_search(index_text[:MAX_TOKENIZE_CHARS]), MAX_TEXT_BYTES)


def passage_key(article_id, position, kind, text_hash, published_at, title, source) -> str:
    """A passage's key in Milvus: changes whenever anything Milvus stores about it changes."""
    parts = [article_id or "", str(position), kind, text_hash, published_at or "", title or "", source or ""]
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _cut_bytes(text: str, limit: int) -> str:
    data = (text or "").encode()
    return text or "" if len(data) <= limit else data[:limit].decode(errors="ignore")


def _published(iso: str | None) -> int:
    """Milvus's "published": epoch seconds, -1 undated."""
    return int(epoch(iso)) if iso else -1


def _day(iso: str | None) -> int:
    try:
        return china_day(iso) if iso else NO_DAY
    except ValueError:
        return NO_DAY


def connect(uri: str, token: str | None = None):
    """A MilvusClient: `uri` a path ending in .db (Milvus Lite, in this process) or http(s)://host:port."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise NewsIndexError("[index] backend = \"milvus\" needs the optional packages: pip install '.[milvus]'") from None
    uri = str(uri)
    if not uri.startswith(("http://", "https://", "tcp://", "unix:")):
        if not uri.endswith(".db"):
            raise NewsIndexError(f"milvus_uri {uri!r}: a Milvus Lite file must end in .db (or give http://host:19530)")
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=uri, token=token or "")
    except Exception as e:  # pymilvus wraps everything (a Lite file locked by another process, say)
        hint = (" (Milvus Lite is one process at a time: with the bot running, add through the bot, or use "
                "a Milvus server)") if uri.endswith(".db") else ""
        raise NewsIndexError(f"cannot open Milvus at {uri}: {str(e)[:200]}{hint}") from None


class MilvusIndex:
    """One collection: the passages of an index's current version, both legs searchable."""

    def __init__(self, client, collection: str, lite: bool = False):
        self.client, self.collection, self.lite = client, collection, lite

    @classmethod
    def open(cls, uri: str, collection: str) -> "MilvusIndex":
        return cls(connect(uri), collection, lite=str(uri).endswith(".db"))

    # --- schema ----------------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.client.has_collection(self.collection)

    def info(self) -> dict:
        """The model and dimension the collection was created for."""
        props = self.client.describe_collection(self.collection).get("properties") or {}
        dim = props.get("newsbot.dim")
        return {"model": props.get("newsbot.model"), "dim": int(dim) if dim else None}

    def check_model(self, model: str | None, dim: int | None) -> None:
        """Refuse a collection whose vectors come from another model or dimension (as store.check_model)."""
        if model is None or not self.exists():
            return
        info = self.info()
        if info.get("model") != model or (dim is not None and info.get("dim") != dim):
            raise ModelMismatchError(
                f"the Milvus collection {self.collection!r} holds vectors of model {info.get('model')!r} "
                f"(dim {info.get('dim')}), but the configured model is {model!r} (dim {dim}). Rebuild it with "
                "`python -m index build --rebuild` (drops and refills the collection), or set [index] model back."
            )

    def create(self, model: str, dim: int) -> None:
        """Create the collection (and its indexes) for vectors of `model`."""
        from pymilvus import DataType, Function, FunctionType

        c = self.client
        schema = c.create_schema(auto_id=False, description="newsbot passages")
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES, enable_analyzer=True,
                         analyzer_params=analyzer_params())
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("has_vector", DataType.BOOL)
        schema.add_field("article_id", DataType.VARCHAR, max_length=MAX_META_BYTES)
        schema.add_field("kind", DataType.VARCHAR, max_length=32)
        schema.add_field("published", DataType.INT64)
        schema.add_field("day", DataType.INT32)
        schema.add_field("source", DataType.VARCHAR, max_length=MAX_META_BYTES)
        schema.add_field("title", DataType.VARCHAR, max_length=4 * MAX_META_BYTES)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
        params = c.prepare_index_params()
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": K1, "bm25_b": B})
        params.add_index("dense", index_type="HNSW", metric_type="IP",
                         params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
        c.create_collection(self.collection, schema=schema, index_params=params,
                            properties={"newsbot.model": model, "newsbot.dim": str(dim)})

    def drop(self) -> None:
        if self.exists():
            self.client.drop_collection(self.collection)

    # --- writing ---------------------------------------------------------------------------------

    def existing(self) -> dict[str, bool]:
        """Every key in the collection, with whether it has a vector."""
        out: dict[str, bool] = {}
        it = self.client.query_iterator(self.collection, batch_size=10_000, filter="",
                                        output_fields=["key", "has_vector"])
        try:
            while batch := it.next():
                out.update((r["key"], bool(r["has_vector"])) for r in batch)
        finally:
            it.close()
        return out

    def sync(self, version: Path, model: str, dim: int | None) -> dict:
        """Make the collection hold exactly the passages (and vectors) of a published version.

        Returns counts: inserted, upserted (a vector since), deleted, kept, seconds.
        """
        t = time.perf_counter()
        version = Path(version)
        if dim is None:
            raise NewsIndexError("the Milvus backend needs the model's vector size: embed the index first")
        if self.exists():
            self.check_model(model, dim)
            # A collection another process made is "released" here: load it before existing() queries it.
            self.client.load_collection(self.collection)
        else:
            self.create(model, dim)
        db = store.open_db(version / store.DB)
        try:
            rows = db.execute("SELECT row, article_id, position, kind, index_text, title, published_at, source, hash "
                              "FROM passages ORDER BY row").fetchall()
        finally:
            db.close()
        keys = [passage_key(r["article_id"], r["position"], r["kind"], r["hash"], r["published_at"], r["title"],
                            r["source"]) for r in rows]
        if len(set(keys)) != len(keys):
            raise NewsIndexError(f"{version}: two passages share a Milvus key")
        vectors, has = _version_vectors(version, len(rows), dim)
        before = self.existing()
        gone = [k for k in before if k not in set(keys)]
        for i in range(0, len(gone), BATCH):
            self.client.delete(self.collection, ids=gone[i : i + BATCH])
        todo = [i for i, k in enumerate(keys) if k not in before or (has[i] and not before[k])]
        inserted = sum(keys[i] not in before for i in todo)
        rewritten = False
        if self.lite and (todo or gone) and len(todo) < len(keys):
            # Milvus Lite 3.2.2 keeps BM25 statistics per segment (its own TODO; a Milvus server sums
            # them over the collection): a few added passages in a segment of their own would get the
            # IDF of a tiny corpus. Rewriting every entity makes one segment with the whole corpus's.
            todo, rewritten = list(range(len(keys))), True
        for start in range(0, len(todo), BATCH):
            part = todo[start : start + BATCH]
            data = [{
                "key": keys[i], "text": search_text(rows[i]["index_text"]),
                "dense": vectors[i].tolist(), "has_vector": bool(has[i]),
                "article_id": _cut_bytes(rows[i]["article_id"] or "", MAX_META_BYTES), "kind": rows[i]["kind"],
                "published": _published(rows[i]["published_at"]), "day": _day(rows[i]["published_at"]),
                "source": _cut_bytes(rows[i]["source"] or "", MAX_META_BYTES),
                "title": _cut_bytes(rows[i]["title"] or "", 4 * MAX_META_BYTES),
            } for i in part]
            self.client.upsert(self.collection, data)
        self.client.flush(self.collection)
        self.client.load_collection(self.collection)
        return {"inserted": inserted, "upserted": len(todo) - inserted, "deleted": len(gone),
                "kept": len(keys) - len(todo), "rewritten": rewritten, "seconds": round(time.perf_counter() - t, 2)}

    # --- searching -------------------------------------------------------------------------------

    def _search(self, data, field: str, limit: int, expr: str | None) -> list[tuple[str, float]]:
        if limit <= 0:
            return []
        if field == "sparse":
            params = {"metric_type": "BM25"}
        else:
            params = {"metric_type": "IP", "params": {"ef": max(HNSW_EF, limit)}}
        res = self.client.search(self.collection, data=[data], anns_field=field, limit=limit,
                                 filter=expr or "", search_params=params, output_fields=["key"])
        hits = res[0] if res else []
        # BM25 scores are never negative; Milvus Lite 3.2.2 reports them negated (as distances), Milvus as is.
        conv = abs if field == "sparse" else float
        return [(h["id"] if "id" in h else h["key"], float(conv(h["distance"]))) for h in hits]

    def bm25(self, text: str, limit: int, expr: str | None = None) -> list[tuple[str, float]]:
        """The best passages by Milvus's BM25 over its jieba analyzer, on our scale (/(k1+1))."""
        return [(k, s / (K1 + 1)) for k, s in self._search(text, "sparse", limit, expr)]

    def dense(self, qvec: np.ndarray, limit: int, expr: str | None = None) -> list[tuple[str, float]]:
        """The nearest embedded passages by inner product (the cosine: e5 vectors are normalized)."""
        return self._search(np.asarray(qvec, dtype=np.float32).tolist(), "dense", limit,
                            _and(expr, "has_vector == true"))

    def vectors(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these keys (those that have one)."""
        out = {}
        for i in range(0, len(keys), BATCH):
            for r in self.client.get(self.collection, ids=keys[i : i + BATCH], output_fields=["dense", "has_vector"]):
                if r["has_vector"]:
                    out[r["key"]] = np.asarray(r["dense"], dtype=np.float32)
        return out


def _and(a: str | None, b: str | None) -> str | None:
    if a and b:
        return f"({a}) and ({b})"
    return a or b


def _keys_expr(keys) -> str:
    return "key in [" + ",".join(json.dumps(k) for k in keys) + "]"


def _version_vectors(version: Path, n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The version's vectors by row (zeros where none) and which rows have one (from its FAISS files)."""
    import faiss

    vectors = np.zeros((n, dim), dtype=np.float32)
    has = np.zeros(n, dtype=bool)
    for name in (store.VECTORS, store.VECTORS_DELTA):
        if (version / name).is_file():
            index = store.read_vectors(version / name, mmap=True)
            ids = faiss.vector_to_array(index.id_map)
            vectors[ids] = store.stored_vectors(index)
            has[ids] = True
    return vectors, has


class MilvusLegs:
    """The legs (index.search.legs.Legs) answered by Milvus: rows, BM25 scores, cosines, has-vector."""

    vector_index = "milvus"

    def __init__(self, index: MilvusIndex, version: Path, days: np.ndarray, vectors: int):
        """`days`: each row's China date ordinal (NO_DAY undated), to send a date mask as a day range."""
        self.index, self.days, self.vectors = index, days, vectors
        db = store.open_db(Path(version) / store.DB)
        try:
            self.keys = [passage_key(r["article_id"], r["position"], r["kind"], r["hash"], r["published_at"],
                                     r["title"], r["source"])
                         for r in db.execute("SELECT row, article_id, position, kind, hash, published_at, title, "
                                             "source FROM passages ORDER BY row")]
        finally:
            db.close()
        self.row_of = {k: i for i, k in enumerate(self.keys)}

    def restriction(self, mask: np.ndarray, days: np.ndarray) -> str | None:
        """A filter expression selecting exactly the rows of a mask: a day range when it is one, else keys."""
        if not mask.any():
            return "key in []"
        inside = days[mask]
        lo, hi = int(inside.min()), int(inside.max())
        if lo != NO_DAY and np.array_equal(mask, (days >= lo) & (days <= hi)):
            return f"day >= {lo} and day <= {hi}"
        return _keys_expr(self.keys[i] for i in np.flatnonzero(mask))

    def candidates(self, pq, n: int, qvec: np.ndarray | None, within: np.ndarray | None = None,
                   prefer: np.ndarray | None = None, lexical: bool = True):
        """Candidates from Milvus's two legs, each candidate scored on both (as index.search.legs.LocalLegs)."""
        tokens = pq.tokens if lexical else []
        base = None if within is None else self.restriction(within, self.days)
        exprs = [base]
        if prefer is not None and prefer.any():
            exprs.append(_and(base, self.restriction(prefer, self.days)))
        cand: dict[str, None] = {}
        lex: dict[str, float] = {}
        cos: dict[str, float] = {}
        if tokens:
            for expr in exprs:
                for k, s in self.index.bm25(pq.text, n, expr):
                    lex[k] = s
                    cand.setdefault(k)
        if qvec is not None:
            for expr in exprs:
                for k, s in self.index.dense(qvec, n, expr):
                    cos[k] = s
                    cand.setdefault(k)
        cand = {k: None for k in cand if k in self.row_of}  # Milvus may be ahead of or behind this version
        if tokens:
            missing = [k for k in cand if k not in lex]
            if missing:  # BM25 of the dense leg's candidates (absent: no word in common, 0)
                lex.update(self.index.bm25(pq.text, len(missing), _keys_expr(missing)))
        if qvec is not None:
            missing = [k for k in cand if k not in cos]
            if missing:  # exact cosines of the lexical leg's candidates
                for k, v in self.index.vectors(missing).items():
                    cos[k] = float(v @ qvec)
        keys = list(cand)
        rows = np.array([self.row_of[k] for k in keys], dtype=np.int64)
        lex_a = np.array([lex.get(k, 0.0) for k in keys], dtype=np.float32)
        has = np.array([k in cos for k in keys], dtype=bool)
        cos_a = np.array([cos.get(k, 0.0) for k in keys], dtype=np.float32)
        return rows, lex_a, cos_a, has

    def background(self, sample: int, seed: int = 0) -> np.ndarray | None:
        """Vectors of a fixed sample of passages (the answerability background)."""
        if not self.keys or not self.vectors:
            return None
        rows = np.sort(np.random.default_rng(seed).choice(len(self.keys), min(sample, len(self.keys)), replace=False))
        got = self.index.vectors([self.keys[i] for i in rows])
        return np.stack(list(got.values())) if got else None


def open_legs(config, stored, model: str | None, dim: int | None) -> MilvusLegs:
    """The Milvus legs for an opened version (index.store.stored.StoredVersion), refusing another model's collection."""
    version = stored.path
    index = MilvusIndex.open(config.milvus_uri, config.milvus_collection)
    if not index.exists():
        raise NewsIndexError(f"no Milvus collection {config.milvus_collection!r} at {config.milvus_uri}; "
                             "fill it with `python -m index milvus-sync` (or any build)")
    index.check_model(model, dim)
    synced = read_sync(version.parent.parent)
    if synced.get("version") != version.name:
        logger.warning("Milvus mirrors version %s, the current one is %s: run `python -m index milvus-sync`",
                       synced.get("version"), version.name)
    index.client.load_collection(index.collection)
    vectors = int(stored.manifest.get("counts", {}).get("vectors", 0))
    return MilvusLegs(index, version, stored.row_days(), vectors)


def read_sync(index_dir: Path) -> dict:
    try:
        return json.loads((Path(index_dir) / SYNC_FILE).read_text())
    except (OSError, ValueError):
        return {}


def sync_index(index_dir: Path, config, rebuild: bool = False, encoder=None) -> dict:
    """Mirror the current version of an index folder into Milvus (after a build, add, remove or embed)."""
    index_dir = Path(index_dir)
    version = store.require_version(index_dir)
    manifest = store.read_manifest(version)
    model = manifest.get("model") or (encoder.name if encoder is not None else config.model)
    dim = manifest.get("dim") or (encoder.dim if encoder is not None else None)
    if dim is None:
        # A lexical-only build: the collection's vector size is not known yet; `embed` mirrors it.
        logger.warning("not mirrored into Milvus until the passages are embedded (`python -m index embed`)")
        return {}
    index = MilvusIndex.open(config.milvus_uri, config.milvus_collection)
    if rebuild:
        index.drop()
    report = index.sync(version, model, dim)
    (index_dir / SYNC_FILE).write_text(json.dumps({
        "uri": str(config.milvus_uri), "collection": config.milvus_collection, "version": version.name,
        "model": model, "dim": dim, **report}, indent=2))
    logger.info("milvus sync %s: %s", version.name, report)
    return report
