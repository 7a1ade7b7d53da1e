"""nats-server configuration file format.

A re-implementation of the format accepted by nats-server's ``conf`` package
(lexer + parser), behaving like nats-server 2.x in ``-t`` (pedantic) mode:
same value types, same size suffixes, same variable scoping, same include
resolution and the same error strings, so natsx can be dropped in with an
existing ``nats-server.conf``.

Public API:

* :func:`parse_config_file` / :func:`parse_config_string` -> plain ``dict``
* :func:`parse_size`, :func:`parse_duration` (Go ``time.ParseDuration``)
* :class:`ConfigError`
* :class:`Token` and :func:`parse_config_tokens` for callers that need the
  source position of each value (the options layer uses them for errors).

The lexer is a state machine whose states mirror nats-server's, because the
error text *and* the reported line/column depend on exactly which state sees
an offending character.
"""

from __future__ import annotations

import datetime as _dt
import errno as _errno
import os
import re
from collections.abc import Callable
from functools import partial
from typing import Any, Optional

__all__ = [
    "ConfigError",
    "Token",
    "parse_config_file",
    "parse_config_string",
    "parse_config_tokens",
    "parse_config_file_tokens",
    "strip_tokens",
    "parse_size",
    "parse_duration",
    "parse_duration_ns",
]

_EOF = "\0"  # nats-server uses rune 0 for EOF, so a literal NUL behaves the same.

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


