"""A DNS server on loopback (dnslib) answering TXT queries from a dict the test fills, for dnspython to ask."""

from __future__ import annotations

import threading

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class RecordBook(BaseResolver):
    """host -> list of TXT values; an unknown host answers NXDOMAIN, as a real zone would."""

    def __init__(self):
        self.txt: dict[str, list[str]] = {}

    def resolve(self, request, handler):
        reply = request.reply()
        host = str(request.q.qname).rstrip(".").lower()
        if host not in self.txt:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if request.q.qtype == QTYPE.TXT:
            for value in self.txt[host]:
                # Long values go out in 255-byte strings, as DNS providers publish them.
                chunks = [value[i:i + 255].encode() for i in range(0, len(value), 255)] or [b""]
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        return reply


def serve() -> tuple[RecordBook, DNSServer, int]:
    book = RecordBook()
    server = DNSServer(book, address="127.0.0.1", port=0, logger=DNSLogger(logf=lambda _line: None))
    # As DNSServer.start_thread(), with a short poll: stop() waits for the loop to look, once per test.
    server.thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05},
                                     daemon=True)
    server.thread.start()
    return book, server, server.server.server_address[1]
