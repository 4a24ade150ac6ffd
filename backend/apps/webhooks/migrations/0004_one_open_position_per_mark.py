"""One open position per broker, symbol and mark: a paper fill gets a paper position of its own
beside a live one instead of landing in it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0003_paper_marks_order_keys_book_warning"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="webhookstate",
            name="one_open_position_per_broker_symbol",
        ),
        migrations.AddConstraint(
            model_name="webhookstate",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "open")),
                fields=("broker", "symbol", "paper"),
                name="one_open_position_per_broker_symbol_mark",
            ),
        ),
    ]
