"""In-memory responses, conversations and containers of the fake Responses API, on the fake clock.

Containers follow OpenAI's rules: a container expires after ``expires_after.minutes`` (default 20)
without use and cannot be revived; using it (a code or shell call, a file operation) moves its
``last_active_at``. Reading a container (retrieve, list) does not count as use here.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .clock import FakeClock
from .state import BadRequest, Obj, Table, new_id

DEFAULT_CONTAINER_MINUTES = 20
MEMORY_LIMITS = ("1g", "4g", "16g", "64g")


class ResponsesWorld:
    """Objects of the Responses API; guard every access with the shared ``World.lock``."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.responses = Table("response")
        self.conversations = Table("conversation")
        self.items: Dict[str, List[Obj]] = {}  # conversation id -> its items, oldest first
        self.containers = Table("container")
        self.container_files = Table("container file")
        self.file_bytes: Dict[str, bytes] = {}

    # -- conversations ------------------------------------------------------------------------
    def new_conversation(self, metadata: Optional[Dict[str, Any]] = None) -> Obj:
        conversation = {
            "id": new_id("conv"),
            "object": "conversation",
            "created_at": self.clock.now(),
            "metadata": metadata or {},
        }
        self.items[conversation["id"]] = []
        return self.conversations.add(conversation)

    def conversation_items(self, conversation_id: str) -> List[Obj]:
        self.conversations.get(conversation_id)
        return self.items[conversation_id]

    # -- containers ---------------------------------------------------------------------------
    def new_container(
        self, name: str, memory_limit: Optional[str] = None, minutes: Optional[int] = None
    ) -> Obj:
        limit = memory_limit or "1g"
        if limit not in MEMORY_LIMITS:
            raise BadRequest(f"Invalid 'memory_limit': {limit!r}.", "memory_limit")
        now = self.clock.now()
        container = {
            "id": new_id("cntr"),
            "object": "container",
            "created_at": now,
            "name": name,
            "status": "running",
            "expires_after": {"anchor": "last_active_at", "minutes": minutes or DEFAULT_CONTAINER_MINUTES},
            "last_active_at": now,
            "memory_limit": limit,
        }
        return self.containers.add(container)

    def container(self, container_id: str) -> Obj:
        """The container, marked ``expired`` once the clock has passed its idle deadline."""
        container = self.containers.get(container_id)
        if container["status"] == "running":
            idle_s = container["expires_after"]["minutes"] * 60
            if self.clock.now() - container["last_active_at"] >= idle_s:
                container["status"] = "expired"
        return container

    def use_container(self, container_id: str) -> Obj:
        """Refresh ``last_active_at``; an expired container is refused as the real API does."""
        container = self.container(container_id)
        if container["status"] != "running":
            raise BadRequest(f"Container {container_id} is expired.", "container")
        container["last_active_at"] = self.clock.now()
        return container

    def add_file(self, container_id: str, path: str, data: bytes, source: str) -> Obj:
        self.use_container(container_id)
        record = {
            "id": new_id("cfile"),
            "object": "container.file",
            "bytes": len(data),
            "container_id": container_id,
            "created_at": self.clock.now(),
            "path": path,
            "source": source,
        }
        self.file_bytes[record["id"]] = data
        return self.container_files.add(record)

    def container_file(self, container_id: str, file_id: str) -> Obj:
        self.container(container_id)
        record = self.container_files.get(file_id)
        if record["container_id"] != container_id:
            raise BadRequest(f"File {file_id} is not in container {container_id}.", "file_id")
        return record
