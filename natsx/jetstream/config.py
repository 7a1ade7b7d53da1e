"""Stream configuration as nats-server decodes, defaults, validates and encodes it ("decide" code:
no side effects; natsx.jetstream.stream applies the result).

A config is a plain dict in the field order of nats-server's StreamConfig JSON, with its omitempty
rules applied by encode(). Durations are nanoseconds, as on the wire.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from natsx._core.subject import is_valid_subject
from natsx.gofmt import go_duration
from natsx.jetstream.errors import ApiError, invalid_config
from natsx.version import NATS_SERVER_VERSION

MAX_NAME_LEN = 255                   # JSMaxNameLen
MAX_DESCRIPTION_LEN = 4 * 1024       # JSMaxDescriptionLen
MAX_METADATA_LEN = 128 * 1024        # JSMaxMetadataLen
MAX_REPLICAS = 5                     # StreamMaxReplicas
DEFAULT_DUPLICATE_WINDOW = 120 * 10**9
MIN_WINDOW = 100 * 10**6             # max_age and duplicate_window floor (100ms)
_INVALID_NAME_CHARS = frozenset(" \t\r\n\f.*>/\\")

# The API level natsx serves (JSApiLevel): features of level 1 (per-message TTL, subject delete
# markers) and level 2 (counters, atomic batches, schedules, async persist) are not implemented yet,
# so natsx announces 0 and refuses stream configs that ask for them.
API_LEVEL = 0
NOT_SUPPORTED = {
    "allow_msg_ttl": "per-message TTL",
    "subject_delete_marker_ttl": "subject delete markers",
    "allow_msg_counter": "message counters",
    "allow_atomic": "atomic batch publish",
    "allow_msg_schedules": "message schedules",
    "allow_batched": "fast batch publish",
    "republish": "republish",
    "subject_transform": "subject transforms",
}

META_REQUIRED_LEVEL = "_nats.req.level"
META_LEVEL = "_nats.level"
META_VERSION = "_nats.ver"

# (json name, Go type, default). Go types drive decoding checks and their error text.
FIELDS: list[tuple[str, str, Any]] = [
    ("name", "string", ""),
    ("description", "string", ""),
    ("subjects", "[]string", None),
    ("retention", "RetentionPolicy", "limits"),
    ("max_consumers", "int", 0),
    ("max_msgs", "int64", 0),
    ("max_bytes", "int64", 0),
    ("max_age", "time.Duration", 0),
    ("max_msgs_per_subject", "int64", 0),
    ("max_msg_size", "int32", 0),
    ("discard", "DiscardPolicy", "old"),
    ("storage", "StorageType", "file"),
    ("num_replicas", "int", 0),
    ("no_ack", "bool", False),
    ("duplicate_window", "time.Duration", 0),
    ("placement", "Placement", None),
    ("mirror", "StreamSource", None),
    ("sources", "[]StreamSource", None),
    ("compression", "StoreCompression", "none"),
    ("first_seq", "uint64", 0),
    ("subject_transform", "SubjectTransformConfig", None),
    ("republish", "RePublish", None),
    ("allow_direct", "bool", False),
    ("mirror_direct", "bool", False),
    ("discard_new_per_subject", "bool", False),
    ("sealed", "bool", False),
    ("deny_delete", "bool", False),
    ("deny_purge", "bool", False),
    ("allow_rollup_hdrs", "bool", False),
    ("consumer_limits", "StreamConsumerLimits", None),
    ("allow_msg_ttl", "bool", False),
    ("subject_delete_marker_ttl", "time.Duration", 0),
    ("allow_msg_counter", "bool", False),
    ("allow_atomic", "bool", False),
    ("allow_msg_schedules", "bool", False),
    ("persist_mode", "PersistModeType", ""),
    ("allow_batched", "bool", False),
    ("metadata", "map[string]string", None),
]
_OMITEMPTY = frozenset("""description subjects max_msg_size no_ack duplicate_window placement mirror
    sources first_seq subject_transform republish discard_new_per_subject subject_delete_marker_ttl
    allow_msg_counter allow_atomic allow_msg_schedules persist_mode allow_batched metadata""".split())
_ENUMS = {
    "RetentionPolicy": ("limits", "interest", "workqueue"),
    "StorageType": ("file", "memory"),
    "StoreCompression": ("none", "s2"),
    "PersistModeType": ("", "default", "async"),
}
_INT_RANGES = {"int": (-(1 << 63), (1 << 63) - 1), "int64": (-(1 << 63), (1 << 63) - 1),
               "time.Duration": (-(1 << 63), (1 << 63) - 1), "int32": (-(1 << 31), (1 << 31) - 1),
               "uint64": (0, (1 << 64) - 1)}


# -- decoding (json.Unmarshal into StreamConfig) ---------------------------------------------------

def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(v), "null")


def unmarshal_error(v: Any, struct: str, name: str, go_type: str) -> ApiError:
    kind = _json_kind(v)
    if kind == "number" and go_type in _INT_RANGES:   # Go names the literal only for numeric targets
        kind = f"number {json.dumps(v)}"
    return ApiError.of("JSInvalidJSONErr", err=f"json: cannot unmarshal {kind} into Go struct field "
                       f"{struct}.{name} of type {go_type.replace('time.Duration', 'time.Duration')}")


def decode(body: dict[str, Any], struct: str = "StreamConfigRequest") -> dict[str, Any]:
    """The request's config with every field present (Go zero values where absent); type errors as
    nats-server's json.Unmarshal reports them (10025). Unknown fields are ignored, as in Go."""
    cfg: dict[str, Any] = {}
    for name, go_type, zero in FIELDS:
        v = body.get(name)
        if v is None:
            cfg[name] = zero
            continue
        if go_type in _INT_RANGES:
            lo, hi = _INT_RANGES[go_type]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or not lo <= v <= hi:
                raise unmarshal_error(v, struct, name, go_type)
            v = int(v)
        elif go_type == "bool":
            if not isinstance(v, bool):
                raise unmarshal_error(v, struct, name, go_type)
        elif go_type == "string":
            if not isinstance(v, str):
                raise unmarshal_error(v, struct, name, go_type)
        elif go_type == "DiscardPolicy":
            if not isinstance(v, str) or v.lower() not in ("old", "new"):
                raise ApiError.of("JSInvalidJSONErr", err=f"can not unmarshal {_go_q(v)}")
            v = v.lower()
        elif go_type == "StoreCompression":
            if not isinstance(v, str) or v not in _ENUMS[go_type]:
                raise ApiError.of("JSInvalidJSONErr", err="unknown compression algorithm")
        elif go_type in _ENUMS:
            if not isinstance(v, str) or v not in _ENUMS[go_type]:
                raise ApiError.of("JSInvalidJSONErr", err=f"can not unmarshal {_go_q(v)}")
        elif go_type == "[]string":
            if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
                raise unmarshal_error(v, struct, name, go_type)
        elif go_type == "map[string]string":
            if not isinstance(v, dict) or not all(isinstance(s, str) for s in v.values()):
                raise unmarshal_error(v, struct, name, go_type)
        elif go_type == "[]StreamSource":
            if not isinstance(v, list) or not all(isinstance(s, dict) or s is None for s in v):
                raise unmarshal_error(v, struct, name, go_type)
        elif not isinstance(v, dict):
            raise unmarshal_error(v, struct, name, go_type)
        cfg[name] = v
    if cfg["persist_mode"] == "default":
        cfg["persist_mode"] = ""
    return cfg


