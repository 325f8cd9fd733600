"""A class on one server: who is who (identity), the teacher's limits (rules), the class's own drawings
(class_set), the leaderboard and the join address.
"""

from core.classroom.class_set import ClassDigits, ClassDigitsFull, ClassSet, with_class_digits
from core.classroom.identity import (
    TEACHER_KEY_VARIABLE,
    PassphraseGuard,
    check_student_name,
    is_teacher_key,
    teacher_key_set,
)
from core.classroom.join import join_url
from core.classroom.leaderboard import LeaderboardRow, leaderboard
from core.classroom.rules import (
    MAX_RUN_MINUTES_VARIABLE,
    RULES_FILE,
    ClassRules,
    check_duration,
    check_run,
    clear_class_models,
    load_rules,
    longest_run_minutes,
    save_rules,
    server_run_minutes,
)

__all__ = [
    "MAX_RUN_MINUTES_VARIABLE", "RULES_FILE", "TEACHER_KEY_VARIABLE", "ClassDigits", "ClassDigitsFull", "ClassRules",
    "ClassSet", "LeaderboardRow", "PassphraseGuard", "check_duration", "check_run", "check_student_name",
    "clear_class_models", "is_teacher_key", "join_url", "leaderboard", "load_rules", "longest_run_minutes",
    "save_rules", "server_run_minutes", "teacher_key_set", "with_class_digits",
]
