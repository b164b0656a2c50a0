#!/usr/bin/env python3
"""tests/integration/rawpg.py - a tiny PostgreSQL v3 client over a raw socket.

Standard library only, so it runs under any python3.  It exists for what libpq
hides: the SQLSTATE of a failed login, the answer to an SSLRequest, and how a
server reacts to malformed packets.  Each subcommand prints one line:

    OK ...                            the exchange went as a healthy server would
    E <sqlstate> <severity>: <text>   the peer sent an ErrorResponse
    CLOSED                            the peer closed without a word
    TIMEOUT                           the peer said nothing for --timeout seconds
    OTHER <details>                   anything else

Subcommands (all take --host, --port, --timeout):
    auth --user U --password P [--db D]      startup + authentication + SELECT 1
    ssl [--user U --password P]              SSLRequest; then, if 'N', log in
                                             on the same socket
    badstartup --len N                       a startup packet whose length is N
    badmsg --user U --password P --len N     log in, then a 'Q' message of length N
    cancel                                   a CancelRequest with a random key;
                                             prints CLOSED if the peer just hangs up

Exit status: 0 when the line starts with OK, 1 otherwise, 2 on usage errors.
"""

import argparse
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys

PROTOCOL_3_0 = 196608
SSL_REQUEST_CODE = 80877103
CANCEL_REQUEST_CODE = 80877102


class Closed(Exception):
    pass


class PeerError(Exception):
    def __init__(self, fields):
        super().__init__(fields.get("M", ""))
        self.fields = fields

    def line(self):
        f = self.fields
        return "E %s %s: %s" % (f.get("C", "?????"), f.get("S", "?"), f.get("M", ""))


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise Closed()
        buf += chunk
    return buf


def read_msg(sock):
    """One backend message as (type byte, payload)."""
    head = recv_exact(sock, 5)
    mtype = head[0:1]
    (length,) = struct.unpack("!i", head[1:5])
    if length < 4 or length > 64 * 1024 * 1024:
        raise ValueError("backend message %r with length %d" % (mtype, length))
    return mtype, recv_exact(sock, length - 4)


def parse_error(payload):
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


def msg(mtype, payload):
    return mtype + struct.pack("!i", len(payload) + 4) + payload


def startup_packet(user, db):
    body = struct.pack("!i", PROTOCOL_3_0)
    for k, v in (("user", user), ("database", db), ("application_name", "rawpg")):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def expect_auth(sock):
    """The next message, which must be an Authentication request."""
    mtype, payload = read_msg(sock)
    if mtype == b"E":
        raise PeerError(parse_error(payload))
    if mtype != b"R":
        raise ValueError("expected Authentication, got %r" % mtype)
    (code,) = struct.unpack("!i", payload[:4])
    return code, payload[4:]


def scram_login(sock, password, mechanisms, seen=None, after=b""):
    if b"SCRAM-SHA-256" not in mechanisms.split(b"\0"):
        raise ValueError("server offers no SCRAM-SHA-256: %r" % mechanisms)
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=,r=" + nonce
    first = ("n,," + first_bare).encode()
    sock.sendall(msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))

    code, data = expect_auth(sock)
    if code != 11:
        raise ValueError("expected SASLContinue, got auth code %d" % code)
    server_first = data.decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    if not attrs["r"].startswith(nonce):
        raise ValueError("server nonce does not extend ours")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    final_bare = "c=biws,r=" + attrs["r"]
    auth_message = ",".join((first_bare, server_first, final_bare)).encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    final = final_bare + ",p=" + base64.b64encode(proof).decode()
    sock.sendall(msg(b"p", final.encode()) + after)

    code, data = expect_auth(sock)
    if code != 12:
        raise ValueError("expected SASLFinal, got auth code %d" % code)
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    want = "v=" + base64.b64encode(hmac.new(server_key, auth_message,
                                            hashlib.sha256).digest()).decode()
    if data.decode() != want:
        raise ValueError("wrong server signature in SASLFinal")
    if seen is not None:
        # what went over the wire, for tests that check none of it is logged
        seen["client_proof"] = base64.b64encode(proof).decode()
        seen["server_signature"] = want[2:]
    code, _ = expect_auth(sock)
    if code != 0:
        raise ValueError("expected AuthenticationOk, got auth code %d" % code)


def login(sock, user, password, db, send_startup=True, seen=None, after=b""):
    """Startup and authentication; returns after the first ReadyForQuery.  seen, a dict,
    gets what the exchange sent (md5_response, client_proof, server_signature).  after:
    bytes sent in the same write as the last authentication message (password, md5 or
    SASLResponse; with trust, send them with the startup packet yourself)."""
    if send_startup:
        sock.sendall(startup_packet(user, db))
    code, data = expect_auth(sock)
    if code == 3:
        sock.sendall(msg(b"p", password.encode() + b"\0") + after)
        code, data = expect_auth(sock)
    elif code == 5:
        inner = hashlib.md5((password + user).encode()).hexdigest()
        outer = hashlib.md5(inner.encode() + data[:4]).hexdigest()
        if seen is not None:
            seen["md5_response"] = "md5" + outer
        sock.sendall(msg(b"p", b"md5" + outer.encode() + b"\0") + after)
        code, data = expect_auth(sock)
    elif code == 10:
        scram_login(sock, password, data, seen, after)
        code = 0
    if code != 0:
        raise ValueError("unsupported authentication request %d" % code)
    while True:
        mtype, payload = read_msg(sock)
        if mtype == b"E":
            raise PeerError(parse_error(payload))
        if mtype == b"Z":
            return