def _go_q(v: Any) -> str:
    return '"' + json.dumps(v).replace('\\', '\\\\').replace('"', '\\"') + '"'


def encode(cfg: dict[str, Any]) -> dict[str, Any]:
    """StreamConfig JSON: nats-server's field order, omitempty fields left out when empty."""
    out: dict[str, Any] = {}
    for name, _, _ in FIELDS:
        v = cfg.get(name)
        if name in _OMITEMPTY and not v:
            continue
        if name == "consumer_limits":
            v = {k: x for k, x in (v or {}).items() if x}
        out[name] = v
    return out


# -- subjects --------------------------------------------------------------------------------------

def subjects_collide(a: str, b: str) -> bool:
    """Some subject matches both a and b (nats-server's SubjectsCollide)."""
    ta, tb = a.split("."), b.split(".")
    for i, (x, y) in enumerate(zip(ta, tb)):
        if x == ">" or y == ">":
            return True
        if x != y and x != "*" and y != "*":
            return False
    return len(ta) == len(tb)


def subject_is_subset(subject: str, test: str) -> bool:
    """Every subject `subject` matches is matched by `test` (subjectIsSubsetMatch)."""
    ts, tt = subject.split("."), test.split(".")
    for i, t in enumerate(tt):
        if t == ">":
            return len(ts) > i
        if i >= len(ts):
            return False
        if t == "*":
            if ts[i] == ">":
                return False
            continue
        if ts[i] != t:
            return False
    return len(ts) == len(tt)


