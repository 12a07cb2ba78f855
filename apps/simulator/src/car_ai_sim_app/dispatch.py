"""Client messages: the rate limit, the checks of ``protocol``, then controls, commands, model
reports and pings. Only a message that passes every check counts as a sign of life for the
idle timeout, so a client cannot hold a slot with messages the server refuses."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from car_ai_sim_app import missions, protocol
from car_ai_sim_app.parser import ParseError, parse
from car_ai_sim_app.session import Session

if TYPE_CHECKING:
    from car_ai_sim_app.hub import Hub


class Dispatcher:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.limits = hub.limits
        self.counters = hub.book.counters

    def on_message(self, s: Session, text: str | None, data: bytes | None) -> None:
        if not s.bucket.take():
            self.counters.bump(s.slot, "rate_limited")
            self.error(s, "rate_limited", "too many messages; this one was dropped", 1.0)
            return
        try:
            msg = protocol.decode(text, data, self.limits)
            kind = msg["type"]
            if kind == "controls":
                self.on_controls(s, msg)
            elif kind == "command":
                self.on_command(s, protocol.parse_command(msg, self.limits))
            elif kind == "model":
                self.on_model(s, protocol.parse_model_report(msg))
            else:
                s.outbox.put(protocol.dumps({"type": "pong", "tick": self.hub.tick}))
        except protocol.ProtocolError as exc:
            if exc.code == "non_finite_controls":
                self.counters.bump(s.slot, "rejected_controls")
            else:
                self.counters.bump(s.slot, "malformed")
            self.error(s, exc.code, exc.message)
            return
        s.last_seen = time.monotonic()

    def error(self, s: Session, code: str, message: str, min_gap_s: float = 0.0) -> None:
        now = time.monotonic()
        if min_gap_s and now - s.last_error_at < min_gap_s:
            return
        s.last_error_at = now
        s.outbox.put(protocol.error(code, message))

    def on_controls(self, s: Session, msg: dict[str, Any]) -> None:
        controls = protocol.parse_controls(msg)
        if controls.clamped:
            self.counters.bump(s.slot, "clamped_controls")
        tick = self.hub.tick
        if controls.tick == tick and s.ready:
            s.answer = controls
        elif controls.tick < tick:
            self.counters.bump(s.slot, "stale_answers")
        else:
            raise protocol.ProtocolError(
                "bad_controls", f"tick {controls.tick} has not been sent yet (now {tick})"
            )

    def reply(self, s: Session, ok: bool, command: str, reply: str, **extra: Any) -> None:
        s.outbox.put(
            protocol.dumps(
                {"type": "command_result", "ok": ok, "text": command, "reply": reply, **extra}
            )
        )

    def refuse(self, s: Session, msg: protocol.CommandMessage, reply: str, code: str) -> None:
        self.counters.bump(s.slot, "commands_refused")
        self.reply(s, False, msg.text, reply, source=msg.source, code=code)

    def on_command(self, s: Session, msg: protocol.CommandMessage) -> None:
        hub, book, lim = self.hub, self.hub.book, self.limits
        self.counters.bump(s.slot, "commands")
        if not s.command_bucket.take():
            every = 1.0 / lim.commands_per_s
            self.refuse(
                s,
                msg,
                f"Too many commands: at most {lim.command_burst} in a row, then one every "
                f"{every:g} s. Say it again in a moment.",
                "command_limit",
            )
            return
        if book.rows_left(s) <= 0:
            self.refuse(
                s,
                msg,
                f"This session has logged {lim.max_missions_per_session} missions, the most one "
                "session may; reload the page to start a new session.",
                "mission_limit",
            )
            return
        if not s.ready:
            self.refuse(s, msg, "The drive is starting; say that again in a moment.", "starting")
            return
        state = hub.sim.sim
        try:
            command = parse(msg.text)
            ego = missions.EgoView.of(state, s.slot, hub.params)
            request = missions.resolve(command, ego)
        except missions.AlreadyDone as exc:
            self.reply(s, True, msg.text, str(exc), source=msg.source, changed=False)
            return
        except (ParseError, missions.CommandRefused) as exc:
            self.refuse(s, msg, str(exc), "refused")
            return
        try:
            missions.apply(state, s.slot, hub.params, request)
        except missions.CommandRefused as exc:
            self.refuse(s, msg, str(exc), "refused")
            return
        book.end_mission(s, "cancelled" if command.action == "cancel" else "replaced")
        parsed = command.to_dict()
        rec = book.start_mission(s, request, msg.source, hub.tick, msg.text, parsed)
        reply = f"OK: {rec.mission['text']}."
        if request.kind == "exit":
            ahead = missions.EgoView.of(state, s.slot, hub.params).exit_ahead_m
            rec.mission["exit_ahead_m"] = round(ahead, 1)
            reply = f"OK: {rec.mission['text']} (exit zone starts in {ahead:.0f} m)."
        self.reply(
            s,
            True,
            msg.text,
            reply,
            source=msg.source,
            changed=True,
            mission=rec.mission,
            parsed=parsed,
        )

    def on_model(self, s: Session, report: protocol.ModelReport) -> None:
        entry = self.hub.store.current.models.get(report.name)
        if entry is None or entry.sha256 != report.sha256:
            raise protocol.ProtocolError(
                "unknown_model", f"{report.name!r} with that hash is not in the current registry"
            )
        s.model = entry
        if s.mission is not None:
            s.mission.models_used.add(entry.name)
            s.mission.model_name = entry.name
            s.mission.model_identity = entry.identity