def simple_query(sock, sql):
    """Run sql; returns the first column of the first row as text."""
    sock.sendall(msg(b"Q", sql.encode() + b"\0"))
    value, error = None, None
    while True:
        mtype, payload = read_msg(sock)
        if mtype == b"D" and value is None:
            (n,) = struct.unpack("!h", payload[:2])
            if n > 0:
                (vlen,) = struct.unpack("!i", payload[2:6])
                value = payload[6:6 + vlen].decode() if vlen >= 0 else None
        elif mtype == b"E":
            error = PeerError(parse_error(payload))
        elif mtype == b"Z":
            if error:
                raise error
            return value


def next_error(sock, secs):
    """Read messages for up to SECS until an ErrorResponse (for the tests that
    import this file); returns (its fields, the types of the messages before it).
    Raises Closed if the peer hangs up first, socket.timeout if it goes silent."""
    sock.settimeout(secs)
    seen = []
    while True:
        mtype, payload = read_msg(sock)
        if mtype == b"E":
            return parse_error(payload), seen
        seen.append(mtype)


def closed_after(sock, secs=10):
    """Whether the peer closes the connection within SECS, sending nothing more."""
    sock.settimeout(secs)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def connect(args):
    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    sock.settimeout(args.timeout)
    return sock


def reaction(sock):
    """What the peer does after we sent something it should refuse."""
    try:
        mtype, payload = read_msg(sock)
    except Closed:
        return "CLOSED"
    except ConnectionResetError:
        return "CLOSED"
    except socket.timeout:
        return "TIMEOUT"
    except ValueError as e:
        return "OTHER %s" % e
    if mtype == b"E":
        line = PeerError(parse_error(payload)).line()
        # after an ErrorResponse the peer must hang up
        try:
            rest = sock.recv(1)
            return line if rest == b"" else line + " (but the connection stayed open)"
        except ConnectionResetError:
            return line
        except socket.timeout:
            return line + " (but the connection stayed open)"
    return "OTHER message %r" % mtype


def cmd_auth(args):
    with connect(args) as sock:
        login(sock, args.user, args.password, args.db)
        v = simple_query(sock, "SELECT 1")
        sock.sendall(msg(b"X", b""))
        return "OK SELECT 1 -> %s" % v


def cmd_ssl(args):
    with connect(args) as sock:
        sock.sendall(struct.pack("!ii", 8, SSL_REQUEST_CODE))
        answer = recv_exact(sock, 1)
        if answer != b"N":
            return "OTHER answer %r" % answer
        if not args.user:
            return "OK N"
        login(sock, args.user, args.password, args.db)
        v = simple_query(sock, "SELECT 1")
        sock.sendall(msg(b"X", b""))
        return "OK N, then SELECT 1 -> %s" % v


def cmd_badstartup(args):
    with connect(args) as sock:
        packet = struct.pack("!i", args.len)
        # some bytes after the length, as a confused client would send
        packet += struct.pack("!i", PROTOCOL_3_0) + b"user\0app\0\0"
        sock.sendall(packet)
        return reaction(sock)


def cmd_badmsg(args):
    with connect(args) as sock:
        login(sock, args.user, args.password, args.db)
        sock.sendall(b"Q" + struct.pack("!i", args.len) + b"SELECT 1\0")
        return reaction(sock)


def cmd_cancel(args):
    with connect(args) as sock:
        sock.sendall(struct.pack("!iiii", 16, CANCEL_REQUEST_CODE,
                                 int.from_bytes(os.urandom(3), "big"),
                                 int.from_bytes(os.urandom(4), "big", signed=True)))
        return reaction(sock)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["auth", "ssl", "badstartup", "badmsg", "cancel"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="")
    p.add_argument("--password", default="")
    p.add_argument("--db", default="appdb")
    p.add_argument("--len", type=int, default=0)
    p.add_argument("--timeout", type=float, default=5.0)
    args = p.parse_args()
    handlers = {"auth": cmd_auth, "ssl": cmd_ssl, "badstartup": cmd_badstartup,
                "badmsg": cmd_badmsg, "cancel": cmd_cancel}
    try:
        line = handlers[args.command](args)
    except PeerError as e:
        line = e.line()
    except Closed:
        line = "CLOSED"
    except socket.timeout:
        line = "TIMEOUT"
    except (OSError, ValueError, KeyError) as e:
        line = "OTHER %s: %s" % (type(e).__name__, e)
    print(line)
    return 0 if line.startswith("OK") else 1


if __name__ == "__main__":
    sys.exit(main())