def is_valid_asset_name(name: str) -> bool:
    return bool(name) and not (_INVALID_NAME_CHARS & set(name))


# -- validation and defaults (checkStreamCfg) ------------------------------------------------------

def check(cfg: dict[str, Any], *, pedantic: bool = False, duplicates_limit: int = 0,
          max_bytes_required: bool = False, max_stream_bytes: int = 0,
          lookup: Callable[[str], dict[str, Any] | None] = lambda name: None) -> dict[str, Any]:
    """nats-server's checkStreamCfg for a decoded config: a new config with defaults applied, or
    ApiError. lookup(name) -> another stream's config (mirror/source checks)."""
    c = dict(cfg)
    name = c["name"]
    if not is_valid_asset_name(name):
        raise invalid_config("stream name is required and can not contain '.', '*', '>', '\\', '/'")
    if len(name) > MAX_NAME_LEN:
        raise invalid_config(f"stream name is too long, maximum allowed is {MAX_NAME_LEN}")
    if len(c["description"]) > MAX_DESCRIPTION_LEN:
        raise invalid_config(f"stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}")
    if sum(len(k) + len(v) for k, v in (c["metadata"] or {}).items()) > MAX_METADATA_LEN:
        raise invalid_config(f"stream metadata exceeds maximum size of {MAX_METADATA_LEN} bytes")
    if c["num_replicas"] == 0:
        c["num_replicas"] = 1
    if c["num_replicas"] > MAX_REPLICAS:
        raise invalid_config(f"maximum replicas is {MAX_REPLICAS}")
    if c["num_replicas"] < 0:
        raise ApiError.of("JSReplicasCountCannotBeNegative")
    for limit in ("max_msgs", "max_msgs_per_subject", "max_bytes", "max_msg_size", "max_consumers"):
        if c[limit] == 0 or c[limit] < -1:
            if pedantic and c[limit] < -1:
                raise ApiError.of("JSPedanticErrF", err=f"{limit} must be set to -1")
            c[limit] = -1
    if c["max_age"] < 0:
        raise invalid_config("max age can not be negative")
    if c["max_age"] and c["max_age"] < MIN_WINDOW:
        raise invalid_config("max age needs to be >= 100ms")
    if c["duplicate_window"] == 0 and c["mirror"] is None and not c["sources"]:
        window = DEFAULT_DUPLICATE_WINDOW
        if duplicates_limit > 0 and window > duplicates_limit:
            if pedantic:
                raise ApiError.of("JSPedanticErrF", err="duplicate window limits are higher than current limits")
            window = duplicates_limit
        if c["max_age"] and c["max_age"] < window:
            if pedantic:
                raise ApiError.of("JSPedanticErrF", err="duplicate window cannot be bigger than max age")
            window = c["max_age"]
        c["duplicate_window"] = window
    if c["duplicate_window"] < 0:
        raise invalid_config("duplicates window can not be negative")
    if c["max_age"] and c["duplicate_window"] > c["max_age"]:
        raise invalid_config("duplicates window can not be larger then max age")
    if duplicates_limit > 0 and c["duplicate_window"] > duplicates_limit:
        raise invalid_config("duplicates window can not be larger then server limit of "
                             f"{go_duration(duplicates_limit)}")
    if 0 < c["duplicate_window"] < MIN_WINDOW:
        raise invalid_config("duplicates window needs to be >= 100ms")
    if c["deny_purge"] and c["allow_rollup_hdrs"]:
        raise invalid_config("roll-ups require the purge permission")
    if c["discard_new_per_subject"]:
        if c["discard"] != "new":
            raise invalid_config("discard new per subject requires discard new policy to be set")
        if c["max_msgs_per_subject"] <= 0:
            raise invalid_config("discard new per subject requires max msgs per subject > 0")
    if c["subject_delete_marker_ttl"] < 0:
        raise invalid_config("subject delete marker TTL must not be negative")
    _refuse_unsupported(c)
    _check_mirror_and_sources(c, lookup, pedantic)
    _check_subjects(c)
    if max_bytes_required and c["max_bytes"] <= 0:
        raise ApiError.of("JSStreamMaxBytesRequired")
    if max_stream_bytes > 0 and c["max_bytes"] > max_stream_bytes:
        raise ApiError.of("JSStreamMaxStreamBytesExceeded")
    if c["placement"] is not None and not any(c["placement"].values()):
        c["placement"] = None
    if c["placement"] and c["placement"].get("preferred"):
        raise invalid_config("preferred server not permitted in placement")
    return c


