"""Stream storage: one interface, two stores (file and memory). See docs/storage.rst."""
from natsx._core.msglog import (
    MaxBytesError,
    MaxMsgsError,
    MaxMsgsPerSubjectError,
    MsgLog,
    MsgNotFoundError,
    MsgTooLargeError,
    StoreClosedError,
    StoreEOFError,
    StoredMsg,
    StoreError,
)
from natsx._core.subjidx import SubjectFilter
from natsx._core.subject import subject_matches
from natsx.store.config import SYNC_ALWAYS, SYNC_INTERVAL, SYNC_NEVER, StoreConfig, StreamState
from natsx.store.filestore import CorruptBlockError, FileStore, StorageFullError
from natsx.store.memstore import MemStore

__all__ = [
    "CorruptBlockError", "FileStore", "MaxBytesError", "MaxMsgsError", "MaxMsgsPerSubjectError",
    "MemStore", "MsgLog", "MsgNotFoundError", "MsgTooLargeError", "SYNC_ALWAYS", "SYNC_INTERVAL",
    "SYNC_NEVER", "StorageFullError", "StoreClosedError", "StoreConfig", "StoreEOFError",
    "StoreError", "StoredMsg", "StreamState", "SubjectFilter", "subject_matches",
]
