"""core.classroom: the teacher's passphrase, students' names, the class rules, clearing the class, the leaderboard."""

from __future__ import annotations

import dataclasses
import json

import pytest

from core import classroom
from core.classroom.leaderboard import LeaderboardRow
from core.classroom.rules import ClassRules
from core.evaluation.metrics import drawn_accuracy
from core.model.config import preset
from core.model.store import ModelStore
from core.training.job import train_and_save


def test_the_passphrase_unlocks_only_when_it_matches(teacher_key):
    assert classroom.teacher_key_set()
    assert classroom.is_teacher_key(teacher_key)
    assert not classroom.is_teacher_key("owl-41")
    assert not classroom.is_teacher_key("")


def test_each_wrong_guess_doubles_the_wait_per_session_and_per_address_and_a_right_one_clears_it(teacher_key):
    now = [1000.0]
    guard = classroom.PassphraseGuard(clock=lambda: now[0])
    waits = []
    for _ in range(9):
        unlocked, message = guard.check("owl-41", "tab-1", "10.0.0.7")
        assert not unlocked
        waits.append(float(message.rsplit("try again in ", 1)[1].removesuffix(" s.")))
        now[0] += waits[-1]  # the next guess as soon as it may be made
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]  # capped at MAX_GUESS_DELAY_SECONDS

    now[0] -= 1  # 59 s after the last wrong guess
    assert guard.check(teacher_key, "tab-1", "10.0.0.7") == (False, "Too many wrong passphrases from here: wait 1 s, "
                                                                    "then try again.")  # even the right one, unread
    assert not guard.check(teacher_key, "tab-2", "10.0.0.7")[0]  # a new tab at that address waits too
    assert not guard.check(teacher_key, "tab-1", "10.0.0.8")[0]  # and that tab from another address
    assert guard.check(teacher_key, "tab-3", "10.0.0.8") == (True, "")  # anyone else is not held up
    now[0] += 1
    assert guard.check(teacher_key, "tab-1", "10.0.0.7") == (True, "")
    assert guard.check("owl-41", "tab-1", "10.0.0.7")[1].endswith("try again in 1 s.")  # cleared: from 1 s again


def test_the_passphrase_is_compared_as_digests_of_any_length(teacher_key):
    assert classroom.is_teacher_key(teacher_key)
    for guess in ("owl-4", "owl-421", teacher_key * 1000, "\udcff", "o"):
        assert not classroom.is_teacher_key(guess)


def test_without_a_key_nothing_unlocks(monkeypatch):
    monkeypatch.delenv(classroom.TEACHER_KEY_VARIABLE, raising=False)
    assert not classroom.teacher_key_set()
    assert not classroom.is_teacher_key("")


@pytest.mark.parametrize("text, name", [("  Ada ", "Ada"), ("", ""), ("Jean-Luc O'Neil", "Jean-Luc O'Neil")])
def test_student_names_are_stripped(text, name):
    assert classroom.check_student_name(text) == name


@pytest.mark.parametrize("text", ["<script>", "-ada", "x" * 33])
def test_unusable_student_names_are_refused(text):
    with pytest.raises(ValueError, match="not a usable name"):
        classroom.check_student_name(text)


def test_rules_refuse_too_many_epochs_naming_the_limit():
    with pytest.raises(ValueError, match="epochs is 12, above the class limit of 10"):
        ClassRules(max_epochs=10).check(preset("lecture").replace(epochs=12))
    ClassRules(max_epochs=10).check(preset("lecture").replace(epochs=10))


def test_rules_refuse_a_network_outside_the_allowed_presets():
    rules = ClassRules(allowed_presets=("lecture", "quick-cnn"))
    rules.check(preset("lecture").replace(learning_rate=0.1, epochs=3))  # training settings may change
    rules.check(preset("quick-cnn"))
    rules.check(preset("cnn"))  # the same network as quick-cnn, trained longer
    with pytest.raises(ValueError, match="mlp 784-256-128-10 is not allowed.*lecture, quick-cnn"):
        rules.check(preset("wide-mlp"))


@pytest.mark.parametrize("values, match", [({"allowed_presets": ("huge",)}, "unknown preset"),
                                           ({"max_epochs": 0}, "max_epochs"), ({"max_epochs": 2.5}, "max_epochs"),
                                           ({"max_minutes": 0}, "max_minutes")])
def test_bad_rules_are_refused(values, match):
    with pytest.raises(ValueError, match=match):
        ClassRules(**values)


def test_rules_round_trip_beside_the_models(private_models_dir):
    assert classroom.load_rules() == ClassRules()  # none saved: no limits
    rules = ClassRules(("lecture",), 10)
    classroom.save_rules(rules)
    assert classroom.load_rules() == rules
    assert sorted(path.name for path in private_models_dir.iterdir()) == [classroom.RULES_FILE]  # no temp file left
    assert ModelStore().list().models == []  # the rules file is not a model


@pytest.mark.parametrize("text", [json.dumps({"allowed_presets": ["lecture"]}), "[" * 100_000 + "]" * 100_000],
                         ids=["a field missing", "nested too deep"])
