"""Every Slack identifier coachbot registers, defined once (the manifest test reads these)."""

MYPERF_COMMAND = "/myperf"
TEAMPERF_COMMAND = "/teamperf"
COACH_COMMAND = "/coach"

# Events.
APP_HOME_OPENED = "app_home_opened"
USER_CHANGE = "user_change"  # a profile changed: time zone, email, deactivation
TEAM_JOIN = "team_join"  # someone joined the workspace: linked by email if in the org

# The /coach modal (assign an action or set a goal).
COACH_VIEW = "coach_view"
COACH_KIND_BLOCK, COACH_KIND_INPUT = "coach_kind", "coach_kind_input"
COACH_PERSON_BLOCK, COACH_PERSON_INPUT = "coach_person", "coach_person_input"
COACH_TEXT_BLOCK, COACH_TEXT_INPUT = "coach_text", "coach_text_input"
COACH_DUE_BLOCK, COACH_DUE_INPUT = "coach_due", "coach_due_input"
COACH_LINK_BLOCK, COACH_LINK_INPUT = "coach_link", "coach_link_input"
COACH_MEASURE_BLOCK, COACH_MEASURE_INPUT = "coach_measure", "coach_measure_input"
COACH_MEASURED_ON_BLOCK, COACH_MEASURED_ON_INPUT = "coach_measured_on", "coach_measured_on_input"
COACH_TARGET_BLOCK, COACH_TARGET_INPUT = "coach_target", "coach_target_input"

# Each person's own controls: a button on the App Home, a menu on every nudge, and their modal.
PREFS_OPEN = "prefs_open"
NUDGE_MENU = "nudge_menu"
PREFS_VIEW = "prefs_view"
PREFS_TIME_BLOCK, PREFS_TIME_INPUT = "prefs_time", "prefs_time_input"
PREFS_PAUSE_BLOCK, PREFS_PAUSE_INPUT = "prefs_pause", "prefs_pause_input"
PREFS_DIGEST_BLOCK, PREFS_DIGEST_INPUT = "prefs_digest", "prefs_digest_input"

# Buttons on the morning nudge.
NUDGE_OPEN_CRM = "nudge_open_crm"  # a link button; the suffix makes each one unique in a message
NUDGE_GAP_SNOOZE = "nudge_gap_snooze"

# Coaching messages: the value of each button is the id of the row it acts on.
ACTION_DONE = "coaching_action_done"  # on an assigned action and on a nudge item
ACTION_BUTTONS_BLOCK = "coaching_action_buttons"
PLAN_OPEN = "coaching_plan_open"
PLAN_NOT_NOW = "coaching_plan_not_now"
PLAN_PROPOSAL_BUTTONS_BLOCK = "coaching_plan_proposal_buttons"
CHECKIN_ON_TRACK = "coaching_checkin_on_track"
CHECKIN_AT_RISK = "coaching_checkin_at_risk"
CHECKIN_NEED_HELP = "coaching_checkin_need_help"
CHECKIN_BUTTONS_BLOCK = "coaching_checkin_buttons"
CHECKIN_ANSWERS = {CHECKIN_ON_TRACK: "on_track", CHECKIN_AT_RISK: "at_risk", CHECKIN_NEED_HELP: "need_help"}

# The 1:1 agenda (`/coach 1on1 @rep`): its buttons carry the rep's id. ONE_ON_ONE_OPEN sits beside
# each rep in other messages (the digest); several in one block need distinct ids, so it may carry a
# suffix (":<rep id>") and its listener matches the prefix.
ONE_ON_ONE_OPEN = "one_on_one_open"
ONE_ON_ONE_SEND = "one_on_one_send"
ONE_ON_ONE_HELD = "one_on_one_held"
ONE_ON_ONE_BUTTONS_BLOCK = "one_on_one_buttons"

# The recovery-plan modal.
PLAN_OPEN_VIEW = "coaching_plan_open_view"
PLAN_COMMITMENTS_BLOCK = "coaching_plan_commitments"
PLAN_COMMITMENTS_INPUT = "coaching_plan_commitments_input"
PLAN_CADENCE_BLOCK = "coaching_plan_cadence"
PLAN_CADENCE_INPUT = "coaching_plan_cadence_input"

# CRM write-back: "Update…" on a gap (App Home, /myperf, nudges) opens the modal; its value is the deal id.
DEAL_UPDATE = "deal_update"
DEAL_UPDATE_VIEW = "deal_update_view"
DEAL_UPDATE_FIELDS = ("next_step", "next_step_date", "close_date", "stage", "amount", "product_line", "product_name")
# Each field's (block_id, action_id) in the modal.
DEAL_UPDATE_BLOCKS = {name: (f"deal_update_{name}", f"deal_update_{name}_input") for name in DEAL_UPDATE_FIELDS}

# Every button action_id a message can carry, and every modal callback_id: each has a listener.
ACTION_IDS = (
    ACTION_DONE, NUDGE_GAP_SNOOZE, PLAN_OPEN, PLAN_NOT_NOW, *CHECKIN_ANSWERS, PREFS_OPEN, NUDGE_MENU,
    ONE_ON_ONE_OPEN, ONE_ON_ONE_SEND, ONE_ON_ONE_HELD, DEAL_UPDATE,
)  # fmt: skip
VIEW_CALLBACK_IDS = (PLAN_OPEN_VIEW, COACH_VIEW, PREFS_VIEW, DEAL_UPDATE_VIEW)

# Slash commands, in the order the manifest lists them.
COMMANDS = (MYPERF_COMMAND, TEAMPERF_COMMAND, COACH_COMMAND)
EVENTS = (APP_HOME_OPENED, USER_CHANGE, TEAM_JOIN)
