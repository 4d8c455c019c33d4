"""CLIENT TRACKING, TRACKINGINFO, CACHING, GETREDIR (client-side caching)."""

from __future__ import annotations

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.registry import command
from respdb.errors import CommandError, err
from respdb.protocol.types import OK, Map, Set
from respdb.server.client import Client
from respdb.server.tracking import TrackingState, tracking_state


@command("client|tracking")
def client_tracking(ctx: Client, mode: bytes, *opts: bytes) -> object:
    on = mode.lower()
    if on not in (b"on", b"off"):
        raise CommandError(errors.SYNTAX)
    state = TrackingState()
    i = 0
    while i < len(opts):
        opt = opts[i].lower()
        if opt == b"redirect" and i + 1 < len(opts):
            if state.redirect:
                raise err("A client can only redirect to a single other client")
            state.redirect = to_int(opts[i + 1])
            i += 2
        elif opt == b"prefix" and i + 1 < len(opts):
            state.prefixes.append(opts[i + 1])
            i += 2
        elif opt == b"bcast":
            state.bcast = True
            i += 1
        elif opt == b"optin":
            state.optin = True
            i += 1
        elif opt == b"optout":
            state.optout = True
            i += 1
        elif opt == b"noloop":
            state.noloop = True
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
    tracker = ctx.server.tracker
    if on == b"off":
        tracker.disable(ctx)
        return OK
    if state.prefixes and not state.bcast:
        raise err("PREFIX option requires BCAST mode to be enabled")
    current = tracking_state(ctx)
    if current is not None and current.bcast != state.bcast:
        raise err("You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
    if state.optin and state.optout:
        raise err("You can't specify both OPTIN mode and OPTOUT mode")
    if (state.optin or state.optout) and state.bcast:
        raise err("OPTIN and OPTOUT are not compatible with BCAST")
    if current is not None and (current.optin != state.optin or current.optout != state.optout) and (current.optin or current.optout):
        raise err("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
    if state.redirect:
        if state.redirect == ctx.id:
            raise err("A client cannot redirect to itself")
        if state.redirect not in ctx.server.clients:
            raise err("The client ID you want redirect to does not exist")
    for i, p in enumerate(state.prefixes):
        for q in current.prefixes if current else []:
            if p != q and (p.startswith(q) or q.startswith(p)):
                raise err(f"Prefix '{_s(p)}' overlaps with an existing prefix '{_s(q)}'. Prefixes for a single client must not overlap.")
        for q in state.prefixes[i + 1 :]:
            if p.startswith(q) or q.startswith(p):
                raise err(f"Prefix '{_s(p)}' overlaps with another provided prefix '{_s(q)}'. Prefixes for a single client must not overlap.")
    if current is not None and current.bcast:
        state.prefixes = current.prefixes + [p for p in state.prefixes if p not in current.prefixes]
    tracker.enable(ctx, state)
    return OK


def _s(b: bytes) -> str:
    return b.decode("utf-8", "replace")


@command("client|caching")
def client_caching(ctx: Client, flag: bytes) -> object:
    state = tracking_state(ctx)
    if state is None:
        raise err("CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
    low = flag.lower()
    if low == b"yes":
        if not state.optin:
            raise err("CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
        state.caching = True
    elif low == b"no":
        if not state.optout:
            raise err("CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
        state.caching = False
    else:
        raise CommandError(errors.SYNTAX)
    return OK


@command("client|getredir")
def client_getredir(ctx: Client) -> int:
    state = tracking_state(ctx)
    return -1 if state is None else state.redirect


@command("client|trackinginfo")
def client_trackinginfo(ctx: Client) -> Map:
    state = tracking_state(ctx)
    if state is None:
        return Map([b"flags", Set([b"off"]), b"redirect", -1, b"prefixes", []])
    flags = [b"on"]
    if state.bcast:
        flags.append(b"bcast")
    if state.optin:
        flags.append(b"optin")
        if state.caching is True:
            flags.append(b"caching-yes")
    if state.optout:
        flags.append(b"optout")
        if state.caching is False:
            flags.append(b"caching-no")
    if state.noloop:
        flags.append(b"noloop")
    if state.broken_redirect:
        flags.append(b"broken_redirect")
    return Map([b"flags", Set(flags), b"redirect", state.redirect, b"prefixes", list(state.prefixes)])
