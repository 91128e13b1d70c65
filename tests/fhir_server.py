"""A small real FHIR server on loopback for the export tests: transaction Bundles with
conditional create (`ifNoneExist`), as HAPI or the regional platforms answer them.

It keeps resources in memory, answers each entry `201 Created` or, when a resource with the
`ifNoneExist` identifier is already there, `200 OK` without creating anything (FHIR RESTful
API, "conditional create"). A whole transaction is refused (400, nothing kept) when an entry
is not a POST, and the server can be told to fail the next requests with a status.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FhirStore:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.resources: dict[str, dict[str, Any]] = {}  # "Type/id" -> resource
        self.requests = 0
        self.fail_with: int | None = None

    def find(self, kind: str, query: str) -> str | None:
        params = urllib.parse.parse_qs(query)
        wanted = params.get("identifier", [""])[0]
        system, _bar, value = wanted.partition("|")
        for key, resource in self.resources.items():
            if not key.startswith(kind + "/"):
                continue
            for identifier in resource.get("identifier", []):
                if identifier.get("system") == system and identifier.get("value") == value:
                    return key
        return None

    def transaction(self, bundle: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
            return 400, _outcome("not a transaction Bundle")
        with self.lock:
            created: dict[str, dict[str, Any]] = {}
            answers = []
            for entry in bundle.get("entry", []):
                request = entry.get("request", {})
                resource = entry.get("resource", {})
                kind = request.get("url")
                if request.get("method") != "POST" or kind != resource.get("resourceType"):
                    return 400, _outcome("only POST of the entry's resource type is supported")
                existing = self.find(kind, request.get("ifNoneExist", "")) if request.get(
                    "ifNoneExist") else None
                if existing is None:
                    pending = [k for k, r in created.items() if k.startswith(kind + "/")
                               and r.get("identifier") == resource.get("identifier")]
                    existing = pending[0] if pending else None
                if existing is not None:
                    answers.append({"response": {"status": "200 OK", "location": existing}})
                    continue
                key = f"{kind}/{uuid.uuid4()}"
                created[key] = {**resource, "id": key.split("/", 1)[1]}
                answers.append({"response": {"status": "201 Created", "location": key}})
            self.resources.update(created)  # all or nothing: a transaction
        return 200, {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}


def _outcome(text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "invalid", "diagnostics": text}]}


def _handler(store: FhirStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            store.requests += 1
            if store.fail_with is not None:
                self._send(store.fail_with, _outcome("the server is having a bad day"))
                return
            if self.path.rstrip("/") not in ("", "/fhir"):
                self._send(404, _outcome(f"no such endpoint {self.path}"))
                return
            try:
                bundle = json.loads(body)
            except ValueError:
                self._send(400, _outcome("not JSON"))
                return
            self._send(*store.transaction(bundle))

        def do_GET(self) -> None:
            path, _q, query = self.path.partition("?")
            kind = path.rstrip("/").rsplit("/", 1)[-1]
            key = store.find(kind, query)
            entries = [{"resource": store.resources[key]}] if key else []
            self._send(200, {"resourceType": "Bundle", "type": "searchset",
                             "total": len(entries), "entry": entries})

    return Handler


@contextmanager
def fhir_server() -> Iterator[tuple[str, FhirStore]]:
    """A running server on 127.0.0.1 (a free port); yields its base URL and its store."""
    store = FhirStore()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(store))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir", store
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
