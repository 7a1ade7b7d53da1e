"""CONNECT against servers that require credentials: exact bytes, each server (rawcases.AUTH_CASES).

The CONNECT cases without auth are in rawcases.ALL_CASES (test_protocol_raw, test_differential).
Here the bystander of those tests cannot connect without credentials, so the transcripts run alone.
"""

from __future__ import annotations

import pytest

from rawcases import AUTH_CASES
from test_protocol_raw import check, run_case


@pytest.mark.parametrize("case", AUTH_CASES, ids=lambda c: c.id)
def test_auth_transcript(server_kind, server_pool, case):
    check(run_case(server_pool.get(server_kind, case.config), case), case)