def _refuse_unsupported(c: dict[str, Any]) -> None:
    """Features natsx does not implement yet are refused rather than stored and silently ignored."""
    for field_name, feature in NOT_SUPPORTED.items():
        if c.get(field_name):
            raise invalid_config(f"{feature} not supported by this server (natsx, API level {API_LEVEL})")
    if c["persist_mode"] == "async":
        raise invalid_config(f"async persist mode not supported by this server (natsx, API level {API_LEVEL})")


def _check_mirror_and_sources(c: dict[str, Any], lookup: Callable[[str], dict[str, Any] | None],
                              pedantic: bool) -> None:
    mirror = c["mirror"]
    if mirror is not None:
        if c["first_seq"] > 0:
            raise ApiError.of("JSMirrorWithFirstSeqErr")
        if c["subjects"]:
            raise ApiError.of("JSMirrorWithSubjectsErr")
        if c["sources"]:
            raise ApiError.of("JSMirrorWithSourcesErr")
        if mirror.get("filter_subject") and mirror.get("subject_transforms"):
            raise ApiError.of("JSMirrorMultipleFiltersNotAllowed")
        if mirror.get("external") is None:
            if not is_valid_asset_name(mirror.get("name") or ""):
                raise ApiError.of("JSMirrorInvalidStreamName")
            origin = lookup(mirror["name"])
            if origin is not None:
                if 0 < c["max_msg_size"] < origin["max_msg_size"]:
                    raise ApiError.of("JSMirrorMaxMessageSizeTooBigErr")
                if pedantic and c["mirror_direct"] != origin["allow_direct"]:
                    raise ApiError.of("JSPedanticErrF",
                                      err="origin stream has direct get set, mirror has it disabled")
                c["mirror_direct"] = origin["allow_direct"]
    seen: set[str] = set()
    for src in c["sources"] or []:
        if src is None or not is_valid_asset_name(src.get("name") or ""):
            raise ApiError.of("JSSourceInvalidStreamName")
        ext = src.get("external") or {}
        iname = src["name"] + " " + (ext.get("api") or "") + " " + (src.get("filter_subject") or "")
        if iname in seen:
            raise ApiError.of("JSSourceDuplicateDetected")
        seen.add(iname)
        if src.get("filter_subject") and src.get("subject_transforms"):
            raise ApiError.of("JSSourceMultipleFiltersNotAllowed")
        if not ext:
            origin = lookup(src["name"])
            if origin is not None and 0 < c["max_msg_size"] < origin["max_msg_size"]:
                raise ApiError.of("JSSourceMaxMessageSizeTooBigErr")


