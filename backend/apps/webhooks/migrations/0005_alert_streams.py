"""Watched alert streams for MISS detection, filled from the last 8 days of alerts, so a candle
never scans the Webhook history; and an index that lets a candle read only open positions."""

from typing import Any

import django.db.models.deletion
from django.utils import timezone
from django.conf import settings
from django.db import migrations, models


def streams_fill(apps: Any, schema_editor: Any) -> None:
    from apps.webhooks.engine.misses import streams_fill as fill

    fill(
        webhooks=apps.get_model("webhooks", "Webhook"),
        streams=apps.get_model("webhooks", "AlertStream"),
        stream_bars=apps.get_model("webhooks", "AlertStreamBar"),
        now=timezone.now(),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("brokers", "0001_initial"),
        ("webhooks", "0004_one_open_position_per_mark"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AlertStream",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "key",
                    models.CharField(help_text="user:broker:symbol key:interval seconds", max_length=100, unique=True),
                ),
                ("symbol_key", models.CharField(help_text="BTCUSDT for BTC/USDT, BINANCE:BTCUSDT …", max_length=40)),
                (
                    "symbol",
                    models.CharField(help_text="as its latest alert spelled it (its MISSes say so too)", max_length=40),
                ),
                ("interval", models.CharField(help_text="as its latest alert spelled it", max_length=10)),
                ("interval_seconds", models.PositiveIntegerField()),
                (
                    "judged",
                    models.DateTimeField(
                        help_text="every bar up to this one (its open) is answered or recorded missed"
                    ),
                ),
                ("last_bar", models.DateTimeField(help_text="the latest bar an alert answered, at or before `judged`")),
                (
                    "due_at",
                    models.DateTimeField(
                        blank=True, help_text="heartbeat clock of the next verdict; empty: asleep", null=True
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="AlertStreamBar",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("stream_key", models.CharField(max_length=100)),
                ("symbol_key", models.CharField(db_index=True, max_length=40)),
                ("bar", models.DateTimeField()),
                (
                    "missed",
                    models.BooleanField(default=False, help_text="a MISS already recorded for it (kept from before)"),
                ),
                ("symbol", models.CharField(max_length=40)),
                ("interval", models.CharField(max_length=10)),
            ],
        ),
        migrations.AddIndex(
            model_name="webhookstate",
            index=models.Index(fields=["status", "symbol"], name="position_status_symbol"),
        ),
        migrations.AddField(
            model_name="alertstream",
            name="broker",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="brokers.broker",
            ),
        ),
        migrations.AddField(
            model_name="alertstream",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddConstraint(
            model_name="alertstreambar",
            constraint=models.UniqueConstraint(fields=("stream_key", "bar", "missed"), name="alert_stream_bar_once"),
        ),
        migrations.AddIndex(
            model_name="alertstream",
            index=models.Index(fields=["symbol_key", "due_at"], name="alert_stream_due"),
        ),
        migrations.RunPython(streams_fill, migrations.RunPython.noop),
    ]
