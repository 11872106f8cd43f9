"""The Update modal: the button that opens it, the form, "Saving…", and the answer (what changed, or why not).

A submission is acknowledged with "Saving…" at once and the answer replaces it (views.update)
when the CRM has answered: Slack waits only 3 seconds for a modal's acknowledgement, and a CRM
write, its read-back and the gap scan may take longer. A refusal therefore comes back as the form
again, with what was typed kept and each error beside its field (Slack's own field errors can
only answer the acknowledgement itself, which carries the checks coachbot makes before writing).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.format import clip, escape
from bot.coaching.writeback import GENERAL, LABELS, DealForm, WriteOutcome, shown
from bot.slack_ids import DEAL_UPDATE, DEAL_UPDATE_BLOCKS, DEAL_UPDATE_VIEW

UPDATE_LABEL = "Update…"
MAX_OPTIONS = 100  # a static select's limit
HINTS = {
    "next_step": "What happens next, and who does it.",
    "next_step_date": "When the next step happens.",
    "close_date": "When the deal is expected to close.",
    "amount": "The deal's value, a number.",
}


def update_button(deal_id: int, label: str = UPDATE_LABEL) -> ButtonElement:
    """The "Update…" button for a gap or a deal (App Home, /myperf, nudges): opens the modal for the deal."""
    return ButtonElement(text=clip(label, 75), action_id=DEAL_UPDATE, value=str(deal_id))


def update_modal(
    form: DealForm, *, typed: Mapping[str, str | None] | None = None, errors: Mapping[str, str] | None = None
) -> View:
    """The form, pre-filled from the deal (or with what was typed, after a refusal), errors beside their fields."""
    errors = errors or {}
    blocks: list[Block] = [_heading(form)]
    if form.read_only is not None:
        return _read_only(form, blocks)
    if general := errors.get(GENERAL):
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f":warning: {escape(clip(general, 2900))}")))
    for name in form.fields:
        value = typed[name] if typed is not None and name in typed else _text(form.current.get(name))
        blocks.append(_input(form, name, value))
        if name in errors:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f":x: {escape(clip(errors[name], 2900))}")]))
    return View(
        type="modal", callback_id=DEAL_UPDATE_VIEW, title=PlainTextObject(text="Update the deal"), submit="Save to CRM",
        close="Cancel", blocks=blocks, private_metadata=json.dumps({"deal_id": form.deal_id}),
    )  # fmt: skip


def saving_view(deal_name: str) -> View:
    return View(
        type="modal",
        callback_id=DEAL_UPDATE_VIEW,
        title=PlainTextObject(text="Update the deal"),
        close="Close",
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(text=f":hourglass_flowing_sand: Saving *{escape(clip(deal_name, 80))}* to the CRM…")
            )
        ],
    )


def outcome_view(result: WriteOutcome) -> View:
    """What changed (field: before → after) and which gaps closed or remain."""
    name = escape(clip(result.deal_name, 80))
    title = f"<{result.crm_url}|{name}>" if result.crm_url else f"*{name}*"
    lines = [f":white_check_mark: Saved {title} to the CRM."]
    if result.changed:
        lines.append("*Changed*\n" + "\n".join(f"• {label}: {escape(old)} → {escape(new)}" for label, old, new in result.changed))
    if result.closed_gaps:
        lines.append("*Gaps closed*\n" + "\n".join(f"• {escape(clip(gap, 200))}" for gap in result.closed_gaps[:10]))
    if result.still_open:
        lines.append("*Still open*\n" + "\n".join(f"• {escape(clip(gap, 200))}" for gap in result.still_open[:10]))
    elif not result.note:
        lines.append("No gaps left on this deal. :tada:")
    if result.note:
        lines.append(f"_{escape(result.note)}_")
    return View(
        type="modal",
        callback_id=DEAL_UPDATE_VIEW,
        title=PlainTextObject(text="Deal updated"),
        close="Done",
        blocks=[SectionBlock(text=MarkdownTextObject(text=clip("\n\n".join(lines), 3000)))],
    )


def outcome_text(result: WriteOutcome) -> str:
    """The outcome in plain words (the demo prints it)."""
    parts = [f"Saved {result.deal_name} to the CRM."]
    parts += [f"{label}: {old} → {new}" for label, old, new in result.changed]
    parts += [f"Gap closed: {gap}" for gap in result.closed_gaps]
    parts += [f"Still open: {gap}" for gap in result.still_open]
    return "\n".join(parts)


def read_submission(view: Mapping[str, Any]) -> tuple[int, dict[str, str | None]]:
    """(deal id, field -> what was typed or picked) from a submitted Update modal."""
    state = view.get("state", {}).get("values", {})
    typed: dict[str, str | None] = {}
    for name, (block_id, action_id) in DEAL_UPDATE_BLOCKS.items():
        element = state.get(block_id, {}).get(action_id)
        if element is None:
            continue
        if "selected_date" in element or element.get("type") == "datepicker":
            typed[name] = element.get("selected_date")
        elif "selected_option" in element or element.get("type") == "static_select":
            typed[name] = (element.get("selected_option") or {}).get("value")
        else:
            typed[name] = element.get("value")
    return int(json.loads(view.get("private_metadata") or "{}").get("deal_id", 0)), typed


def error_blocks(errors: Mapping[str, str]) -> dict[str, str]:
    """Errors keyed by the modal's block ids, for ack(response_action="errors"); the form-wide one on the first field."""
    blocks = {DEAL_UPDATE_BLOCKS[name][0]: text for name, text in errors.items() if name in DEAL_UPDATE_BLOCKS}
    if GENERAL in errors:
        first = next(iter(DEAL_UPDATE_BLOCKS.values()))[0]
        blocks.setdefault(first, errors[GENERAL])
    return {block: clip(text, 150) for block, text in blocks.items()}


