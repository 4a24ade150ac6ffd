"""The engine's hot-path statements, built once per shape instead of once per call.

Building and compiling a queryset costs several times the CPU of running its statement (about
0.3 ms against 0.05 ms on SQLite), and an alert runs a dozen of them. The few statements every
alert runs are made here once per model and shape (and per database connection), with the
ORM's own column names, value adapters (`get_db_prep_save`, `pre_save` for `auto_now`) and
result converters, then run with new values. What comes back are model instances as the ORM
makes them; `row_insert` and `row_save` fire `post_save` as Model.save() does (the live push
listens to it); `rows_update`, like QuerySet.update(), fires nothing.

Conditions are keyword arguments: `name=value` (equal; None is IS NULL), `name__in=(...)`,
`name__not_in=(...)`, with `name` a field name (`broker` or `broker_id` alike).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, CharField, Field, ForeignKey, IntegerField, Model, TextField
from django.db.models.signals import post_save

M = TypeVar("M", bound=Model)

_Converter = Callable[[Any, Any, Any], Any]
_Condition = tuple["Field[Any, Any]", bool]  # a condition's field, and whether it takes a list


def _connection() -> tuple[BaseDatabaseWrapper, dict[Any, Any]]:
    """This thread's connection (looked up once per statement: `django.db.connection` is a proxy
    that looks it up on every attribute) and its statements and converters."""
    connection = connections[DEFAULT_DB_ALIAS]
    cache: dict[Any, Any] | None = connection.__dict__.get("_engine_rows")
    if cache is None:
        cache = connection.__dict__["_engine_rows"] = {}
    return connection, cache


def _quote(connection: BaseDatabaseWrapper, name: str | None) -> str:
    """A table or column name of a model, quoted (no value is ever put in the SQL text)."""
    return connection.ops.quote_name(str(name))


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    assert isinstance(field, Field) and field.concrete, f"{model.__name__}.{name} is not a column"
    return field


def _shape(conditions: dict[str, Any]) -> tuple[Any, ...]:
    """What the SQL of these conditions depends on: names, list lengths, NULLs."""
    return tuple(
        (key, len(value) if key.endswith(("__in", "__not_in")) else value is None) for key, value in conditions.items()
    )


def _where_sql(
    connection: BaseDatabaseWrapper, model: type[Model], conditions: dict[str, Any]
) -> tuple[str, list[_Condition]]:
    """The WHERE clause of conditions of this shape, and the fields that adapt their values."""
    parts: list[str] = []
    fields: list[_Condition] = []
    for key, value in conditions.items():
        name, _, op = key.partition("__")
        field = _field(model, name)
        column = _quote(connection, field.column)
        if op in ("in", "not_in"):
            assert len(value), f"{key}: an empty list"
            marks = ", ".join(["%s"] * len(value))
            parts.append(f"{column} {'NOT IN' if op == 'not_in' else 'IN'} ({marks})")
            fields.append((field, True))
        elif value is None:
            assert not op, key
            parts.append(f"{column} IS NULL")
        else:
            assert not op, f"{key}: only =, __in and __not_in"
            parts.append(f"{column} = %s")
            fields.append((field, False))
    return " AND ".join(parts) or "1 = 1", fields


def _where_params(connection: BaseDatabaseWrapper, fields: list[_Condition], conditions: dict[str, Any]) -> list[Any]:
    params: list[Any] = []
    values = iter(value for value in conditions.values() if value is not None)
    for (field, many), value in zip(fields, values, strict=True):
        if many:
            params += [field.get_db_prep_value(_value(item), connection, prepared=False) for item in value]
        else:
            params.append(field.get_db_prep_value(_value(value), connection, prepared=False))
    return params


# Columns whose adapter hands a str, int or bool back unchanged (CharField.to_python keeps any
# str, IntegerField int(), BooleanField bool()): such values skip the adapter's calls.
_PLAIN_FIELDS = (CharField, TextField, IntegerField, BooleanField, ForeignKey)


def _plain(field: Field[Any, Any]) -> bool:
    return isinstance(field, _PLAIN_FIELDS)


def _prepared(
    connection: BaseDatabaseWrapper, fields: list[tuple[Field[Any, Any], bool]], values: list[Any]
) -> list[Any]:
    """`get_db_prep_save` of each value, skipped for a plain value of a plain column."""
    return [
        value
        if plain and (value is None or isinstance(value, str) or type(value) in (int, bool))
        else field.get_db_prep_save(value, connection)
        for (field, plain), value in zip(fields, values, strict=True)
    ]


def _value(value: Any) -> Any:
    """A related row stands for its id (as in QuerySet.update() and filter())."""
    return value.pk if isinstance(value, Model) else value


def row_insert(obj: Model) -> None:
    """`obj.save()` of a new row: one INSERT … RETURNING its id."""
    model = type(obj)
    connection, cache = _connection()
    sql, fields = _insert_sql(connection, cache, model, 1)
    values = _prepared(connection, fields, [field.pre_save(obj, True) for field, _plain in fields])
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        obj.pk = cursor.fetchone()[0]
    _inserted(obj)


def rows_insert(objs: Sequence[Model]) -> None:
    """`obj.save()` of new rows of one model: one INSERT of them all, all or none."""
    if not objs:
        return
    model = type(objs[0])
    connection, cache = _connection()
    sql, fields = _insert_sql(connection, cache, model, len(objs))
    values = [
        value
        for obj in objs
        for value in _prepared(connection, fields, [f.pre_save(obj, True) for f, _plain in fields])
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        ids = cursor.fetchall()
    # In the order of the VALUES, as Django's bulk_create relies on too.
    for obj, (pk,) in zip(objs, ids, strict=True):
        obj.pk = pk
        _inserted(obj)


def _inserted(obj: Model) -> None:
    obj._state.adding = False
    obj._state.db = DEFAULT_DB_ALIAS
    post_save.send(sender=type(obj), instance=obj, created=True, update_fields=None, raw=False, using=DEFAULT_DB_ALIAS)


def _insert_sql(
    connection: BaseDatabaseWrapper, cache: dict[Any, Any], model: type[Model], count: int
) -> tuple[str, list[tuple[Field[Any, Any], bool]]]:
    """INSERT of `count` rows RETURNING their ids, and the columns (with whether each is plain)."""
    key = ("insert", model, count)
    built = cache.get(key)
    if built is None:
        meta = model._meta
        fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
        assert not any(hasattr(field, "get_placeholder") for field in fields), "a column with its own placeholder"
        columns = ", ".join(_quote(connection, field.column) for field in fields)
        marks = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * count)
        table, pk = _quote(connection, meta.db_table), _quote(connection, meta.pk.column)
        sql = f"INSERT INTO {table} ({columns}) VALUES {marks} RETURNING {pk}"  # noqa: S608
        built = cache[key] = (sql, [(field, _plain(field)) for field in fields])
    return built


def row_save(obj: Model, fields: Sequence[str]) -> None:
    """`obj.save(update_fields=fields)`: one UPDATE of those columns (`auto_now` ones set now)."""
    model = type(obj)
    connection, cache = _connection()
    key = ("save", model, tuple(fields))
    built = cache.get(key)
    if built is None:
        columns = [_field(model, name) for name in fields]
        sets = ", ".join(f"{_quote(connection, field.column)} = %s" for field in columns)
        table, pk = _quote(connection, model._meta.db_table), _quote(connection, model._meta.pk.column)
        sql = f"UPDATE {table} SET {sets} WHERE {pk} = %s"  # noqa: S608
        built = cache[key] = (sql, [(field, _plain(field)) for field in columns])
    sql, targets = built
    values = _prepared(connection, targets, [field.pre_save(obj, False) for field, _plain in targets])
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, obj.pk])
        if cursor.rowcount == 0:
            raise DatabaseError("Save with update_fields did not affect any rows.")
    post_save.send(
        sender=model, instance=obj, created=False, update_fields=frozenset(fields), raw=False, using=DEFAULT_DB_ALIAS
    )


def rows_update(model: type[Model], values: dict[str, Any], **conditions: Any) -> int:
    """`model.objects.filter(**conditions).update(**values)`; how many rows changed."""
    connection, cache = _connection()
    key = ("update", model, tuple(values), _shape(conditions))
    built = cache.get(key)
    if built is None:
        columns = [_field(model, name) for name in values]
        sets = ", ".join(f"{_quote(connection, field.column)} = %s" for field in columns)
        where, condition_fields = _where_sql(connection, model, conditions)
        sql = f"UPDATE {_quote(connection, model._meta.db_table)} SET {sets} WHERE {where}"  # noqa: S608
        built = cache[key] = (sql, [(field, _plain(field)) for field in columns], condition_fields)
    sql, targets, condition_fields = built
    params = _prepared(connection, targets, [_value(value) for value in values.values()])
    params += _where_params(connection, condition_fields, conditions)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def rows_select(
    model: type[M], *, order_by: str = "", limit: int | None = None, for_update: bool = False, **conditions: Any
) -> list[M]:
    """`model.objects.filter(**conditions)` as a list: every column, in `order_by` (a field,
    `-` for descending) order, at most `limit` rows, locked `for_update` where the database can."""
    connection, cache = _connection()
    key = ("select", model, _shape(conditions), order_by, limit, for_update)
    built = cache.get(key)
    if built is None:
        built = cache[key] = _select_build(connection, model, conditions, order_by, limit, for_update)
    sql, condition_fields, converters, names = built
    with connection.cursor() as cursor:
        cursor.execute(sql, _where_params(connection, condition_fields, conditions))
        rows = cursor.fetchall()
    found = []
    for row in rows:
        values = list(row)
        for index, col, steps in converters:
            value = values[index]
            for convert in steps:
                value = convert(value, col, connection)
            values[index] = value
        found.append(model.from_db(DEFAULT_DB_ALIAS, names, values))
    return found


def _select_build(
    connection: BaseDatabaseWrapper,
    model: type[Model],
    conditions: dict[str, Any],
    order_by: str,
    limit: int | None,
    for_update: bool,
) -> tuple[str, list[_Condition], list[tuple[int, Any, list[_Converter]]], list[str]]:
    """A SELECT of every column and the converters the ORM would apply to each."""
    meta = model._meta
    fields = list(meta.concrete_fields)
    columns = ", ".join(_quote(connection, field.column) for field in fields)
    where, condition_fields = _where_sql(connection, model, conditions)
    sql = f"SELECT {columns} FROM {_quote(connection, meta.db_table)} WHERE {where}"  # noqa: S608
    if order_by:
        column = _quote(connection, _field(model, order_by.lstrip("-")).column)
        sql += f" ORDER BY {column}{' DESC' if order_by.startswith('-') else ''}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if for_update and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    converters: list[tuple[int, Any, list[_Converter]]] = []
    for index, field in enumerate(fields):
        col = field.get_col(meta.db_table)
        steps = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if steps:
            converters.append((index, col, steps))
    return sql, condition_fields, converters, [field.attname for field in fields]
