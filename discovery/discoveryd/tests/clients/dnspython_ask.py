"""Asks a DNS server questions with dnspython and prints one JSON line per answer.

Usage: dnspython_ask.py PORT NAME:TYPE...  Each question is asked over UDP with EDNS, over UDP
without it, and over TCP; each line holds the transport, the response code, the flags and the
answer section's records as text (owner TTL class type data), sorted.
"""
import json
import sys

import dns.flags
import dns.message
import dns.query
import dns.rcode

SERVER = "127.0.0.1"
TIMEOUT_S = 3


def ask(port, name, rdtype, transport):
    if transport == "udp-noedns":
        query = dns.message.make_query(name, rdtype, use_edns=False)
    else:
        query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    if transport == "tcp":
        reply = dns.query.tcp(query, SERVER, port=port, timeout=TIMEOUT_S)
    else:
        reply = dns.query.udp(query, SERVER, port=port, timeout=TIMEOUT_S)
    records = sorted(
        line for rrset in reply.answer for line in rrset.to_text().splitlines())
    return {
        "name": name,
        "type": rdtype,
        "transport": transport,
        "rcode": dns.rcode.to_text(reply.rcode()),
        "aa": bool(reply.flags & dns.flags.AA),
        "edns": reply.edns,
        "answer": records,
    }


def main():
    port = int(sys.argv[1])
    for question in sys.argv[2:]:
        name, rdtype = question.rsplit(":", 1)
        for transport in ("udp", "udp-noedns", "tcp"):
            print(json.dumps(ask(port, name, rdtype, transport)), flush=True)


if __name__ == "__main__":
    main()