def _heading(form: DealForm) -> SectionBlock:
    whose = f" ({escape(form.owner_name)}'s)" if form.owner_name else ""
    text = f"*{escape(clip(form.deal_name, 120))}*{whose}"
    if form.open_gaps:
        text += "\nOpen gaps: " + "; ".join(escape(clip(gap, 120)) for gap in form.open_gaps[:5])
    return SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))


def _read_only(form: DealForm, blocks: list[Block]) -> View:
    carried = "\n".join(f"• {LABELS[name]}: {escape(shown(name, form.current.get(name), form.currency))}" for name in form.fields)
    blocks.append(SectionBlock(text=MarkdownTextObject(text=f":lock: {escape(form.read_only or '')}")))
    blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(f"*What this form would let you change*\n{carried}", 3000))))
    return View(
        type="modal", callback_id=DEAL_UPDATE_VIEW, title=PlainTextObject(text="Update the deal"), close="Close",
        blocks=blocks, private_metadata=json.dumps({"deal_id": form.deal_id}),
    )  # fmt: skip


def _input(form: DealForm, name: str, value: str | None) -> InputBlock:
    block_id, action_id = DEAL_UPDATE_BLOCKS[name]
    element: Any
    if name in ("next_step_date", "close_date"):
        element = DatePickerElement(action_id=action_id, initial_date=value or None)
    elif name == "stage":
        options = [Option(value=stage[:150], label=clip(stage, 75)) for stage in form.stages[:MAX_OPTIONS]]
        chosen = next((option for option in options if option.value == value), None)
        element = StaticSelectElement(action_id=action_id, options=options, initial_option=chosen)
    else:
        element = PlainTextInputElement(action_id=action_id, initial_value=value or None, max_length=255)
    return InputBlock(block_id=block_id, label=LABELS[name], element=element, optional=True, hint=HINTS.get(name))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return format(value, "f") if hasattr(value, "quantize") else str(value)
