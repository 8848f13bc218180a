"""Helpers to hand-write landing records for the ingest tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def good_posting(posting_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "posting_id": posting_id,
        "title": "Senior Software Engineer",
        "description": f"<p>Build services for {posting_id}.</p><p>Python &amp; Spark</p>",
        "company": "Acme",
        "location": "Berlin",
        "country": "DE",
        "language": "en",
        "posted_at": "2026-11-01T09:00:00Z",
        "source": "board",
        "url": f"https://example.org/{posting_id}",
        "labels": ["category:software_engineering", "seniority:senior", "skill:python"],
        **fields,
    }


def jsonl_line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def write_jsonl(folder: Path, name: str, records: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"".join(jsonl_line(r) + b"\n" for r in records))
    return path
