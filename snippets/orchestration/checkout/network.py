"""Direct calls with replies, on asyncio, and a way to lose a reply.

Each service serves its own inbox. A caller puts a request in the
callee's inbox with a fresh future, then waits for that future up to a
deadline. The callee handles the request and resolves the future with
its reply. When the deadline passes first, the caller gets `NoReply`
and has to decide what that means: it cannot know whether the callee
did the work.

`lose_next_reply` makes the network drop the next reply of a kind, on
purpose: the callee has done its work, and the caller never hears of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from checkout.messages import Message
from checkout.tracing import trace

Log = Callable[[str], None]


@dataclass(frozen=True)
class Answer:
    """A handler's reply, and a few words on what it did."""

    reply: Message
    note: str = ""


Handler = Callable[[Message], Awaitable[Answer]]
Reply = asyncio.Future[Message]
Inbox = asyncio.Queue[tuple[Message, Reply]]


class NoReply(Exception):
    """The callee did not answer before the deadline."""

    def __init__(self, request: Message, deadline: float) -> None:
        super().__init__(f"no reply to {request.name}")
        self.request = request
        self.timeout_id = f"{request.message_id}/timeout"


def line(
    left: str, arrow: str, right: str, name: str, note: str
) -> str:
    """One line of the log: the caller on the left, always."""
    return f"{left:<12} {arrow} {right:<12} {name:<16} {note}".rstrip()


@dataclass
class Network:
    log: Log = print
    inboxes: dict[str, Inbox] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)  # reply names
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def lose_next_reply(self, name: str) -> None:
        """Drop the next reply called `name` on its way back."""
        self.lost.add(name)

    def serve(self, name: str, handler: Handler) -> None:
        """Start answering the requests addressed to `name`."""
        inbox: Inbox = asyncio.Queue()
        self.inboxes[name] = inbox
        self.tasks.append(
            asyncio.create_task(self._answer(inbox, handler))
        )

    # --8<-- [start:call]
    async def call(
        self, request: Message, deadline: float, note: str = ""
    ) -> Message:
        """Send `request` to its receiver and wait for the reply, at
        most `deadline` seconds."""
        reply: Reply = asyncio.get_running_loop().create_future()
        trace("call", request)
        self.log(line(request.sender, "->", request.receiver,
                      request.name, note))
        await self.inboxes[request.receiver].put((request, reply))
        try:
            return await asyncio.wait_for(reply, deadline)
        except asyncio.TimeoutError:
            lost = NoReply(request, deadline)
            trace("timeout", request, lost.timeout_id)
            self.log(line(request.sender, "--", request.receiver,
                          request.name, f"gave up after {deadline} s"))
            raise lost from None
        # --8<-- [end:call]

    # --8<-- [start:answer]
    async def _answer(self, inbox: Inbox, handler: Handler) -> None:
        """Serve one inbox: handle each request, send back its reply,
        unless the network loses it or the caller stopped waiting."""
        while True:
            request, reply = await inbox.get()
            answer = await handler(request)
            message, note = answer.reply, answer.note
            if message.name in self.lost:  # on purpose, once
                self.lost.discard(message.name)
                self.log(line(message.receiver, "<x", message.sender,
                              message.name, f"lost: {note}"))
                continue
            if reply.done():  # too late: the caller gave up
                continue
            trace("reply", message)
            self.log(line(message.receiver, "<-", message.sender,
                          message.name, note))
            reply.set_result(message)
        # --8<-- [end:answer]

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
