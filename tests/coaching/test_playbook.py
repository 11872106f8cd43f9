import pytest

from bot.coaching.playbook import PlaybookError, load_playbook, parse_playbook


def test_the_default_playbook_knows_common_crm_stage_names() -> None:
    playbook = load_playbook()
    assert playbook.stage("closedwon").name == "Closed Won"  # type: ignore[union-attr]
    assert playbook.stage(" WON ").won  # type: ignore[union-attr]
    assert playbook.stage("Engaging").name == "Qualification"  # type: ignore[union-attr]
    assert playbook.stage("Legal review") is None


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ("{name: Won, probability: 1, closed: true, won: 'false'}", "`won` must be true or false, not 'false'"),
        ("{name: Won, probability: 1, aliases: closedwon}", "`aliases` must be a list, like [closedwon, Won]"),
        ("{name: Demo, probability: 40}", "`probability` must be a number from 0 to 1"),
        ("{name: Demo, probability: 0.4, max_days: 0}", "`max_days` must be a whole number of days, 1 or more"),
        ("{probability: 0.4}", "stage 1: needs a `name`"),
    ],
)
def test_a_playbook_value_that_would_silently_change_results_is_refused(stage: str, message: str) -> None:
    with pytest.raises(PlaybookError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_playbook(f"stages:\n  - {stage}\n", "team.yml")


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(PlaybookError, match="team.yml line 3: not valid YAML"):
        parse_playbook("stages:\n  - name: Demo\n\tprobability: 0.4\n", "team.yml")