def _check_subjects(c: dict[str, Any]) -> None:
    subjects: list[str] = c["subjects"] or []
    if not subjects:
        if c["mirror"] is None and not c["sources"]:
            c["subjects"] = [c["name"]]
        return
    seen: set[str] = set()
    for i, subj in enumerate(subjects):
        if not is_valid_subject(subj):
            raise invalid_config("invalid subject")
        if subj in seen:
            raise invalid_config("duplicate subjects detected")
        if subj == ">":
            if not c["no_ack"]:
                raise invalid_config("capturing all subjects requires no-ack to be true")
            if c["num_replicas"] != 1:
                raise invalid_config("capturing all subjects requires replicas of 1")
        if not c["no_ack"]:
            for space in ("$JS.>", "$JSC.>", "$NRG.>"):
                if subjects_collide(subj, space) and not subject_is_subset(subj, "$JS.EVENT.>"):
                    raise invalid_config("subjects that overlap with jetstream api require no-ack to be true")
            if subjects_collide(subj, "$SYS.>") and not subject_is_subset(subj, "$SYS.ACCOUNT.>"):
                raise invalid_config("subjects that overlap with system api require no-ack to be true")
        for other in subjects[i + 1:]:
            if subjects_collide(other, subj):
                raise invalid_config(f'subject "{subj}" overlaps with "{other}"')
        seen.add(subj)


def check_update(old: dict[str, Any], new: dict[str, Any]) -> None:
    """nats-server's configUpdateCheck rules for an already checked `new` (single server)."""
    if new["name"] != old["name"]:
        raise invalid_config("stream configuration name must match original")
    if new["num_replicas"] > 1:
        raise ApiError.of("JSStreamReplicasNotSupportedErr")
    if new["storage"] != old["storage"]:
        raise invalid_config("stream configuration update can not change storage type")
    if new["retention"] != old["retention"] and "workqueue" in (new["retention"], old["retention"]):
        raise invalid_config("stream configuration update can not change retention policy to/from workqueue")
    if old["sealed"] and not new["sealed"]:
        raise invalid_config("stream configuration update can not unseal a sealed stream")
    if old["deny_delete"] and not new["deny_delete"]:
        raise invalid_config("stream configuration update can not cancel deny message deletes")
    if old["deny_purge"] and not new["deny_purge"]:
        raise invalid_config("stream configuration update can not cancel deny purge")
    if new["mirror"] is not None and new["mirror"] != old["mirror"]:
        raise ApiError.of("JSStreamMirrorNotUpdatableErr")
    if new["sealed"]:
        new.update(max_age=0, discard="new", deny_delete=True, deny_purge=True, allow_rollup_hdrs=False)


def required_level(cfg: dict[str, Any]) -> int:
    """The API level a stream needs (nats-server's jetstream_versioning.go rules)."""
    if cfg.get("allow_batched"):
        return 4
    if (cfg.get("allow_msg_counter") or cfg.get("allow_atomic") or cfg.get("allow_msg_schedules")
            or cfg.get("persist_mode") == "async"):
        return 2
    if cfg.get("allow_msg_ttl") or cfg.get("subject_delete_marker_ttl", 0) > 0:
        return 1
    return 0


def stamp_metadata(cfg: dict[str, Any]) -> None:
    """The stored metadata: the user's keys (no dynamic ones) plus _nats.req.level."""
    meta = {k: v for k, v in (cfg["metadata"] or {}).items() if k not in (META_LEVEL, META_VERSION)}
    meta[META_REQUIRED_LEVEL] = str(required_level(cfg))
    cfg["metadata"] = dict(sorted(meta.items()))     # a Go map: encoded in key order


def with_dynamic_metadata(cfg: dict[str, Any]) -> dict[str, Any]:
    """A config as create/update/info answer it: metadata also carries _nats.level and _nats.ver."""
    out = dict(cfg)
    meta = dict(cfg["metadata"] or {})
    meta[META_LEVEL] = str(API_LEVEL)
    meta[META_VERSION] = NATS_SERVER_VERSION
    out["metadata"] = dict(sorted(meta.items()))
    return out


def overlapping(subjects: Iterable[str], others: Iterable[str]) -> bool:
    others = list(others)
    return any(subjects_collide(s, o) for s in subjects for o in others)