def test_a_damaged_rules_file_is_named(private_models_dir, text):
    private_models_dir.mkdir()
    (private_models_dir / classroom.RULES_FILE).write_text(text)
    with pytest.raises(ValueError, match=f"{classroom.RULES_FILE} are damaged"):
        classroom.load_rules()


def test_runs_are_checked_only_in_a_class(monkeypatch, private_models_dir):
    classroom.save_rules(ClassRules(max_epochs=2))
    long_run = preset("lecture").replace(epochs=5)
    monkeypatch.delenv(classroom.TEACHER_KEY_VARIABLE, raising=False)
    classroom.check_run(long_run)  # a single-user app: no limits
    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "owl-42")
    with pytest.raises(ValueError, match="class limit of 2"):
        classroom.check_run(long_run)


def test_a_run_may_take_the_teachers_minutes_else_the_servers(monkeypatch, private_models_dir):
    monkeypatch.delenv(classroom.MAX_RUN_MINUTES_VARIABLE, raising=False)
    monkeypatch.delenv(classroom.TEACHER_KEY_VARIABLE, raising=False)
    assert classroom.longest_run_minutes() == 30  # no teacher, no variable: the server's default
    classroom.check_duration(30 * 60, "about 30 min here")
    with pytest.raises(ValueError, match="would take about 31 min here, longer than the 30 min .*MNIST_MAX_RUN_MINUTES"):
        classroom.check_duration(31 * 60, "about 31 min here")
    monkeypatch.setenv(classroom.MAX_RUN_MINUTES_VARIABLE, "0")
    assert classroom.longest_run_minutes() is None  # 0: no limit
    classroom.check_duration(20 * 3600, "about 20.0 h here")
    monkeypatch.setenv(classroom.MAX_RUN_MINUTES_VARIABLE, "ten")
    with pytest.raises(ValueError, match="MNIST_MAX_RUN_MINUTES='ten' is not a whole number"):
        classroom.longest_run_minutes()
    monkeypatch.setenv(classroom.MAX_RUN_MINUTES_VARIABLE, "45")
    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "owl-42")
    classroom.save_rules(ClassRules(("lecture",), None, 5))
    assert classroom.load_rules().max_minutes == 5 and classroom.longest_run_minutes() == 5  # the teacher's word
    with pytest.raises(ValueError, match="longer than the 5 min a run may take here .the teacher's class rules"):
        classroom.check_duration(6 * 60, "about 6 min here")
    (private_models_dir / classroom.RULES_FILE).write_text(json.dumps({"allowed_presets": [], "max_epochs": None}))
    assert classroom.load_rules() == ClassRules() and classroom.longest_run_minutes() == 45  # an older file


def test_a_trained_model_is_saved_with_its_owner_and_its_drawn_accuracy(tiny_data):
    store = ModelStore()
    seen, results = [], []
    train_and_save(preset("lecture").replace(epochs=1), tiny_data, store, "lecture", publish=seen.append,
                   should_stop=lambda: False, on_result=results.append, owner="Ada")
    assert seen[-1].saved_as == "lecture"
    info = store.info("lecture")
    assert info.owner == "Ada"
    assert info.drawn_accuracy == drawn_accuracy(results[0].model, tiny_data)


def test_clearing_the_class_keeps_the_teachers_models(tiny_result):
    store = ModelStore()
    store.save("teacher", tiny_result)
    store.save("ada-1", tiny_result, owner="Ada")
    store.save("bob-1", tiny_result, owner="Bob")
    assert sorted(classroom.clear_class_models(store)) == ["ada-1", "bob-1"]
    assert [info.name for info in store.list().models] == ["teacher"]


def test_the_leaderboard_ranks_each_students_best_model_on_test_and_on_drawn_digits(tiny_result):
    store = ModelStore()
    for name, owner, test, drawn in [("ada-1", "Ada", 0.90, 0.93), ("ada-2", "Ada", 0.97, 0.80),
                                     ("bob-1", "Bob", 0.95, 0.91), ("cy-1", "Cy", 0.96, None),
                                     ("teacher", "", 0.99, 0.99)]:
        store.save(name, dataclasses.replace(tiny_result, test_accuracy=test), owner=owner, drawn_accuracy=drawn)
    models = store.list().models
    assert classroom.leaderboard(models) == classroom.leaderboard(models, "test") == [
        LeaderboardRow("Ada", "ada-2", 0.97, 2), LeaderboardRow("Cy", "cy-1", 0.96, 1),
        LeaderboardRow("Bob", "bob-1", 0.95, 1),
    ]
    assert classroom.leaderboard(models, "drawn") == [  # Cy's model was never measured on drawn digits
        LeaderboardRow("Ada", "ada-1", 0.93, 2), LeaderboardRow("Bob", "bob-1", 0.91, 1),
    ]
    with pytest.raises(ValueError, match="by must be 'test' or 'drawn'"):
        classroom.leaderboard(models, "train")


def test_the_join_url_names_the_address_and_port():
    assert classroom.join_url(8501, "192.168.1.20") == "http://192.168.1.20:8501/"
    assert classroom.join_url(8502).endswith(":8502/")