class ConfigError(ValueError):
    """A configuration file could not be parsed or is invalid.

    ``str(err)`` is exactly what nats-server prints after ``"nats-server: "``
    (without the trailing newline).  ``filename``/``line``/``column`` locate
    the first error when known; ``errors``/``warnings`` hold every message
    for option-level validation (nats-server reports them all at once).
    """

    def __init__(
        self,
        message: str,
        *,
        filename: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
        errors: Optional[list[str]] = None,
        warnings: Optional[list[str]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.line = line
        self.column = column
        self.errors = list(errors) if errors is not None else [message]
        self.warnings = list(warnings or [])

    def __str__(self) -> str:
        return self.message


class Token:
    """A parsed value plus where it came from (nats-server's pedantic token).

    ``line``/``pos`` point at the *key* that holds the value (nats-server moves
    them there because that is more useful in messages).  ``pos`` keeps
    nats-server's quirk: 0-based on the first line, 1-based afterwards.
    """

    __slots__ = ("value", "line", "pos", "used_variable", "source_file")

    def __init__(self, value: Any, line: int, pos: int, source_file: str) -> None:
        self.value = value
        self.line = line
        self.pos = pos
        self.used_variable = False
        self.source_file = source_file

    def source(self) -> str:
        return f"{self.source_file}:{self.line}:{self.pos}"

    def __repr__(self) -> str:
        return f"Token({self.value!r} @ {self.source()})"


def strip_tokens(v: Any) -> Any:
    """Turn a token tree into plain Python values (dict/list/scalars)."""
    if isinstance(v, Token):
        v = v.value
    if isinstance(v, dict):
        return {k: strip_tokens(x) for k, x in v.items()}
    if isinstance(v, list):
        return [strip_tokens(x) for x in v]
    return v


# ---------------------------------------------------------------------------
# Go compatibility helpers
# ---------------------------------------------------------------------------

# Go's unicode.IsSpace (Latin-1 set + White_Space property).  Python's
# str.isspace() differs (e.g. it accepts \x1c-\x1f), so be explicit.
_GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _is_space(r: str) -> bool:
    return r in _GO_SPACE


def _is_digit(r: str) -> bool:
    # Go's unicode.IsDigit == category Nd == str.isdecimal().
    return r.isdecimal()


def _is_ws(r: str) -> bool:
    return r == "\t" or r == " "


def _is_nl(r: str) -> bool:
    return r == "\n" or r == "\r"


def _is_key_sep(r: str) -> bool:
    return r == "=" or r == ":"


def _is_num_suffix(r: str) -> bool:
    return r in "kKmMgGtTpPeE" and r != ""


def _ends_number(r: str) -> bool:
    # What may follow an integer (a size suffix included) in a value.
    return _is_nl(r) or r == _EOF or r == "}" or r == ";" or r == "," or _is_ws(r)


def _blen(s: str) -> int:
    """Length in bytes, as Go's len() on the UTF-8 string."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-8", "surrogateescape"))


def _wrap_int64(n: int) -> int:
    # Go multiplies int64 sizes without overflow checks; keep its wrap-around.
    return ((n + (1 << 63)) % (1 << 64)) - (1 << 63)


def _go_clean(path: str) -> str:
    """Go's path/filepath.Clean on POSIX."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for seg in path.split("/"):
        if seg == "" or seg == ".":
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def _go_join(*elems: str) -> str:
    """Go's filepath.Join: absolute later elements do NOT reset the path."""
    nonempty = [e for e in elems if e != ""]
    if not nonempty:
        return ""
    return _go_clean("/".join(nonempty))


def _go_dir(path: str) -> str:
    """Go's filepath.Dir."""
    i = path.rfind("/")
    return _go_clean(path[: i + 1])


def _go_os_error(op: str, path: str, exc: OSError) -> str:
    """Format an OSError like Go's *fs.PathError ("open x: no such file ...")."""
    if isinstance(exc, IsADirectoryError) or exc.errno == _errno.EISDIR:
        return f"read {path}: is a directory"
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    if text:
        text = text[0].lower() + text[1:]
    return f"{op} {path}: {text}"


def _read_text(path: str) -> str:
    with open(path, "rb") as f:
        data = f.read()
    # Keep undecodable bytes (Go strings are byte strings) instead of failing.
    return data.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------
# Lexer
# ---------------------------------------------------------------------------

(
    ITEM_ERROR,
    ITEM_EOF,
    ITEM_KEY,
    ITEM_TEXT,
    ITEM_STRING,
    ITEM_BOOL,
    ITEM_INTEGER,
    ITEM_FLOAT,
    ITEM_DATETIME,
    ITEM_ARRAY_START,
    ITEM_ARRAY_END,
    ITEM_MAP_START,
    ITEM_MAP_END,
    ITEM_COMMENT_START,
    ITEM_VARIABLE,
    ITEM_INCLUDE,
) = range(16)

class _Item:
    __slots__ = ("typ", "val", "line", "pos")

    def __init__(self, typ: int, val: str, line: int, pos: int) -> None:
        self.typ = typ
        self.val = val
        self.line = line
        self.pos = pos

    def __repr__(self) -> str:  # debugging aid
        return f"_Item({self.typ}, {self.val!r}, {self.line}, {self.pos})"


def _esc(r: str) -> str:
    # nats-server escapes only the newline rune in its error messages.
    return "\\n" if r == "\n" else r


# A lexer state: one step that returns the next state, or None to stop.
_State = Callable[[], Optional["_State"]]

# Escapes a double-quoted string accepts besides \xHH.
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\"}


class _Lexer:
    """Produces the item stream of nats-server's lexer for one input.

    Offsets are kept in characters; columns are converted to bytes when an
    item is emitted, because nats-server reports byte columns.

    States that nats-server writes out twice (top level vs a '{...}' wrapper,
    top-level keys vs map keys, the quoted strings) are built once here from
    a factory; the parameters name exactly where the twins differ.
    """

    def __init__(self, text: str) -> None:
        self.input = text
        self.n = len(text)
        self.start = 0
        self.pos = 0
        self.width = 0
        self.line = 1
        self.stack: list[_State] = []
        self.parts: list[str] = []
        self.string_state: Optional[_State] = None
        self.lstart = 0  # offset of the '\n' that starts the current line
        self.ilstart = 0  # same, for the line where the current item began
        self.items: list[_Item] = []

        self.lex_top, self.lex_top_value_end = self._statement_states(block=False)
        self.lex_block_start, self.lex_block_value_end = self._statement_states(block=True)
        self.lex_key, self.lex_key_end = self._key_states(self.lex_value, in_map=False)
        self.lex_map_key, self.lex_map_key_end = self._key_states(self.lex_map_value, in_map=True)
        self.lex_quoted_string = self._quoted(
            "'", partial(self.emit, ITEM_STRING), self._eof_or_error
        )
        self.lex_dq_string = self._quoted('"', self.emit_string, self._eof_or_error, escapes=True)

    # -- primitives (same semantics as nats-server's, including quirks) ----

    def run(self) -> list[_Item]:
        state: Optional[_State] = self.lex_top
        while state is not None:
            state = state()
        return self.items

    def next(self) -> str:
        if self.pos >= self.n:
            self.width = 0
            return _EOF
        r = self.input[self.pos]
        if r == "\n":
            self.line += 1
            self.lstart = self.pos
        self.width = 1
        self.pos += 1
        return r

    def backup(self) -> None:
        # Like nats-server: lstart is not restored when backing over '\n'.
        self.pos -= self.width
        if self.pos < self.n and self.input[self.pos] == "\n":
            self.line -= 1

    def peek(self) -> str:
        r = self.next()
        self.backup()
        return r

    def ignore(self) -> None:
        self.start = self.pos
        self.ilstart = self.lstart

    def _col(self, begin: int, val: str) -> int:
        return _blen(self.input[begin : self.pos]) - _blen(val)

    def emit(self, typ: int) -> None:
        val = "".join(self.parts) + self.input[self.start : self.pos]
        self.items.append(_Item(typ, val, self.line, self._col(self.ilstart, val)))
        self.start = self.pos
        self.ilstart = self.lstart

    def emit_string(self) -> None:
        if self.parts:
            val = "".join(self.parts) + self.input[self.start : self.pos]
            self.parts = []
            # \xHH escapes may combine into valid UTF-8 sequences.
            val = val.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
        else:
            val = self.input[self.start : self.pos]
        self.items.append(_Item(ITEM_STRING, val, self.line, self._col(self.ilstart, val)))
        self.start = self.pos
        self.ilstart = self.lstart

    def errorf(self, msg: str) -> None:
        col = _blen(self.input[self.lstart : self.pos])
        self.items.append(_Item(ITEM_ERROR, msg, self.line, col))
        return None

    def fail(self, msg: str) -> _State:
        # errorf as a state, for shared code that takes "what next" as a state.
        return lambda: self.errorf(msg)

    def push(self, state: _State) -> None:
        self.stack.append(state)

    def pop(self) -> Optional[_State]:
        if not self.stack:
            return self.errorf("BUG in lexer: no states to pop.")
        return self.stack.pop()

    def skip(self, nxt: _State) -> _State:
        # nats-server's lexSkip: ignore on the *next* step.
        def _s() -> _State:
            self.ignore()
            return nxt

        return _s

    def add_current_part(self, offset: int) -> None:
        self.parts.append(self.input[self.start : self.pos - offset])
        self.start = self.pos

    def add_part(self, s: str) -> Optional[_State]:
        self.parts.append(s)
        self.start = self.pos
        return self.string_state

    def _eof_or_error(self) -> Optional[_State]:
        if self.pos > self.start:
            return self.errorf("Unexpected EOF.")
        self.emit(ITEM_EOF)
        return None

    def _comment(self, ret: _State) -> _State:
        self.push(ret)
        return self.lex_comment_start

    def _comment_or(self, r: str, ret: _State, lone_slash: _State) -> Optional[_State]:
        """If r (just read) starts a '#' or '//' comment, lex it and resume at ret.

        A lone '/' gives back only the character after it and goes on at
        lone_slash (each caller does something else there).  None: no comment.
        """
        if r == "#":
            return self._comment(ret)
        if r == "/":
            if self.next() == "/":
                return self._comment(ret)
            self.backup()
            return lone_slash
        return None

    def _close(self, emit: Callable[[], None]) -> Optional[_State]:
        # The closing delimiter was just read: emit what precedes it, drop it.
        self.backup()
        emit()
        self.next()
        self.ignore()
        return self.pop()

    def _emit_before(self, typ: int) -> Optional[_State]:
        # r was just read and ends the token: give it back and emit the token.
        self.backup()
        self.emit(typ)
        return self.pop()

    # -- top level and a top-level '{' ... '}' wrapper (JSON-like configs) ---

    def _statement_states(self, block: bool) -> tuple[_State, _State]:
        """(start, value_end) for the top level, or for the inside of a wrapper.

        Only a wrapper is closed by '}', and its comments after a value resume
        at value_end, where the top level resumes at start (as nats-server).
        """
        level = "block-level" if block else "top-level"

        def start() -> Optional[_State]:
            r = self.next()
            if _is_space(r):
                return self.skip(start)
            if r == "{":
                self.push(self.lex_block_end if block else start)
                return self.skip(self.lex_block_start)
            if block and r == "}":
                self.ignore()
                return self.pop()
            comment = self._comment_or(r, start, self._eof_or_error)
            if comment is not None:
                return comment
            if r == _EOF:
                return self._eof_or_error()
            self.backup()
            self.push(value_end)
            return self.lex_key_start

        def value_end() -> Optional[_State]:
            r = self.next()
            comment = self._comment_or(r, value_end if block else start, value_end)
            if comment is not None:
                return comment
            if _is_ws(r):
                return value_end
            if _is_nl(r) or r == ";" or r == "," or (not block and (r == _EOF or r == "}")):
                self.ignore()
                return start
            if block and r == "}":
                self.backup()
                return self.lex_block_end
            return self.errorf(
                f"Expected a {level} value to end with a new line, "
                f"comment or EOF, but got '{_esc(r)}' instead."
            )

        return start, value_end

    def lex_block_end(self) -> Optional[_State]:
        r = self.next()
        comment = self._comment_or(r, self.lex_block_start, self.lex_block_end)
        if comment is not None:
            return comment
        if _is_nl(r) or _is_ws(r):
            return self.lex_block_end
        if r == ";" or r == ",":
            self.ignore()
            return self.lex_block_start
        if r == "}":
            self.ignore()
            return self.pop()
        return self.errorf(f"Expected a block-level to end with a '}}', but got '{_esc(r)}' instead.")

    # -- keys (top level and in maps) ----------------------------------------

    def lex_key_start(self) -> Optional[_State]:
        r = self.peek()
        if _is_key_sep(r):
            return self.errorf(f"Unexpected key separator '{_esc(r)}'")
        if _is_space(r):
            self.next()
            return self.skip(self.lex_key_start)
        if r == '"' or r == "'":
            self.next()
            return self.skip(self._quoted_key(r, self.lex_key_end, self._eof_or_error))
        self.ignore()
        self.next()
        return self.lex_key

    def _quoted_key(self, quote: str, key_end: _State, on_eof: _State) -> _State:
        def state() -> Optional[_State]:
            r = self.peek()
            if r == _EOF:
                return on_eof
            if r == quote:
                self.emit(ITEM_KEY)
                self.next()
                return self.skip(key_end)
            self.next()
            return state

        return state

    def _check_keyword(self, fall_through: _State, push: Optional[_State]) -> _State:
        if self.input[self.start : self.pos].lower() == "include":
            self.ignore()
            if push is not None:
                self.push(push)
            return self.lex_include_start
        self.emit(ITEM_KEY)
        return fall_through

    def _key_states(self, value: _State, in_map: bool) -> tuple[_State, _State]:
        """(key, key_end) leading to value.

        A top-level key may run into EOF (the parser reports it); in a map
        that is an error.  An include in a map returns to the map.
        """

        def key() -> Optional[_State]:
            r = self.peek()
            if _is_space(r):
                return self._check_keyword(key_end, self.lex_map_value_end if in_map else None)
            if in_map and r == _EOF:
                return self.errorf("Unexpected EOF processing map key.")
            if _is_key_sep(r) or r == _EOF:
                self.emit(ITEM_KEY)
                return key_end
            self.next()
            return key

        def key_end() -> Optional[_State]:
            r = self.next()
            if _is_space(r):
                return self.skip(key_end)
            if _is_key_sep(r):
                return self.skip(value)
            if r == _EOF and not in_map:
                self.emit(ITEM_EOF)
                return None
            self.backup()
            return value

        return key, key_end

    # -- include --------------------------------------------------------------

    def lex_include_start(self) -> Optional[_State]:
        r = self.next()
        if _is_ws(r):
            return self.skip(self.lex_include_start)
        self.backup()
        return self.lex_include

    def lex_include(self) -> Optional[_State]:
        r = self.next()
        if r == "'" or r == '"':
            self.ignore()
            eof = "Unexpected EOF in quoted include" if r == "'" else (
                "Unexpected EOF in double quoted include"
            )
            return self._quoted(r, partial(self.emit, ITEM_INCLUDE), self.fail(eof))
        if r == "[":
            return self.errorf("Expected include value but found start of an array")
        if r == "{":
            return self.errorf("Expected include value but found start of a map")
        if r == "(":
            return self.errorf("Expected include value but found start of a block")
        if _is_digit(r) or r == "-":
            return self.errorf("Expected include value but found start of a number")
        if r == "\\":
            return self.errorf("Expected include value but found escape sequence")
        if _is_nl(r):
            return self.errorf("Expected include value but found new line")
        self.backup()
        return self.lex_include_string

    def lex_include_string(self) -> Optional[_State]:
        r = self.next()
        if _is_nl(r) or r == _EOF or r == ";" or r == "}" or _is_ws(r):
            return self._emit_before(ITEM_INCLUDE)
        if r == "'":
            return self._close(partial(self.emit, ITEM_INCLUDE))
        return self.lex_include_string

    # -- values -----------------------------------------------------------------

    def lex_value(self) -> Optional[_State]:
        r = self.next()
        if _is_ws(r):
            return self.skip(self.lex_value)
        if r == "[":
            self.ignore()
            self.emit(ITEM_ARRAY_START)
            return self.lex_array_value
        if r == "{":
            self.ignore()
            self.emit(ITEM_MAP_START)
            return self.lex_map_key_start
        if r == "'":
            self.ignore()
            return self.lex_quoted_string
        if r == '"':
            self.ignore()
            self.string_state = self.lex_dq_string
            return self.lex_dq_string
        if r == "-":
            return self.lex_neg_number_start
        if r == "(":
            self.ignore()
            return self.lex_block
        if _is_digit(r):
            self.backup()
            return self.lex_number_start
        if r == ".":
            return self.errorf("Floats must start with a digit")
        if _is_nl(r):
            return self.errorf("Expected value but found new line")
        self.backup()
        self.string_state = self.lex_string
        return self.lex_string

    def lex_array_value(self) -> Optional[_State]:
        r = self.next()
        if _is_space(r):
            return self.skip(self.lex_array_value)
        terminator = self.fail("Unexpected array value terminator ','.")
        comment = self._comment_or(r, self.lex_array_value, terminator)
        if comment is not None:
            return comment
        if r == ",":
            return terminator()
        if r == "]":
            return self.lex_array_end
        self.backup()
        self.push(self.lex_array_value_end)
        return self.lex_value

    def lex_array_value_end(self) -> Optional[_State]:
        r = self.next()
        if _is_ws(r):
            return self.skip(self.lex_array_value_end)
        comment = self._comment_or(r, self.lex_array_value_end, self.skip(self.lex_array_value))
        if comment is not None:
            return comment
        if r == "," or _is_nl(r):
            return self.skip(self.lex_array_value)
        if r == "]":
            return self.lex_array_end
        return self.errorf(
            'Expected an array value terminator "," or an array '
            f"terminator \"]\", but got '{_esc(r)}' instead."
        )

    def lex_array_end(self) -> Optional[_State]:
        self.ignore()
        self.emit(ITEM_ARRAY_END)
        return self.pop()

    # -- maps -------------------------------------------------------------------

    def lex_map_key_start(self) -> Optional[_State]:
        r = self.peek()
        if _is_key_sep(r):
            return self.errorf(f"Unexpected key separator '{_esc(r)}'.")
        if r == "]":
            return self.errorf(f"Unexpected array end '{_esc(r)}' processing map.")
        if _is_space(r):
            self.next()
            return self.skip(self.lex_map_key_start)
        if r == "}":
            self.next()
            return self.skip(self.lex_map_end)
        if r == "#" or r == "/":
            self.next()
            # A lone '/' is dropped: the key starts after it.
            return self._comment_or(r, self.lex_map_key_start, self._map_key_begin)
        if r == "'" or r == '"':
            self.next()
            eof = "Unexpected EOF processing quoted map key." if r == "'" else (
                "Unexpected EOF processing double quoted map key."
            )
            return self.skip(self._quoted_key(r, self.lex_map_key_end, self.fail(eof)))
        if r == _EOF:
            return self.errorf("Unexpected EOF processing map.")
        return self._map_key_begin()

    def _map_key_begin(self) -> Optional[_State]:
        self.ignore()
        self.next()
        return self.lex_map_key

    def lex_map_value(self) -> Optional[_State]:
        r = self.next()
        if _is_space(r):
            return self.skip(self.lex_map_value)
        if r == ",":
            return self.errorf("Unexpected map value terminator \",\".")
        if r == "}":
            return self.skip(self.lex_map_end)
        self.backup()
        self.push(self.lex_map_value_end)
        return self.lex_value

    def lex_map_value_end(self) -> Optional[_State]:
        r = self.next()
        if _is_ws(r):
            return self.skip(self.lex_map_value_end)
        comment = self._comment_or(r, self.lex_map_value_end, self.skip(self.lex_map_key_start))
        if comment is not None:
            return comment
        if r == ";" or r == "," or _is_nl(r):
            return self.skip(self.lex_map_key_start)
        if r == "}":
            return self.skip(self.lex_map_end)
        return self.errorf(
            'Expected a map value terminator "," or a map '
            f"terminator \"}}\", but got '{_esc(r)}' instead."
        )

    def lex_map_end(self) -> Optional[_State]:
        self.ignore()
        self.emit(ITEM_MAP_END)
        return self.pop()

    # -- strings ------------------------------------------------------------------

    def _is_bool(self) -> bool:
        return self.input[self.start : self.pos].lower() in (
            "true", "false", "on", "off", "yes", "no",
        )

    def _is_variable(self) -> bool:
        if self.start < self.n and self.input[self.start] == "$":
            self.start += 1
            return True
        return False

    def _quoted(
        self, quote: str, emit: Callable[[], None], on_eof: _State, escapes: bool = False
    ) -> _State:
        """The inside of a quoted string or include, up to its closing quote."""

        def state() -> Optional[_State]:
            r = self.next()
            if escapes and r == "\\":
                self.add_current_part(1)
                return self.lex_string_escape
            if r == quote:
                return self._close(emit)
            if r == _EOF:
                return on_eof
            return state

        return state

    def lex_string(self) -> Optional[_State]:
        r = self.next()
        if r == "\\":
            self.add_current_part(1)
            return self.lex_string_escape
        if (
            _is_nl(r) or r == _EOF or r == ";" or r == "," or r == "]" or r == "}"
            or _is_ws(r)
        ):
            self.backup()
            if self.parts:
                self.emit_string()
            elif self._is_bool():
                self.emit(ITEM_BOOL)
            elif self._is_variable():
                self.emit(ITEM_VARIABLE)
            else:
                self.emit_string()
            return self.pop()
        if r == "'":
            return self._close(self.emit_string)
        return self.lex_string

    def lex_block(self) -> Optional[_State]:
        # A "( ... )" block: raw text up to a ')' alone on its own line.
        r = self.next()
        if r == ")":
            self.backup()
            self.backup()
            if self.next() != "\n":
                self.next()
                return self.lex_block
            self.next()
            nr = self.next()
            if nr == "\n" or nr == _EOF:
                self.backup()
                self.backup()
                self.emit(ITEM_STRING)
                self.next()
                self.ignore()
                return self.pop()
            self.backup()
        elif r == _EOF:
            return self.errorf("Unexpected EOF processing block.")
        return self.lex_block

    def lex_string_escape(self) -> Optional[_State]:
        r = self.next()
        if r == "x":
            return self.lex_string_binary
        if r in _SIMPLE_ESCAPES:
            return self.add_part(_SIMPLE_ESCAPES[r])
        return self.errorf(
            f"Invalid escape character '{_esc(r)}'. Only the following "
            "escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\."
        )

    def lex_string_binary(self) -> Optional[_State]:
        for _ in range(2):
            if _is_nl(self.next()):
                return self.errorf(
                    "Expected two hexadecimal digits after '\\x', but hit end of line"
                )
        # nats-server slices the last two *bytes*, whatever runes were read.
        raw = self.input[self.pos - 2 : self.pos].encode("utf-8", "surrogateescape")[-2:]
        hexs = raw.decode("utf-8", "surrogateescape")
        if len(raw) != 2 or not all(c in b"0123456789abcdefABCDEF" for c in raw):
            return self.errorf(f"Expected two hexadecimal digits after '\\x', but got '{hexs}'")
        self.add_part(bytes([int(hexs, 16)]).decode("utf-8", "surrogateescape"))
        return self.string_state

    # -- numbers --------------------------------------------------------------------

    def _first_digit(self, then: _State) -> Optional[_State]:
        r = self.next()
        if not _is_digit(r):
            if r == ".":
                return self.errorf("Floats must start with a digit, not '.'.")
            return self.errorf(f"Expected a digit but got '{_esc(r)}'.")
        return then

    def lex_number_start(self) -> Optional[_State]:
        return self._first_digit(self.lex_number)

    def lex_neg_number_start(self) -> Optional[_State]:
        return self._first_digit(self.lex_neg_number)

    def _more_number(self, r: str, here: _State) -> Optional[_State]:
        # What a digit, '.' or size suffix continues into; None for other runes.
        if _is_digit(r):
            return here
        if r == ".":
            return self.lex_float_start
        if _is_num_suffix(r):
            return self.lex_convenient_number
        return None

    def _as_string(self) -> _State:
        # Digits followed by other text: the whole value is a bare string.
        self.string_state = self.lex_string
        return self.lex_string

    def lex_number(self) -> Optional[_State]:
        # Integer, float, date, IP address, or a bare string starting with digits.
        r = self.next()
        if r == "-":
            if self.pos - self.start != 5:
                return self.errorf("All ISO8601 dates must be in full Zulu form.")
            return self.lex_date_after_year
        more = self._more_number(r, self.lex_number)
        if more is not None:
            return more
        if not _ends_number(r):
            return self._as_string()
        return self._emit_before(ITEM_INTEGER)

    def lex_neg_number(self) -> Optional[_State]:
        r = self.next()
        more = self._more_number(r, self.lex_neg_number)
        if more is not None:
            return more
        return self._emit_before(ITEM_INTEGER)

    def lex_convenient_number(self) -> Optional[_State]:
        r = self.next()
        if r in ("b", "B", "i", "I"):
            return self.lex_convenient_number
        self.backup()
        if _ends_number(r):
            self.emit(ITEM_INTEGER)
            return self.pop()
        return self._as_string()

    def lex_date_after_year(self) -> Optional[_State]:
        for f in "00-00T00:00:00Z":
            r = self.next()
            if f == "0":
                if not _is_digit(r):
                    return self.errorf(
                        f"Expected digit in ISO8601 datetime, but found '{_esc(r)}' instead."
                    )
            elif f != r:
                return self.errorf(
                    f"Expected '{f}' in ISO8601 datetime, but found '{_esc(r)}' instead."
                )
        self.emit(ITEM_DATETIME)
        return self.pop()

    def lex_float_start(self) -> Optional[_State]:
        r = self.next()
        if not _is_digit(r):
            return self.errorf(f"Floats must have a digit after the '.', but got '{_esc(r)}' instead.")
        return self.lex_float

    def lex_float(self) -> Optional[_State]:
        r = self.next()
        if _is_digit(r):
            return self.lex_float
        if r == ".":
            return self.lex_ip_addr
        return self._emit_before(ITEM_FLOAT)

    def lex_ip_addr(self) -> Optional[_State]:
        r = self.next()
        if _is_digit(r) or r == "." or r == ":" or r == "-":
            return self.lex_ip_addr
        return self._emit_before(ITEM_STRING)

    # -- comments ---------------------------------------------------------------------

    def lex_comment_start(self) -> Optional[_State]:
        self.ignore()
        self.emit(ITEM_COMMENT_START)
        return self.lex_comment

    def lex_comment(self) -> Optional[_State]:
        r = self.peek()
        if _is_nl(r) or r == _EOF:
            self.emit(ITEM_TEXT)
            return self.pop()
        self.next()
        return self.lex_comment


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------

_SIZE_MULT = {
    "": 1,
    "k": 1000,
    "kb": 1024, "ki": 1024, "kib": 1024,
    "m": 1000**2,
    "mb": 1024**2, "mi": 1024**2, "mib": 1024**2,
    "g": 1000**3,
    "gb": 1024**3, "gi": 1024**3, "gib": 1024**3,
    "t": 1000**4,
    "tb": 1024**4, "ti": 1024**4, "tib": 1024**4,
    "p": 1000**5,
    "pb": 1024**5, "pi": 1024**5, "pib": 1024**5,
    "e": 1000**6,
    "eb": 1024**6, "ei": 1024**6, "eib": 1024**6,
}

_BCRYPT_PREFIX = "2a$"
_ENV_KEY = "pk"
_MAP_END_STRING = "}"
_NOTHING = object()  # an integer with an unknown suffix sets no value at all


class _Parser:
    def __init__(
        self, text: str, fp: str, pedantic: bool, env_refs: set[str], reading: tuple[str, ...] = ()
    ) -> None:
        self.mapping: dict[str, Any] = {}
        self.fp = fp
        # The files being read, outermost first (this one included): an include of one loops.
        self.reading = reading + ((fp,) if fp else ())
        self.dir = _go_dir(fp)
        self.pedantic = pedantic
        self.env_refs = env_refs
        self.ctxs: list[Any] = [self.mapping]
        self.keys: list[str] = []
        self.ikeys: list[_Item] = []
        self.items = _Lexer(text).run()

    @property
    def ctx(self) -> Any:
        return self.ctxs[-1]

    def parse(self) -> dict[str, Any]:
        prev: Optional[_Item] = None
        for it in self.items:
            if it.typ == ITEM_EOF:
                # A dangling key at EOF (a "}" is tolerated for JSON-like files).
                if prev is not None and prev.typ == ITEM_KEY and prev.val != _MAP_END_STRING:
                    raise ConfigError(
                        f"config is invalid ({self.fp}:{it.line}:{it.pos})",
                        filename=self.fp, line=it.line, column=it.pos,
                    )
                break
            prev = it
            self.process(it)
        return self.mapping

    def _set(self, it: _Item, v: Any) -> None:
        self.set_value(Token(v, it.line, it.pos, self.fp) if self.pedantic else v)

    def process(self, it: _Item) -> None:
        t = it.typ
        if t == ITEM_ERROR:
            raise ConfigError(
                f"Parse error on line {it.line}: '{it.val}'",
                filename=self.fp, line=it.line, column=it.pos,
            )
        if t == ITEM_KEY:
            self.keys.append(it.val)
            if self.pedantic:
                self.ikeys.append(it)
        elif t == ITEM_MAP_START:
            self.ctxs.append({})
        elif t == ITEM_MAP_END:
            self._set(it, self.ctxs.pop())
        elif t == ITEM_STRING:
            self._set(it, it.val)
        elif t == ITEM_INTEGER:
            v = _integer_value(it.val)
            if v is not _NOTHING:
                self._set(it, v)
        elif t == ITEM_FLOAT:
            f = float(it.val)
            if f in (float("inf"), float("-inf")):
                raise ConfigError(f"float '{it.val}' is out of the range")
            self._set(it, f)
        elif t == ITEM_BOOL:
            self._set(it, it.val.lower() in ("true", "yes", "on"))
        elif t == ITEM_DATETIME:
            try:
                dt = _dt.datetime.strptime(it.val, "%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                raise ConfigError(
                    f"expected Zulu formatted DateTime, but got '{it.val}'"
                ) from None
            self._set(it, dt.replace(tzinfo=_dt.timezone.utc))
        elif t == ITEM_ARRAY_START:
            self.ctxs.append([])
        elif t == ITEM_ARRAY_END:
            self._set(it, self.ctxs.pop())
        elif t == ITEM_VARIABLE:
            self._variable(it)
        elif t == ITEM_INCLUDE:
            self._include(it)
        # Comment items carry nothing.

    def _variable(self, it: _Item) -> None:
        try:
            found, value = self.lookup_variable(it.val)
        except ConfigError as e:
            raise ConfigError(
                f"variable reference for '{it.val}' on line {it.line} could not be parsed: {e}"
            ) from None
        if not found:
            raise ConfigError(
                f"variable reference for '{it.val}' on line {it.line} can not be found"
            )
        if self.pedantic:
            if isinstance(value, Token):
                # The key that defined the variable counts as used, so it is
                # not reported as an unknown field later.
                value.used_variable = True
                value = value.value
            self.set_value(Token(value, it.line, it.pos, self.fp))
        else:
            self.set_value(value)

    def _include(self, it: _Item) -> None:
        path = _go_join(self.dir, it.val)
        real = os.path.realpath(path)
        loop = [fp for fp in self.reading if os.path.realpath(fp) == real]
        if loop:
            # nats-server recurses until its stack overflows; name the loop instead.
            chain = " -> ".join(self.reading[self.reading.index(loop[0]):] + (path,))
            raise ConfigError(
                f"{self.fp}:{it.line}:{it.pos}: include loop: '{it.val}' is already being read ({chain})",
                filename=self.fp, line=it.line, column=it.pos,
            )
        try:
            text = _read_text(path)
        except OSError as e:
            raise ConfigError(
                f"error parsing include file '{it.val}', {_go_os_error('open', path, e)}"
            ) from None
        try:
            m = _Parser(text, path, self.pedantic, self.env_refs, self.reading).parse()
        except ConfigError as e:
            raise ConfigError(
                f"error parsing include file '{it.val}', {e}",
                filename=e.filename, line=e.line, column=e.column,
            ) from None
        for k, v in m.items():
            self.keys.append(k)
            if self.pedantic and isinstance(v, Token):
                self.ikeys.append(_Item(ITEM_KEY, k, v.line, v.pos))
            self.set_value(v)

    def lookup_variable(self, ref: str) -> tuple[bool, Any]:
        if ref.startswith(_BCRYPT_PREFIX):
            # bcrypt hashes ("$2a$...") may be written unquoted.
            return True, "$" + ref
        for ctx in reversed(self.ctxs):
            if isinstance(ctx, dict) and ref in ctx:
                return True, ctx[ref]
        if ref in self.env_refs:
            raise ConfigError(f"variable reference cycle for '{ref}'")
        self.env_refs.add(ref)
        try:
            env = os.environ.get(ref)
            if env is None:
                return False, None
            # Environment values are parsed like config values ("pk=<value>").
            vmap = _Parser(f"{_ENV_KEY}={env}", "", False, self.env_refs).parse()
            if _ENV_KEY in vmap:
                return True, vmap[_ENV_KEY]
            return False, None
        finally:
            self.env_refs.discard(ref)

    def set_value(self, val: Any) -> None:
        ctx = self.ctx
        if isinstance(ctx, list):
            ctx.append(val)
            return
        key = self.keys.pop()
        if self.pedantic:
            # Report positions at the key, like nats-server.
            if isinstance(val, Token):
                ik = self.ikeys.pop()
                val.line = ik.line
                val.pos = ik.pos
                ctx[key] = val
        else:
            ctx[key] = val


def _integer_value(text: str) -> Any:
    n = 0
    for ch in text:
        if not (_is_digit(ch) or ch == "-"):
            break
        n += 1
    num_str = text[:n]
    try:
        if not re.fullmatch(r"[+-]?[0-9]+", num_str):
            raise ValueError
        num = int(num_str)
    except ValueError:
        raise ConfigError(f"expected integer, but got '{text}'") from None
    if not INT64_MIN <= num <= INT64_MAX:
        raise ConfigError(f"integer '{text}' is out of the range")
    mult = _SIZE_MULT.get(text[n:].strip().lower())
    if mult is None:
        return _NOTHING
    return _wrap_int64(num * mult)


# ---------------------------------------------------------------------------
# Public parse API
# ---------------------------------------------------------------------------


def parse_config_tokens(text: str, filename: str = "") -> dict[str, Any]:
    """Parse config text into a tree of :class:`Token` (pedantic mode).

    Includes resolve relative to ``filename``'s directory (the current
    directory when ``filename`` is empty).
    """
    return _Parser(text, filename, True, set()).parse()


def parse_config_file_tokens(path: str) -> dict[str, Any]:
    try:
        text = _read_text(path)
    except OSError as e:
        raise ConfigError(_go_os_error("open", path, e), filename=path) from None
    return parse_config_tokens(text, path)


def parse_config_string(text: str, filename: str = "") -> dict[str, Any]:
    """Parse config text into plain Python values.

    Types: ``str``, ``int`` (sizes already multiplied), ``float``, ``bool``,
    ``datetime`` (UTC), ``list``, ``dict``.  Durations stay strings; see
    :func:`parse_duration`.
    """
    return strip_tokens(parse_config_tokens(text, filename))


def parse_config_file(path: str) -> dict[str, Any]:
    return strip_tokens(parse_config_file_tokens(path))


def parse_size(value: "int | str") -> int:
    """A size as nats-server's config lexer reads it: ``1MB``=1048576, ``1M``=10**6.

    Suffixes: k/m/g/t/p/e are powers of 1000; kb/ki/kib (etc.) powers of
    1024, case-insensitive.  Integers pass through.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}")
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(-?[0-9]+)\s*([A-Za-z]*)\s*", value)
    if not m or m.group(2).lower() not in _SIZE_MULT:
        raise ValueError(f"invalid size {value!r}")
    return _wrap_int64(int(m.group(1)) * _SIZE_MULT[m.group(2).lower()])


# -- Go time.ParseDuration ----------------------------------------------------

_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # U+00B5 micro sign
    "\u03bcs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_MAXU = 1 << 63


def _time_quote(s: str) -> str:
    """The time package's own quoting: non-ASCII and control bytes as \\xHH."""
    out = ['"']
    for ch in s:
        if ord(ch) >= 0x80 or ch < " ":
            out.extend("\\x%02x" % b for b in ch.encode("utf-8", "surrogateescape"))
        else:
            if ch in '"\\':
                out.append("\\")
            out.append(ch)
    out.append('"')
    return "".join(out)


def parse_duration_ns(s: str) -> int:
    """Go's time.ParseDuration, returning integer nanoseconds.

    Raises ValueError with Go's message, e.g. ``time: invalid duration "x"``.
    """
    orig = s
    invalid = ValueError("time: invalid duration " + _time_quote(orig))
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise invalid
    d = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        # Integer part.
        i = 0
        v = 0
        while i < len(s) and "0" <= s[i] <= "9":
            if v > _MAXU // 10:
                raise invalid
            v = v * 10 + (ord(s[i]) - 48)
            if v > _MAXU:
                raise invalid
            i += 1
        pre = i > 0
        s = s[i:]
        # Fraction part.
        f, scale, post = 0, 1.0, False
        if s and s[0] == ".":
            s = s[1:]
            i = 0
            overflow = False
            while i < len(s) and "0" <= s[i] <= "9":
                if not overflow:
                    if f > (_MAXU - 1) // 10:
                        overflow = True
                    else:
                        y = f * 10 + (ord(s[i]) - 48)
                        if y > _MAXU:
                            overflow = True
                        else:
                            f = y
                            scale *= 10
                i += 1
            post = i > 0
            s = s[i:]
        if not pre and not post:
            raise invalid
        # Unit.
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise ValueError("time: missing unit in duration " + _time_quote(orig))
        u, s = s[:i], s[i:]
        unit = _UNIT_NS.get(u)
        if unit is None:
            raise ValueError(
                "time: unknown unit " + _time_quote(u) + " in duration " + _time_quote(orig)
            )
        if v > _MAXU // unit:
            raise invalid
        v *= unit
        if f > 0:
            v += int(float(f) * (float(unit) / scale))
            if v > _MAXU:
                raise invalid
        d += v
        if d > _MAXU:
            raise invalid
    if neg:
        return -d
    if d > _MAXU - 1:
        raise invalid
    return d


def parse_duration(s: str) -> float:
    """Go's time.ParseDuration ("1h30m", "250ms", "1.5s"), in float seconds."""
    return parse_duration_ns(s) / 1e9
