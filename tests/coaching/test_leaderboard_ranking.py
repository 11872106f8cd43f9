"""The leaderboard's ranking rule, on plain values: places per measure, their average, tie-breaks, no data."""

from __future__ import annotations

from bot.coaching.leaderboard import RepDiscipline, rank_reps


def rep(person_id: int, name: str, adherence: float | None, hours: float | None, moved: float | None) -> RepDiscipline:
    return RepDiscipline(
        person_id=person_id, name=name, adherence=adherence, median_hours_to_fix=hours, gaps_fixed=0 if hours is None else 2,
        goals_moved=moved,
    )  # fmt: skip


def table(reps: list[RepDiscipline]) -> list[tuple[str, int | None, bool, float | None]]:
    return [(s.rep.name, s.rank, s.tied, None if s.score is None else round(s.score, 3)) for s in rank_reps(reps)]


def test_reps_rank_by_the_average_of_their_places_and_equal_scores_split_by_adherence() -> None:
    reps = [
        rep(1, "Ava", 0.9, 5, 0.10),  # places 1 (shared), 2, 2: 1.667
        rep(2, "Ben", 0.8, 2, 0.30),  # places 3, 1, 1: 1.667, less adherent than Ava
        rep(3, "Cat", 0.9, None, None),  # adherence only, shared first place: 1.0
        rep(4, "Dan", None, None, None),  # nothing to rank
        rep(5, "Eve", 0.5, 10, 0.0),  # places 4, 3, 3: 3.333
    ]
    assert table(reps) == [
        ("Cat", 1, False, 1.0),
        ("Ava", 2, False, 1.667),
        ("Ben", 3, False, 1.667),
        ("Eve", 4, False, 3.333),
        ("Dan", None, False, None),
    ]


def test_reps_equal_on_every_measure_share_a_rank_and_the_next_rank_skips() -> None:
    reps = [rep(1, "Zoe", 0.75, 3, 0.2), rep(2, "Abe", 0.75, 3, 0.2), rep(3, "Kim", 0.5, 3, 0.2)]
    assert table(reps) == [("Abe", 1, True, 1.0), ("Zoe", 1, True, 1.0), ("Kim", 3, False, 1.667)]


def test_measures_are_compared_as_the_board_shows_them_whole_percents_hours_and_points() -> None:
    # 90.4% and 89.6% both read 90%; 5.2h and 4.9h both 5h; 10.2 and 9.8 points both +10.
    reps = [rep(1, "One", 0.904, 5.2, 0.102), rep(2, "Two", 0.896, 4.9, 0.098)]
    assert table(reps) == [("One", 1, True, 1.0), ("Two", 1, True, 1.0)]


def test_a_missing_measure_neither_helps_nor_hurts_and_a_rep_with_none_is_not_ranked() -> None:
    reps = [rep(1, "Fixer", None, 1, None), rep(2, "Slow", None, 30, None), rep(3, "New", None, None, None)]
    assert table(reps) == [("Fixer", 1, False, 1.0), ("Slow", 2, False, 2.0), ("New", None, False, None)]


def test_nobody_with_data_leaves_everyone_unranked_by_name() -> None:
    assert table([rep(2, "Bea", None, None, None), rep(1, "Al", None, None, None)]) == [
        ("Al", None, False, None),
        ("Bea", None, False, None),
    ]


def test_equal_scores_and_adherence_go_to_the_faster_fix_then_the_more_goal_progress() -> None:
    # Places: adherence all 1; hours Fast 1, Slow 2, Also 2; goals Fast 3, Slow 1, Also 2. Scores 5/3, 4/3, 5/3.
    reps = [rep(1, "Fast", 0.8, 2, 0.0), rep(2, "Slow", 0.8, 9, 0.5), rep(3, "Also", 0.8, 9, 0.3)]
    assert table(reps) == [("Slow", 1, False, 1.333), ("Fast", 2, False, 1.667), ("Also", 3, False, 1.667)]
    # Fast and Also have equal scores and adherence: the faster fix ranks first.
    same_fix = [rep(1, "More", 0.8, 9, 0.5), rep(2, "Less", 0.8, 9, 0.3), rep(3, "Mid", 0.8, 5, 0.4)]
    # Places: hours Mid 1, More 2, Less 2; goals More 1, Mid 2, Less 3. Scores More 4/3, Mid 4/3, Less 2: More's
    # score equals Mid's and so does adherence; Mid fixes faster.
    assert table(same_fix) == [("Mid", 1, False, 1.333), ("More", 2, False, 1.333), ("Less", 3, False, 2.0)]
    # Equal on score, adherence and fix, one with goals and one without: the goal progress decides.
    assert table([rep(1, "Nogoal", 0.8, 9, None), rep(2, "Goal", 0.8, 9, 0.0)]) == [
        ("Goal", 1, False, 1.0),
        ("Nogoal", 2, False, 1.0),
    ]
