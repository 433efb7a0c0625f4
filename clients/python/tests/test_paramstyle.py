"""pyformat → the engine's placeholders: values always travel apart from the SQL."""

import pytest

from berth.dbapi import ProgrammingError
from berth.dbapi.paramstyle import translate


def test_positional_placeholders_become_numbered_on_postgresql_and_question_marks_on_mysql():
    sql = "SELECT * FROM t WHERE a = %s AND b = %s"
    assert translate(sql, (1, "x"), "postgresql") == ("SELECT * FROM t WHERE a = $1 AND b = $2", [1, "x"])
    assert translate(sql, [1, "x"], "mysql") == ("SELECT * FROM t WHERE a = ? AND b = ?", [1, "x"])
    assert translate(sql, (1, "x"), "sqlserver")[0] == "SELECT * FROM t WHERE a = @p1 AND b = @p2"
    assert translate(sql, (1, "x"), "oracle")[0] == "SELECT * FROM t WHERE a = :1 AND b = :2"


def test_named_placeholders_reuse_their_number_on_postgresql_and_repeat_the_value_on_mysql():
    sql = "SELECT %(a)s, %(b)s, %(a)s"
    assert translate(sql, {"a": 1, "b": 2, "unused": 3}, "postgresql") == ("SELECT $1, $2, $1", [1, 2])
    assert translate(sql, {"a": 1, "b": 2}, "mysql") == ("SELECT ?, ?, ?", [1, 2, 1])


def test_a_value_that_looks_like_sql_is_never_put_into_the_statement():
    evil = "'; DROP TABLE t; --"
    sql, values = translate("SELECT %s", (evil,), "postgresql")
    assert sql == "SELECT $1" and values == [evil]


def test_percent_signs_are_doubled_with_parameters_and_left_alone_without():
    assert translate("SELECT 'a%%' LIKE %s", ("a%",), "postgresql") == ("SELECT 'a%' LIKE $1", ["a%"])
    assert translate("SELECT 'a%' LIKE 'a%%'", None, "postgresql") == ("SELECT 'a%' LIKE 'a%%'", [])
    assert translate("SELECT 100 %% 7", (), "mysql") == ("SELECT 100 % 7", [])


@pytest.mark.parametrize(
    "sql, params, message",
    [
        ("SELECT %s, %s", (1,), "Not enough parameters"),
        ("SELECT %s", (1, 2), "2 parameters given for 1 placeholders"),
        ("SELECT %d", (1,), "Unsupported placeholder '%d'"),
        ("SELECT 50%", (), "Unsupported placeholder '%'"),
        ("SELECT %(a)s", (1,), "need a mapping"),
        ("SELECT %s", {"a": 1}, "Use %(name)s placeholders with a mapping"),
        ("SELECT %(b)s", {"a": 1}, "No parameter named 'b'"),
        ("SELECT %s", "ab", "must be a sequence"),
        ("SELECT %s", 5, "must be a sequence"),
    ],
)
def test_wrong_parameters_are_a_programming_error_with_the_reason(sql, params, message):
    with pytest.raises(ProgrammingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        translate(sql, params, "postgresql")


def test_an_engine_without_known_placeholders_is_refused():
    with pytest.raises(ProgrammingError, match="No placeholder syntax"):
        translate("SELECT %s", (1,), "db2")
