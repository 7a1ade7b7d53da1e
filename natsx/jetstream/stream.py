"""A stream: its config, its message store and its on-disk metadata ("apply" code; the decisions are
made in natsx.jetstream.config and the API handlers).

File streams live in `<store_dir>/jetstream/$G/streams/<name>/`, as nats-server lays them out:

    meta.inf   {"config": StreamConfig JSON, "created_ns": int, "created": RFC 3339}
    meta.sum   xxh3-64 of meta.inf, 16 hex digits
    msgs/      the natsx.store.FileStore directory (blocks, index checkpoint)

meta.inf and meta.sum are both written to temporary names and fsync'ed, then renamed, then the
directory is fsync'ed (see _write_durably for the crash between the renames). A meta.inf that does not match its checksum or does not decode marks the stream offline
(damaged) on recovery: it is reported, its data is left untouched, nothing is deleted.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any

import xxhash

from natsx._core.stream import StreamIngest
from natsx._core.sublist import Subscription
from natsx.gofmt import go_time
from natsx.jetstream import config as streamcfg
from natsx.jetstream.host import JetStreamHost
from natsx.store import FileStore, MemStore, StoreConfig, StoreError
from natsx.store.base import BaseStore


META_FILE = "meta.inf"
META_SUM_FILE = "meta.sum"
MSGS_DIR = "msgs"
ZERO_TIME = "0001-01-01T00:00:00Z"
MAX_SUBJECT_DETAILS = 100_000        # JSMaxSubjectDetails: subjects per stream info page


def _checksum(data: bytes) -> str:
    return xxhash.xxh3_64_hexdigest(data)


def _write_durably(directory: str, files: dict[str, bytes]) -> None:
    """Every file to <name>.tmp (fsync'ed) first, then the renames in order, then the directory
    fsync: a crash between two renames leaves the new meta.sum as meta.sum.tmp (see
    read_metadata), never a new meta.inf without a checksum that matches it."""
    for name, data in files.items():
        with open(os.path.join(directory, name + ".tmp"), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    for name in files:
        os.replace(os.path.join(directory, name + ".tmp"), os.path.join(directory, name))
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_sum(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("ascii", "replace").strip()
    except OSError:
        return None


class MetadataError(Exception):
    """meta.inf is missing, fails its checksum or does not decode."""


def read_metadata(directory: str) -> tuple[dict[str, Any], int]:
    """(config, created ns) from a stream directory, or MetadataError saying what is wrong."""
    try:
        with open(os.path.join(directory, META_FILE), "rb") as f:
            data = f.read()
    except OSError as exc:
        raise MetadataError(f"stream metadata unreadable: {exc.strerror or exc}") from None
    expected = _read_sum(os.path.join(directory, META_SUM_FILE))
    if expected is None:
        raise MetadataError("stream metadata checksum missing")
    if _checksum(data) != expected:
        # A crash between the two renames of an update: the new checksum is still meta.sum.tmp.
        pending = os.path.join(directory, META_SUM_FILE + ".tmp")
        if _read_sum(pending) != _checksum(data):
            raise MetadataError("stream metadata checksum mismatch")
        os.replace(pending, os.path.join(directory, META_SUM_FILE))
    try:
        meta = json.loads(data)
        cfg = streamcfg.decode(meta["config"])
        created = int(meta["created_ns"])
    except (ValueError, KeyError, TypeError) as exc:
        raise MetadataError(f"stream metadata invalid: {exc}") from None
    except streamcfg.ApiError as exc:
        raise MetadataError(f"stream metadata invalid: {exc.description}") from None
    return cfg, created


def store_config(cfg: dict[str, Any], sync: str, sync_interval: float) -> StoreConfig:
    """The message store's limits for a stream config. `s2` compression is stored as natsx's zstd
    blocks (sealed blocks compressed; the API keeps answering "s2")."""
    return StoreConfig(
        max_msgs=cfg["max_msgs"], max_bytes=cfg["max_bytes"], max_age_ns=cfg["max_age"],
        max_msgs_per_subject=cfg["max_msgs_per_subject"], max_msg_size=cfg["max_msg_size"],
        discard=cfg["discard"], discard_new_per_subject=cfg["discard_new_per_subject"],
        sync=sync, sync_interval=sync_interval,
        compression="zstd" if cfg["compression"] == "s2" else "none",
    )


class Stream:
    """One stream of the global account. `offline_reason` is set (and `store` is None) for a stream
    whose metadata could not be read back: it is listed, never served, never deleted by natsx."""

    def __init__(self, js: JetStreamHost, name: str, config: dict[str, Any] | None, created_ns: int,
                 directory: str | None, store: BaseStore | None, offline_reason: str = "") -> None:
        self.js = js
        self.name = name
        self.config = config
        self.created_ns = created_ns
        self.directory = directory
        self.store = store
        self.offline_reason = offline_reason
        self.ingest: StreamIngest | None = None     # the C publish path, while subscribed
        self.subscriptions: list[Subscription] = []

    # -- creation and recovery -------------------------------------------------------------------
    @classmethod
    def create(cls, js: JetStreamHost, cfg: dict[str, Any]) -> "Stream":
        created = time.time_ns()
        sync, interval = js.sync_policy
        if cfg["storage"] == "memory":
            store: BaseStore = MemStore(store_config(cfg, sync, interval))
            directory = None
        else:
            directory = os.path.join(js.streams_dir, cfg["name"])
            os.makedirs(directory, exist_ok=True)
            store = FileStore(os.path.join(directory, MSGS_DIR), store_config(cfg, sync, interval))
        stream = cls(js, cfg["name"], cfg, created, directory, store)
        if cfg["first_seq"] > 1 and store.last_seq == 0:
            store.compact(cfg["first_seq"])
        stream.write_metadata()
        return stream

    @classmethod
    def recover(cls, js: JetStreamHost, directory: str) -> "Stream":
        """The stream of a directory; offline (data untouched) if its metadata or store is damaged."""
        name = os.path.basename(directory)
        try:
            cfg, created = read_metadata(directory)
            if cfg["name"] != name:
                raise MetadataError(f"stream metadata names stream {cfg['name']!r}")
            sync, interval = js.sync_policy
            store = FileStore(os.path.join(directory, MSGS_DIR), store_config(cfg, sync, interval))
        except (MetadataError, StoreError, OSError) as exc:
            reason = str(exc) if isinstance(exc, MetadataError) else f"stream store failed to open: {exc}"
            js.log.error(f"JetStream stream '$G > {name}' is damaged, left offline with its data "
                         f"untouched: {reason}")
            return cls(js, name, None, 0, directory, None, offline_reason=reason)
        return cls(js, name, cfg, created, directory, store)

    def write_metadata(self) -> None:
        if self.directory is None or self.config is None:
            return   # memory streams vanish on restart, as in nats-server
        data = json.dumps({"config": streamcfg.encode(self.config), "created_ns": self.created_ns,
                           "created": go_time(self.created_ns)}, separators=(",", ":")).encode()
        _write_durably(self.directory, {META_FILE: data, META_SUM_FILE: _checksum(data).encode()})

    # -- apply -----------------------------------------------------------------------------------
    def apply_config(self, cfg: dict[str, Any]) -> None:
        assert self.store is not None
        sync, interval = self.js.sync_policy
        self.config = cfg
        self.store.update_config(store_config(cfg, sync, interval))
        self.write_metadata()

    def close(self) -> None:
        if self.store is not None and not self.store.closed:
            self.store.close()

    def delete(self) -> None:
        """Remove the stream and its files (an explicit STREAM.DELETE; natsx never deletes on its
        own, a damaged stream included)."""
        if self.store is not None and not self.store.closed:
            self.store.delete()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- info --------------------------------------------------------------------------------------
    def state_json(self, deleted_details: bool = False, subjects_filter: str = "",
                   offset: int = 0) -> tuple[dict[str, Any], int]:
        """StreamState as nats-server encodes it, and the total number of subjects matched."""
        assert self.store is not None
        st = self.store.state(deleted=deleted_details)
        out: dict[str, Any] = {
            "messages": st.msgs, "bytes": st.bytes, "first_seq": st.first_seq,
            "first_ts": go_time(st.first_ts) if st.first_ts else ZERO_TIME,
            "last_seq": st.last_seq,
            "last_ts": go_time(st.last_ts) if st.last_ts else ZERO_TIME,
        }
        if st.num_subjects:
            out["num_subjects"] = st.num_subjects
        total = 0
        if subjects_filter:
            totals = self.store.subjects_totals(subjects_filter)
            total = len(totals)
            names = sorted(totals)[offset:offset + MAX_SUBJECT_DETAILS] if offset or total > MAX_SUBJECT_DETAILS \
                else list(totals)
            if names:
                out["subjects"] = {s.decode("utf-8", "surrogateescape"): totals[s] for s in names}
        if st.num_deleted:
            out["num_deleted"] = st.num_deleted
        if deleted_details and st.deleted:
            out["deleted"] = list(st.deleted)
        if st.lost:
            msgs = [seq for first, last in st.lost for seq in range(first, last + 1)]
            out["lost"] = {"msgs": msgs, "bytes": 0}
        out["consumer_count"] = 0
        return out, total

    def info(self, dynamic_metadata: bool = True, deleted_details: bool = False,
             subjects_filter: str = "", offset: int = 0, cluster: bool = False) -> tuple[dict[str, Any], int]:
        """StreamInfo fields (config, created, state, cluster?, ts) and the subjects total."""
        assert self.config is not None
        cfg = streamcfg.with_dynamic_metadata(self.config) if dynamic_metadata else self.config
        state, total = self.state_json(deleted_details, subjects_filter, offset)
        out: dict[str, Any] = {"config": streamcfg.encode(cfg), "created": go_time(self.created_ns),
                               "state": state}
        if cluster:     # STREAM.INFO's answer (not create/update/list) names the domain and leader
            if self.js.domain:
                out["domain"] = self.js.domain
            out["cluster"] = {"leader": self.js.server.name}
        if self.config.get("mirror"):
            out["mirror"] = self.source_info(self.config["mirror"])
        if self.config.get("sources"):
            out["sources"] = [self.source_info(src) for src in self.config["sources"]]
        out["ts"] = go_time(time.time_ns())
        return out, total

    @staticmethod
    def source_info(src: dict[str, Any]) -> dict[str, Any]:
        """StreamSourceInfo of a mirror/source that is stored but not flowing (no sourcing yet):
        nothing received, never active (nats-server's -1 / lag 0)."""
        out: dict[str, Any] = {"name": src["name"]}
        if src.get("external"):
            out["external"] = src["external"]
        out.update(lag=0, active=-1)
        if src.get("filter_subject"):
            out["filter_subject"] = src["filter_subject"]
        if src.get("subject_transforms"):
            out["subject_transforms"] = src["subject_transforms"]
        return out
